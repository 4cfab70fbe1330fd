"""What the client card says about money, and that the payment form asks for the same: paid ahead, overdue by
two months, with an advance, with open charges. The desk spends the advance; reversals keep it whole."""
from datetime import date, timedelta
from decimal import Decimal
from html.parser import HTMLParser

import pytest

from app.billing.models import Payment
from app.billing.charges import add_charge, advance_total, due_today
from app.billing.periods import add_months, month_end
from app.billing.services import record_payment, reverse_payment
from app.clients.models import Client, Subscription
from app.core.errors import FieldErrors
from app.core.formatting import format_date, local_today
from app.extensions import db
from tests.conftest import visible_text
from tests.factories import head_office_cashier, make_client, make_payment, make_service, make_subscription

FEE = "20.00"


def subscriber(name, paid_until, fee=FEE):
    """A client with one active fixed-month subscription of `fee` a month, paid until `paid_until`."""
    client = make_client(None, name)
    service = make_service(f"Интернет {name}", monthly_fee=fee)
    subscription = make_subscription(client, service, activation_date=date(2025, 1, 1), paid_until=paid_until)
    return client, subscription


def months_ago(count):
    """The last day of the month `count` months before this one."""
    return month_end(add_months(local_today().replace(day=1), -count))


class PaymentForm(HTMLParser):
    """The total the payment form opens with, as its script adds it up: the selected months and the ticked
    charges, less the advance."""

    def __init__(self, html):
        super().__init__()
        self.parts, self.advance, self._select = [], Decimal(0), None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "select" and "payment-part" in (attrs.get("class") or ""):
            self._select = attrs["name"]
        elif tag == "option" and self._select and "selected" in attrs:
            self.parts.append(Decimal(attrs["data-eur"]))
        elif tag == "input" and "payment-part" in (attrs.get("class") or "") and "checked" in attrs:
            self.parts.append(Decimal(attrs["data-eur"]))
        elif tag == "b" and attrs.get("id") == "payment-total":
            self.advance = Decimal(attrs["data-advance"])

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None

    @property
    def total(self):
        chosen = sum(self.parts, Decimal(0))
        return max(chosen - self.advance, Decimal(0)) if chosen else chosen


def card_figure(html, element_id):
    start = html.index(f'id="{element_id}"')
    return visible_text(html[html.index(">", start) + 1:html.index("</span>", start)]).strip()


def test_a_client_paid_ahead_owes_nothing_today_and_sees_the_next_payment(app, admin):
    with app.app_context():
        paid_until = month_end(add_months(local_today().replace(day=1), 2))
        client, _subscription = subscriber("Платил Напред", paid_until)
        client_id = client.id
        money = due_today(client)
        assert (money.due_eur, money.next_day, money.next_eur) == (Decimal("0.00"), paid_until + timedelta(days=1),
                                                                  Decimal(FEE))
    card = admin.get(f"/clients/show/{client_id}?tab=all").text
    assert card_figure(card, "due-today") == "0,00 EUR"
    assert card_figure(card, "next-payment") == "20,00 EUR"
    assert f"на {format_date(paid_until + timedelta(days=1))}" in visible_text(card)
    assert "Днес нищо не се дължи." in visible_text(card)
    form = PaymentForm(admin.get(f"/payments/record/{client_id}").text)
    assert form.total == Decimal("0.00")  # nothing preselected: the card said nothing is due


def test_a_client_two_months_behind_owes_both_and_the_form_asks_for_them(app, admin):
    with app.app_context():
        client, subscription = subscriber("Две Закъснели", months_ago(2))
        client_id, subscription_id = client.id, subscription.id
        money = due_today(client)
        assert money.due_eur == Decimal("40.00") and money.overdue[0].periods == 2
        assert money.next_day == month_end(local_today()) + timedelta(days=1) and money.next_eur == Decimal(FEE)
    card = admin.get(f"/clients/show/{client_id}?tab=all").text
    assert card_figure(card, "due-today") == "40,00 EUR"
    form_page = admin.get(f"/payments/record/{client_id}").text
    assert PaymentForm(form_page).total == Decimal("40.00")
    response = admin.submit(f"/payments/record/{client_id}", {"months_{}".format(subscription_id): "2",
                                                              "currency": "EUR", "method": "1"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Subscription, subscription_id).paid_until == month_end(local_today())
        assert due_today(db.session.get(Client, client_id)).due_eur == Decimal("0.00")


def test_the_advance_is_subtracted_on_the_card_and_spent_by_the_payment_the_form_proposes(app, admin):
    with app.app_context():
        client, subscription = subscriber("С Аванс", months_ago(2))
        # 15 EUR brought earlier: less than a month, so it stays an advance.
        make_payment(client, amount="15.00")
        client_id, subscription_id = client.id, subscription.id
        assert advance_total(client_id) == Decimal("15.00")
        assert due_today(db.session.get(Client, client_id)).due_eur == Decimal("25.00")
    card = admin.get(f"/clients/show/{client_id}?tab=all").text
    assert card_figure(card, "due-today") == "25,00 EUR" and card_figure(card, "advance") == "15,00 EUR"
    form = PaymentForm(admin.get(f"/payments/record/{client_id}").text)
    assert form.total == Decimal("25.00")
    response = admin.submit(f"/payments/record/{client_id}", {"months_{}".format(subscription_id): "2",
                                                              "currency": "EUR", "method": "1"})
    assert response.status_code == 302
    with app.app_context():
        client = db.session.get(Client, client_id)
        payment = db.session.query(Payment).filter_by(client_id=client_id).order_by(Payment.id.desc()).first()
        assert payment.amount == Decimal("25.00")  # what the card said, not the 40 the months cost
        assert db.session.get(Subscription, subscription_id).paid_until == month_end(local_today())
        assert advance_total(client_id) == Decimal("0.00")
        assert due_today(client).due_eur == Decimal("0.00")


def test_the_invoice_of_a_payment_that_spent_an_advance_deducts_it(app, admin):
    from app.invoices.services import issue_invoice

    with app.app_context():
        client, subscription = subscriber("Фактура Аванс", months_ago(1))
        make_payment(client, amount="5.00")
        payment = make_payment(client, periods={subscription.id: 1})
        assert payment.amount == Decimal("15.00")
        invoice = issue_invoice(head_office_cashier(), payment)
        db.session.commit()
        assert invoice.total == Decimal("15.00")
        deducted = [line for line in invoice.lines if line.description == "Приспаднат аванс"]
        assert len(deducted) == 1 and deducted[0].amount < 0  # −5,00 with VAT: its tax base


def test_open_charges_are_due_today_for_a_client_paid_ahead(app, admin):
    with app.app_context():
        client, _subscription = subscriber("Със Задължение", month_end(local_today()))
        add_charge(client, "Смяна на рутер", "12.50", type_code="other")
        db.session.commit()
        client_id = client.id
        assert due_today(client).due_eur == Decimal("12.50")
    card = admin.get(f"/clients/show/{client_id}?tab=all").text
    assert card_figure(card, "due-today") == "12,50 EUR" and "Смяна на рутер" in visible_text(card)
    assert PaymentForm(admin.get(f"/payments/record/{client_id}").text).total == Decimal("12.50")


def test_an_amount_brought_at_the_desk_is_spent_with_the_advance(app):
    with app.app_context():
        client, subscription = subscriber("Сума И Аванс", months_ago(1))
        make_payment(client, amount="15.00")
        payment = make_payment(client, amount="5.00")  # 5 + the 15 in advance: one whole month
        assert db.session.get(Subscription, subscription.id).paid_until == month_end(local_today())
        assert advance_total(client.id) == Decimal("0.00")
        assert sum(allocation.amount_eur for allocation in payment.allocations) == payment.amount_eur


def test_an_advance_that_covers_the_choice_leaves_nothing_to_pay(app):
    with app.app_context():
        client, subscription = subscriber("Голям Аванс", month_end(local_today()))
        make_payment(client, amount="15.00")  # paid through this month: all of it stays an advance
        charge = add_charge(client, "Кабел", "10.00", type_code="other")
        db.session.commit()
        with pytest.raises(FieldErrors, match="покрива избраното"):
            record_payment(head_office_cashier(), client, charge_ids=[charge.id])
        db.session.rollback()
        assert advance_total(client.id) == Decimal("15.00") and charge.paid_by_id is None


def test_a_spent_advance_is_reversed_after_the_payment_that_spent_it(app):
    with app.app_context():
        client, subscription = subscriber("Сторно Аванс", months_ago(1))
        holder = make_payment(client, amount="15.00")
        spender = make_payment(client, periods={subscription.id: 1})
        assert spender.amount == Decimal("5.00")
        cashier = head_office_cashier()
        with pytest.raises(FieldErrors, match="първо сторнирайте"):
            reverse_payment(cashier, holder, "грешка")
        db.session.rollback()
        reverse_payment(cashier, db.session.get(type(spender), spender.id), "грешка")
        db.session.commit()
        assert advance_total(client.id) == Decimal("15.00")  # the advance is back
        assert db.session.get(Subscription, subscription.id).paid_until == months_ago(1)
        reverse_payment(cashier, db.session.get(type(holder), holder.id), "грешка")
        db.session.commit()
        assert advance_total(client.id) == Decimal("0.00")


def test_the_billing_cycle_does_not_spend_an_advance_the_desk_spent(app):
    from tests.billing.test_cycle import run_cycle

    with app.app_context():
        client, subscription = subscriber("Цикъл Аванс", months_ago(1))
        make_payment(client, amount="15.00")
        make_payment(client, periods={subscription.id: 1})  # spends the 15, pays 5: through this month
        paid_until, subscription_id, client_id = month_end(local_today()), subscription.id, client.id
    run_cycle(app, paid_until + timedelta(days=1))  # the month ends; 0 left in advance: nothing to use
    with app.app_context():
        assert db.session.get(Subscription, subscription_id).paid_until == paid_until
        assert advance_total(client_id) == Decimal("0.00")
