"""Bulgarian identifiers, checked against hand-computed numbers."""
import datetime

import pytest

from app.core.validators import (
    InvalidValue,
    check_bic,
    check_egn,
    check_eik,
    check_iban,
    check_vat_number,
    egn_birth_date,
)


def test_nine_digit_eik_checksum():
    # 17507475x: weights 1..8 → 1+14+15+0+35+24+49+40 = 178; 178 % 11 = 2.
    assert check_eik("175074752") == "175074752"
    assert check_eik(" 175 074 752 ") == "175074752"
    with pytest.raises(InvalidValue, match="check digit"):
        check_eik("175074753")


def test_nine_digit_eik_second_weights():
    # 20412345x: 1*2+2*0+3*4+4*1+5*2+6*3+7*4+8*5 = 114, 114 % 11 = 4.
    assert check_eik("204123454") == "204123454"


def test_thirteen_digit_eik_checksum():
    # Branch of 175074752 with digits 9–12 = 2,0,0,1:
    # 2*2 + 0*7 + 0*3 + 1*5 = 9, 9 % 11 = 9 → 1750747520019.
    assert check_eik("1750747520019") == "1750747520019"
    with pytest.raises(InvalidValue, match="check digit"):
        check_eik("1750747520018")
    # Digits 9–12 = 2,4,1,0: 4+28+3+0 = 35 % 11 = 2.
    assert check_eik("1750747522412") == "1750747522412"


def test_thirteen_digit_eik_needs_valid_first_nine():
    with pytest.raises(InvalidValue, match="check digit"):
        check_eik("1750747530019")


@pytest.mark.parametrize("value", ["12345678", "1234567890", "17507475A", "12345678901234", ""])
def test_eik_wrong_length_or_characters(value):
    with pytest.raises(InvalidValue, match="9 or 13 digits"):
        check_eik(value)


def test_vat_number():
    assert check_vat_number("bg 175074752") == "BG175074752"
    assert check_vat_number("175074752") == "BG175074752"
    with pytest.raises(InvalidValue):
        check_vat_number("BG175074753")
    with pytest.raises(InvalidValue):
        check_vat_number("DE175074752")


def test_iban_and_bic():
    assert check_iban("BG80 BNBG 9661 1020 3456 78") == "BG80BNBG96611020345678"
    with pytest.raises(InvalidValue, match="IBAN"):
        check_iban("BG81BNBG96611020345678")
    assert check_bic("uncrbgsf") == "UNCRBGSF"
    with pytest.raises(InvalidValue, match="BIC"):
        check_bic("UNCR")


@pytest.mark.parametrize(
    "egn, born",
    [
        # weighted sums 234, 139, 46 → remainders mod 11: 3, 7, 2
        ("7523169263", (1875, 3, 16)),  # month + 20: the 1800s
        ("8012056037", (1980, 12, 5)),
        ("0041010002", (2000, 1, 1)),  # month + 40: the 2000s
    ],
)
def test_egn_valid_in_each_century(egn, born):
    # "Today" a little after the birth, so that each century's encoding is a living person's.
    assert check_egn(egn, today=datetime.date(born[0] + 30, 1, 1)) == egn
    assert egn_birth_date(egn).timetuple()[:3] == born


def test_egn_refusals():
    with pytest.raises(InvalidValue, match="10 digits"):
        check_egn("803205603")
    with pytest.raises(InvalidValue, match="birth date"):
        check_egn("8002300000")  # 30 February
    with pytest.raises(InvalidValue, match="check digit"):
        check_egn("8012056038")


def test_egn_of_someone_not_born_yet_or_long_dead_is_refused():
    """The checksum is right in both; the birth dates are not a living person's."""
    born_2030 = "3041150000"  # 15.01.2030
    assert egn_birth_date(born_2030) == datetime.date(2030, 1, 15)
    with pytest.raises(InvalidValue, match="future"):
        check_egn(born_2030, today=datetime.date(2026, 12, 1))
    assert check_egn(born_2030, today=datetime.date(2030, 1, 15)) == born_2030
    with pytest.raises(InvalidValue, match="120 years"):
        check_egn("7523169263", today=datetime.date(2026, 12, 1))  # born 16.03.1875
