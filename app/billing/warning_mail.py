"""The warning e-mail of the billing cycle: its default Bulgarian text, what it may use, and filling it in.

The office edits the text at /mail-templates/ (app.notifications.templates);
this is the default, and the plain data a template sees.
"""
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

from flask_babel import lazy_gettext as _l

from app.billing.charges import ClientDue, due_lines
from app.core.formatting import format_date
from app.core.money import format_money
from app.core.sandbox import TemplateProblem
from app.dealers.services import company_of
from app.notifications.templates import MAX_SUBJECT, MailKind, register_kind, render

KIND = "warning"
SUBJECT = "{{ seller.name }}: услугата {{ service.name }} е платена до {{ paid_until }}"
BODY = """Уважаеми/а {{ client.name }},

Услугата {{ service.name }} е платена до {{ paid_until }}. За да ползвате услугите си без прекъсване, \
моля, платете {{ amount }}:
{% for line in lines %}- {{ line }}
{% endfor %}
Как да платите:
- в нашия офис, в брой или с карта;
- чрез ePay или EasyPay, с абонатен номер {{ client.number }};
{% if seller.iban %}- с банков превод към {{ seller.name }}, IBAN {{ seller.iban }}, с основание абонатен номер \
{{ client.number }}.
{% endif %}
{{ seller.name }}
{{ seller.phone }}
"""
PLACEHOLDERS = [
    ("client.name", _l("the client's name")),
    ("client.number", _l("the client number (for ePay, EasyPay and bank transfers)")),
    ("service.name", _l("the service")),
    ("paid_until", _l("paid until, dd.mm.yyyy")),
    ("amount", _l("the amount to pay, less the advance")),
    ("lines", _l("what the amount consists of, line by line (a list)")),
    ("seller.name", _l("the seller: head office or the client's dealer")),
    ("seller.iban", _l("the seller's IBAN (may be empty)")),
    ("seller.bank_name", _l("the seller's bank")),
    ("seller.phone", _l("the seller's phone")),
    ("seller.email", _l("the seller's e-mail")),
    ("seller.address", _l("the seller's address")),
]


def context(client, subscription, due, seller, gettext=None):
    """What the warning's template sees, as plain data (`gettext`: the caller's, for the lines)."""
    return {
        "client": {"name": client.name, "number": client.client_number, "email": client.email or ""},
        "service": {"name": subscription.service.name},
        "paid_until": format_date(subscription.paid_until),
        "amount": format_money(due.payable_eur, "EUR"),
        "lines": due_lines(due, gettext) if gettext else due_lines(due),
        "seller": {key: seller[key] for key in ("name", "iban", "bank_name", "bic", "phone", "email", "address")},
    }


def message(client, subscription, due, seller=None, templates=None, gettext=None):
    """Subject and text of the warning e-mail: the office's template, or the default if that one fails here.

    `templates`: the (subject, body) sources in use, when the caller read them already. The default (no office
    edit) is filled by `default_message`, the same text without the sandbox's cost.
    """
    seller = seller or company_of(client.dealer)
    filled = context(client, subscription, due, seller, gettext)
    if templates == (SUBJECT, BODY) and _plain(filled):
        return default_message(filled)
    try:
        return render(KIND, filled, templates)
    except TemplateProblem:
        # Checked on a sample when saved; a client's own data can still trip it. The client is warned anyway.
        return render(KIND, filled, (SUBJECT, BODY))


# A value this long may trip the sandbox's limits (app.core.sandbox.MAX_VALUE): such a message goes through it.
PLAIN_VALUE = 10_000


def _plain(filled):
    values = [*filled["client"].values(), *filled["service"].values(), filled["paid_until"], filled["amount"],
              *filled["lines"], *filled["seller"].values()]
    return len(filled["lines"]) < 1000 and all(isinstance(value, str) and len(value) < PLAIN_VALUE
                                               for value in values if value is not None)


def default_message(filled):
    """SUBJECT and BODY filled with `filled` in plain Python: what the sandbox makes of them, character for
    character (tests/billing/test_warning_mail.py compares the two), at a fraction of the cost — the billing
    cycle's worst day writes tens of thousands. Only for values `_plain` accepts."""
    client, service, seller = filled["client"], filled["service"], filled["seller"]
    subject = " ".join(f"{seller['name']}: услугата {service['name']} е платена до {filled['paid_until']}".split())
    parts = [
        f"Уважаеми/а {client['name']},\n\n"
        f"Услугата {service['name']} е платена до {filled['paid_until']}. За да ползвате услугите си без "
        f"прекъсване, моля, платете {filled['amount']}:\n",
        *(f"- {line}\n" for line in filled["lines"]),
        "\nКак да платите:\n"
        "- в нашия офис, в брой или с карта;\n"
        f"- чрез ePay или EasyPay, с абонатен номер {client['number']};\n",
    ]
    if seller["iban"]:
        parts.append(f"- с банков превод към {seller['name']}, IBAN {seller['iban']}, с основание абонатен номер "
                     f"{client['number']}.\n")
    parts.append(f"\n{seller['name']}\n{seller['phone']}")  # Jinja drops the template's last newline
    return subject[:MAX_SUBJECT], "".join(parts)


def _sample():
    """A made-up warning, to try an edited template on."""
    subscription = SimpleNamespace(service=SimpleNamespace(name="Интернет 100"), paid_until=date(2027, 1, 31))
    due = ClientDue(subscriptions=[SimpleNamespace(subscription=subscription, paid_until_after=date(2027, 2, 28),
                                                   amount_eur=Decimal("12.90"))])
    client = SimpleNamespace(name="Иван Петров Иванов", client_number="100001", email="ivan@example.bg")
    seller = {"name": "Мрежа ЕООД", "iban": "BG80BNBG96611020345678", "bank_name": "БНБ", "bic": "BNBGBGSD",
              "phone": "02 123 4567", "email": "office@example.bg", "address": "гр. София, ул. Примерна 1"}
    return context(client, subscription, due, seller)


register_kind(MailKind(KIND, _l("Warning before paid until"), SUBJECT, BODY, _sample, PLACEHOLDERS))
