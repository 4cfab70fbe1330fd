"""The interface is Bulgarian, completely: the catalog and the pages."""
import re
from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from tests.conftest import Browser, visible_text
from tests.dealers.test_dealers import create_dealer

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "translations" / "bg" / "LC_MESSAGES" / "messages.po"

# Latin words a Bulgarian user legitimately reads: the product's name, the
# language switch, and identifiers spelt in Latin in Bulgarian too (NAS: the
# access server, as Bulgarian operators call it; FTP and the FREEFTP module, named so in the original too).
# Names the office reads as they are: file formats on the export buttons (CSV, Excel, PDF) among them.
ALLOWED_LATIN = {"English", "LOG", "BIC", "IBAN", "BG", "IP", "NAS", "CSV", "Excel", "PDF", "FTP", "FREEFTP"}
# Brands written so in Bulgarian too: the payment system's name is read as a whole, never as its parts;
# IPv6 likewise ("IPv6 пулове").
ALLOWED_NAMES = ("ePay.bg", "EasyPay", "IPv6")


def _catalog():
    with open(CATALOG, "rb") as handle:
        return read_po(handle, locale="bg")


def test_catalog_entries_all_translated_and_none_fuzzy():
    catalog = _catalog()
    problems = [
        message.id
        for message in catalog
        if message.id and (message.fuzzy or not all(_strings(message)))
    ]
    assert problems == []


def _strings(message):
    return message.string if isinstance(message.string, (tuple, list)) else [message.string]


def test_every_string_in_the_code_is_in_the_catalog(tmp_path):
    """Extract afresh from app/ and Flask-AppBuilder; nothing may be missing."""
    import flask_appbuilder

    pot = tmp_path / "fresh.pot"
    CommandLineInterface().run(
        [
            "pybabel", "-q", "extract",
            "-F", str(ROOT / "translations" / "babel.cfg"),
            "-k", "lazy_gettext", "-k", "_l", "--no-location",
            "-o", str(pot), str(ROOT / "app"), str(Path(flask_appbuilder.__file__).parent),
        ]
    )
    with open(pot, "rb") as handle:
        extracted = {m.id for m in read_po(handle) if m.id}
    translated = {m.id for m in _catalog() if m.id and all(_strings(m)) and not m.fuzzy}
    assert sorted(str(i) for i in extracted - translated) == []


def latin_words(text):
    for name in ALLOWED_NAMES:
        text = text.replace(name, " ")
    words = set(re.findall(r"[A-Za-z][A-Za-z]+", text))
    return {w for w in words if w not in ALLOWED_LATIN}


def test_login_page_is_bulgarian(app):
    page = visible_text(Browser(app).get("/login/").text)
    assert "Вход" in page and "Потребителско име" in page and "Парола" in page
    assert latin_words(page) == set()


def test_dealer_pages_are_bulgarian(app, admin):
    dealer_id = create_dealer(app)
    for url in ("/dealers/list/", "/dealers/add", f"/dealers/show/{dealer_id}", f"/dealers/edit/{dealer_id}", "/log/list/"):
        response = admin.get(url)
        assert response.status_code == 200, url
        page = visible_text(response.text)
        # Data typed by users (bank codes, IBAN) may be Latin; strip the
        # test dealer's own values before looking for leftover English.
        for value in ("UNCRBGSF", "BG80BNBG96611020345678", "BG175074752"):
            page = page.replace(value, "")
        assert latin_words(page) == set(), url
    assert "Дилъри" in visible_text(admin.get("/dealers/list/").text)


def test_english_by_switch(app, admin):
    admin.get("/lang/en")
    page = visible_text(admin.get("/dealers/list/").text)
    assert "Dealers" in page and "Дилъри" not in page


def test_dates_read_dd_mm_yyyy(app, admin):
    import re

    from app.extensions import db
    from tests.conftest import ADMIN_USERNAME

    with app.app_context():
        admin_id = app.appbuilder.sm.find_user(username=ADMIN_USERNAME).id
        db.session.remove()
    # The administrator's last login and creation time, printed by FAB's own page.
    page = visible_text(admin.get(f"/operators/show/{admin_id}").text)

    assert re.search(r"\b\d\d\.\d\d\.20\d\d \d\d:\d\d:\d\d\b", page)
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", page)
