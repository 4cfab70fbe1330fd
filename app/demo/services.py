"""Demo data with Bulgarian names and valid identifiers. Idempotent."""
from stdnum import iban
from stdnum.bg import vat

from app.dealers.models import Dealer
from app.extensions import db
from app.security.services import ensure_operator

DEMO_DEALERS = [
    # name, company, first 8 digits of ЕИК, city address, bank, BIC, bank code + account
    ("Централен офис Младост", "Билинг Нет ЕООД", "20412345", "гр. София, ж.к. Младост 1, бл. 12",
     "УниКредит Булбанк", "UNCRBGSF", "UNCR70001523456789"),
    ("Дилър Люлин", "Люлин Кейбъл ООД", "13145678", "гр. София, ж.к. Люлин 5, бл. 520",
     "Банка ДСК", "STSABGSF", "STSA93000012345678"),
    ("Дилър Надежда", "Надежда Комюникейшънс ЕООД", "20598765", "гр. София, ж.к. Надежда 2, бл. 215",
     "Пощенска банка", "BPBIBGSF", "BPBI79401012345678"),
]

# username, first name, last name, role, dealer (None = head office)
DEMO_OPERATORS = [
    ("m.ivanova", "Мария", "Иванова", "Касиер", None),
    ("g.petrov", "Георги", "Петров", "Техническа поддръжка", None),
    ("s.koleva", "Светла", "Колева", "Мениджър", None),
    ("l.dimitrov", "Любомир", "Димитров", "Администратор на дилър", "Дилър Люлин"),
    ("n.todorova", "Надя", "Тодорова", "Касиер", "Дилър Люлин"),
]


def demo_eik(first8):
    return first8 + str(vat.calc_check_digit_legal(first8))


def demo_iban(bban):
    return "BG" + iban.calc_check_digits("BG00" + bban) + bban


def seed_dealers():
    """Create the demo dealers that do not exist yet; returns how many were created."""
    created = 0
    for name, company, eik8, address, bank, bic, bban in DEMO_DEALERS:
        if db.session.query(Dealer.id).filter_by(name=name).first():
            continue
        eik = demo_eik(eik8)
        db.session.add(
            Dealer(
                name=name,
                company_name=company,
                eik=eik,
                address=address,
                company_address=address,
                phone="02 " + eik[:3] + " " + eik[3:7],
                email=f"office{created + 1}@example.bg",
                mol="Иван Георгиев",
                vat_registered=True,
                vat_number="BG" + eik,
                bank_name=bank,
                bic=bic,
                iban=demo_iban(bban),
            )
        )
        created += 1
    db.session.commit()
    return created


def seed_operators(password):
    """Demo operators of head office and of a dealer; returns the usernames created."""
    created = []
    for username, first_name, last_name, role, dealer_name in DEMO_OPERATORS:
        operator, new_password = ensure_operator(username, password, first_name, last_name, role=role)
        if new_password:
            if dealer_name:
                operator.dealer = db.session.query(Dealer).filter_by(name=dealer_name).one()
                db.session.commit()
            created.append(username)
    return created
