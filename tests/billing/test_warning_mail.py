"""The warning e-mail's text, edited by the office at /mail-templates/ in the contracts' sandbox."""
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.billing import warning_mail
from app.notifications.templates import render

from app.audit.models import LogEntry
from app.extensions import db
from app.notifications.models import MailTemplate
from tests.billing.test_cycle import mails, run_cycle, subscriber
from tests.conftest import Browser, visible_text
from tests.factories import make_operator

FORM = "/mail-templates/edit/warning"
OWN_SUBJECT = "Напомняне: {{ service.name }} до {{ paid_until }}"
OWN_BODY = ("Здравейте, {{ client.name }}!\n"
            "Дължите {{ amount }} (абонатен номер {{ client.number }}).\n"
            "{% for line in lines %}* {{ line }}\n{% endfor %}"
            "{{ seller.name }}, IBAN {{ seller.iban }}\n")


def save(browser, subject, body, action="save"):
    return browser.submit(FORM, {"subject": subject, "body": body, "action": action})


def test_the_office_edits_the_warning_and_the_cycle_sends_its_text(app, admin, outbox):
    page = visible_text(admin.get("/mail-templates/").text)
    assert "Предупреждение преди „платено до“" in page and "стандартен" in page
    form = visible_text(admin.get(FORM).text)
    assert "Уважаеми/а {{ client.name }}" in form and "{{ client.number }}" in form  # the default, and its help

    preview = save(admin, OWN_SUBJECT, OWN_BODY, action="preview")
    shown = visible_text(preview.text)
    assert preview.status_code == 200 and "Здравейте, Иван Петров Иванов!" in shown and "12,90 EUR" in shown
    with app.app_context():
        assert db.session.scalar(select(MailTemplate)) is None  # a preview saves nothing

    assert save(admin, OWN_SUBJECT, OWN_BODY).status_code == 302
    with app.app_context():
        subscriber("Иванов & син ООД", "office@ivanov.bg", paid_until=date(2026, 12, 31))
        assert db.session.scalar(select(LogEntry.operation).where(LogEntry.entity_type == "MailTemplate")) == "insert"
    run_cycle(app, date(2026, 12, 27))
    sent = mails(outbox)
    assert len(sent) == 1
    assert sent[0]["Subject"] == "Напомняне: Интернет Иванов & син ООД до 31.12.2026"
    text = sent[0].get_content()
    # Text, not HTML: the "&" stays as typed.
    assert text.startswith("Здравейте, Иванов & син ООД!\nДължите 12,90 EUR")
    assert "* Интернет Иванов & син ООД до 31.01.2027: 12,90 EUR" in text and "Уважаеми" not in text

    assert admin.submit(FORM, {"subject": OWN_SUBJECT, "body": OWN_BODY, "action": "reset"}).status_code == 302
    assert "Уважаеми/а {{ client.name }}" in visible_text(admin.get(FORM).text)
    with app.app_context():
        assert db.session.scalar(select(MailTemplate)) is None


@pytest.mark.parametrize("body, message", [
    ("{{ client.nme }}", "непознато поле „nme“"),
    ("{{ client.__class__.__mro__ }}", "не е позволен"),
    ("{{ 'x' * 100000000 }}", "по-голяма от"),
    ("{% include '/etc/passwd' %}", "не може да включва"),
    ("{% for %}", "синтактична грешка"),
])
def test_a_template_that_does_not_fill_is_refused_under_its_field_and_nothing_is_saved(app, admin, body, message):
    response = save(admin, OWN_SUBJECT, body)
    assert response.status_code == 200
    assert message in visible_text(response.text)
    with app.app_context():
        assert db.session.scalar(select(MailTemplate)) is None


def test_only_who_may_edit_templates_opens_them(app):
    with app.app_context():
        make_operator(None, "каса", "Касиер", username="cashier-mail")
        db.session.commit()
    cashier = Browser(app)
    cashier.login("cashier-mail", "operator-pass-123")
    assert cashier.get("/mail-templates/").status_code in (302, 403)
    assert cashier.get(FORM).status_code in (302, 403)
    # A POST with a valid token (from a page the cashier may open) is refused on the server too.
    refused = cashier.submit(FORM, {"subject": OWN_SUBJECT, "body": OWN_BODY, "action": "save"},
                             form_url="/clients/add")
    assert refused.status_code in (302, 403)
    with app.app_context():
        assert db.session.scalar(select(MailTemplate)) is None


# The default text is filled in plain Python on the cycle's way (warning_mail.default_message): it must be what
# the sandbox makes of SUBJECT and BODY, character for character, whatever the client's data.
_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=_text, number=_text, service=_text, paid_until=_text, amount=_text, lines=st.lists(_text, max_size=4),
       seller=st.fixed_dictionaries({key: st.one_of(st.none(), _text)  # a head office without an IBAN: None
                                     for key in ("name", "iban", "bank_name", "bic", "phone", "email", "address")}))
def test_the_default_warning_in_plain_python_is_the_sandboxs_text(app, name, number, service, paid_until, amount,
                                                                  lines, seller):
    filled = {"client": {"name": name, "number": number, "email": "x@example.bg"}, "service": {"name": service},
              "paid_until": paid_until, "amount": amount, "lines": lines, "seller": seller}
    with app.app_context():
        assert warning_mail.default_message(filled) == render(warning_mail.KIND, filled,
                                                              (warning_mail.SUBJECT, warning_mail.BODY))


def test_the_cycle_fills_the_default_warning_as_the_sandbox_does(app):
    sample = warning_mail._sample()
    for iban in ("BG80BNBG96611020345678", ""):
        filled = {**sample, "seller": {**sample["seller"], "iban": iban}}
        with app.app_context():
            subject, body = warning_mail.default_message(filled)
            assert (subject, body) == render(warning_mail.KIND, filled, (warning_mail.SUBJECT, warning_mail.BODY))
        assert subject == "Мрежа ЕООД: услугата Интернет 100 е платена до 31.01.2027"
        assert body.endswith("Мрежа ЕООД\n02 123 4567") and ("IBAN BG80" in body) == bool(iban)
