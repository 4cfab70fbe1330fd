"""Every allocation carries its payment's office day and client (PaymentAllocation.paid_on, which revenue by
service filters by instead of joining the payment; PaymentAllocation.client_id, by which a client's advance is
summed): whoever writes it — the desk (periods, a charge, the advance spent at the desk, the rest kept as an
advance), a reversal, the cycle's and an activation's advance use (bulk inserts), an import's carried credit —
and when a payment's moment or client is moved, its allocations' copies follow."""
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, insert, select

from app.billing.advance import spend_advance
from app.billing.charges import add_charge, advance_total
from app.billing.models import ADVANCE, PAID_CHARGE, PAID_PERIODS, Payment, PaymentAllocation
from app.billing.opening import carry_credit
from app.billing.services import record_payment, reverse_payment
from app.clients.models import Client, Subscription
from app.extensions import db
from tests.billing.test_cycle import run_cycle, subscriber
from tests.factories import head_office_cashier, make_payment


def moved(payment_id, moment):
    """The payment placed at `moment` (UTC), as if received then."""
    db.session.get(Payment, payment_id).paid_at = moment
    db.session.commit()


def mismatched():
    """Allocations whose day or client is not their payment's (or missing)."""
    return db.session.scalar(
        select(func.count()).select_from(PaymentAllocation).join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(PaymentAllocation.paid_on.is_(None) | (PaymentAllocation.paid_on != Payment.paid_on)
               | PaymentAllocation.client_id.is_(None) | (PaymentAllocation.client_id != Payment.client_id)))


def days_of(payment_id):
    return {(allocation.kind, allocation.paid_on) for allocation in db.session.scalars(
        select(PaymentAllocation).where(PaymentAllocation.payment_id == payment_id))}


def test_every_path_dates_the_allocations_by_their_payment(app, outbox):
    with app.app_context():
        # An advance paid on 03.11 (nothing live then), spent by the cycle on 01.12: the cycle's rows (one
        # bulk insert) take the payment's day, not the run's.
        client_id, subscription_id = subscriber("Аванс Цикъл", fee="10.00", paid_until=date(2026, 11, 30),
                                                warning_days=0)
        db.session.get(Subscription, subscription_id).status = "terminated"
        db.session.commit()
        advance = make_payment(db.session.get(Client, client_id), amount="25.00").id
        moved(advance, datetime(2026, 11, 3, 9, 0))
        assert days_of(advance) == {(ADVANCE, date(2026, 11, 3))}
        db.session.get(Subscription, subscription_id).status = "active"
        db.session.commit()
    run_cycle(app, date(2026, 12, 1))
    with app.app_context():
        assert days_of(advance) == {(ADVANCE, date(2026, 11, 3)), (PAID_PERIODS, date(2026, 11, 3))}
        assert db.session.scalar(select(func.count()).where(PaymentAllocation.payment_id == advance)) == 3

        # The desk: periods and a charge chosen, the client's advance spent first; then an amount whose rest
        # stays an advance; then a reversal (a payment with no allocations of its own).
        cashier = head_office_cashier()
        client_id, subscription_id = subscriber("Каса Избор", fee="10.00", paid_until=date(2026, 10, 31))
        client = db.session.get(Client, client_id)
        record_payment(cashier, client, amount="5.00")
        db.session.commit()
        charge = add_charge(client, "Рутер", "15.00", type_code="other")
        db.session.commit()
        chosen = record_payment(cashier, client, periods={subscription_id: 1}, charge_ids=[charge.id]).payment
        db.session.commit()
        assert {kind for kind, _day in days_of(chosen.id)} == {PAID_PERIODS, PAID_CHARGE, ADVANCE}
        rest = make_payment(client, amount="35.00")
        assert {kind for kind, _day in days_of(rest.id)} == {PAID_PERIODS, ADVANCE}
        reversal = reverse_payment(cashier, db.session.get(Payment, rest.id), "грешка")
        db.session.commit()
        assert days_of(reversal.id) == set()

        # An import's carried credit, dated in the past; then an activation spends it at once (bulk insert).
        client_id, subscription_id = subscriber("Внос Кредит", fee="10.00", paid_until=date(2026, 10, 31))
        credit = carry_credit(cashier, db.session.get(Client, client_id), Decimal("30.00"), date(2026, 9, 15),
                              "стар.csv, ред 2")
        db.session.commit()
        assert days_of(credit.id) == {(ADVANCE, date(2026, 9, 15))}
        assert spend_advance(cashier, db.session.get(Subscription, subscription_id), day=date(2026, 11, 5)) > 0
        db.session.commit()
        assert days_of(credit.id) == {(ADVANCE, date(2026, 9, 15)), (PAID_PERIODS, date(2026, 9, 15))}

        assert db.session.scalar(select(func.count()).select_from(PaymentAllocation)) >= 12
        assert mismatched() == 0

        # A payment's moment moved: its allocations' day follows.
        moved(chosen.id, datetime(2026, 11, 20, 23, 30))  # 01:30 on 21.11 in Sofia
        assert {day for _kind, day in days_of(chosen.id)} == {date(2026, 11, 21)}
        assert mismatched() == 0


def test_an_insert_of_many_rows_without_the_day_gets_each_payments(app):
    """The column's default fills the day; a writer cannot forget it (and NOT NULL would refuse a row without)."""
    with app.app_context():
        client_id, _subscription_id = subscriber("Много Редове", fee="10.00")
        client = db.session.get(Client, client_id)
        first, second = make_payment(client, amount="7.00"), make_payment(client, amount="8.00")
        moved(first.id, datetime(2026, 6, 1, 12, 0))
        moved(second.id, datetime(2026, 7, 1, 12, 0))
        db.session.execute(insert(PaymentAllocation), [
            {"payment_id": first.id, "kind": ADVANCE, "amount_eur": Decimal("-1.00")},
            {"payment_id": second.id, "kind": ADVANCE, "amount_eur": Decimal("-2.00")},
            {"payment_id": first.id, "kind": ADVANCE, "amount_eur": Decimal("1.00")},
        ])
        db.session.commit()
        assert {day for _kind, day in days_of(first.id)} == {date(2026, 6, 1)}
        assert {day for _kind, day in days_of(second.id)} == {date(2026, 7, 1)}
        assert mismatched() == 0


def test_a_payment_moved_to_another_client_takes_its_allocations_and_its_advance(app):
    """No operation moves a payment today; if one is (a correction, an import), the allocations' client follows
    it — and with it the advance the card, the desk and the debtors read (`advances`)."""
    with app.app_context():
        first_id, _ = subscriber("Първи Платец", fee="10.00", paid_until=date(2026, 10, 31))
        second_id, _ = subscriber("Втори Платец", fee="10.00", paid_until=date(2026, 10, 31))
        first, second = db.session.get(Client, first_id), db.session.get(Client, second_id)
        paid = make_payment(first, amount="25.00")  # two months and 5,00 kept as an advance
        kept = make_payment(first, amount="3.00")  # an advance that stays with the first client
        assert {kind for kind, _day in days_of(paid.id)} == {PAID_PERIODS, ADVANCE}
        assert (advance_total(first_id), advance_total(second_id)) == (Decimal("8.00"), Decimal("0.00"))

        payment = db.session.get(Payment, paid.id)
        loaded = list(payment.allocations)  # loaded before the move: they read their client again
        payment.client = second  # by the relationship
        db.session.commit()
        assert {allocation.client_id for allocation in loaded} == {second_id}
        assert (advance_total(first_id), advance_total(second_id)) == (Decimal("3.00"), Decimal("5.00"))
        assert mismatched() == 0

        db.session.get(Payment, kept.id).client_id = second_id  # by the column
        db.session.commit()
        assert (advance_total(first_id), advance_total(second_id)) == (Decimal("0.00"), Decimal("8.00"))
        assert mismatched() == 0
