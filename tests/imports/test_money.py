"""Moving in the money: opening balances (a debt an open charge, a credit an advance) and the payment history."""
import io
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from flask import current_app
from sqlalchemy import func, select

from app.audit.models import LogEntry
from app.billing.charges import advance_total, open_charges
from app.billing.models import Charge, CycleEffect, Payment, PaymentAllocation
from app.billing.periods import add_months, month_end
from app.clients.models import Client, Subscription
from app.core.actors import acting_as
from app.core.formatting import local_today
from app.core.transaction import unit_of_work
from app.core.queue import wait_for_background_jobs
from app.extensions import db
from app.imports.models import ImportKey
from app.imports.services import import_file
from app.reports import services as reports
from tests.conftest import ADMIN_USERNAME, visible_text
from tests.factories import make_service, make_subscription

CLIENT_HEADER = "Клиентски номер;Име"
CLIENT_ROWS = ["1001;Иван Петров", "1002;Мария Георгиева", "1003;Петър Колев", "1004;Платил Напред",
               *(f"100{number};Клиент {number}" for number in range(5, 10))]
TODAY = datetime.now(ZoneInfo("Europe/Sofia")).date()  # the office's day, as local_today() gives it
LAST_MONTH_END = month_end(add_months(TODAY.replace(day=1), -1))
BALANCE_HEADER = "Клиентски номер;Задължение;Аванс;Към дата;Валута"
BALANCE_ROWS = [
    "1001;25,80;;30.09.2026;EUR",
    f"1002;;25,00;{LAST_MONTH_END:%d.%m.%Y};",
    "1003;;5.00;;",
    "1004;;40,00;;",
    "9999;10,00;;;",  # no such client
    "1001;1,00;;;",  # the same client twice
    "1005;5,00;5,00;;",  # both
    "1006;abc;;;",  # not an amount
    f"1007;3,00;;{TODAY + timedelta(days=3):%d.%m.%Y};",  # in the future
    "1008;3,00;;;XYZ",  # no such currency
]
BALANCE_REFUSALS = {6: "9999", 7: "1001", 8: "не и двете", 9: "Задължение", 10: "Към дата", 11: "Валута"}


def csv_bytes(header, rows, encoding="utf-8-sig"):
    return ("\r\n".join([header, *rows]) + "\r\n").encode(encoding)


def administrator():
    return current_app.appbuilder.sm.find_user(username=ADMIN_USERNAME)


def run_import(content, file_name, kind, dry_run=False):
    actor = administrator()
    with acting_as(actor), unit_of_work():
        return import_file(actor, content, file_name, kind, dry_run=dry_run)


def refused(report):
    return {row["row"]: row["details"] for row in report["rows"] if row["outcome"] == "refused"}


def outcomes(report):
    return {row["key"]: row["outcome"] for row in report["rows"] if row["outcome"] != "refused"}


def counts():
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Charge, Payment, PaymentAllocation, ImportKey, Subscription)}


def client(name):
    return db.session.scalar(select(Client).where(Client.name == name))


def card_figure(html, element_id):
    start = html.index(f'id="{element_id}"')
    return visible_text(html[html.index(">", start) + 1:html.index("</span>", start)]).strip()


@pytest.fixture
def moved_in(app):
    """Four clients imported; Мария's subscription (10,00 a month) paid to the end of last month, Платил
    Напред's paid 14 months ahead."""
    with app.app_context():
        report = run_import(csv_bytes(CLIENT_HEADER, CLIENT_ROWS), "клиенти.csv", "clients")
        assert set(outcomes(report).values()) == {"created"} and len(report["rows"]) == 9
        service = make_service("Интернет 10", monthly_fee="10.00")
        maria = make_subscription(client("Мария Георгиева"), service, activation_date=date(2025, 1, 1),
                                  paid_until=LAST_MONTH_END)
        ahead = make_subscription(client("Платил Напред"), service, activation_date=date(2025, 1, 1),
                                  paid_until=month_end(add_months(local_today().replace(day=1), 14)))
        db.session.commit()
        yield {"maria": maria.id, "ahead": ahead.id}


def test_opening_balances_a_debt_on_the_card_and_the_debtors_a_credit_spent_by_the_cycle(app, moved_in, admin):
    content = csv_bytes(BALANCE_HEADER, BALANCE_ROWS)
    with app.app_context():
        before = counts()
        report = run_import(content, "салда.csv", "balances", dry_run=True)
        reasons = refused(report)
        assert sorted(reasons) == sorted(BALANCE_REFUSALS), reasons
        for number, word in BALANCE_REFUSALS.items():
            assert word in reasons[number], (number, reasons[number])
        assert counts() == before  # a dry run writes nothing

        report = run_import(content, "салда.csv", "balances")
        assert outcomes(report) == dict.fromkeys(("1001", "1002", "1003", "1004"), "created")
        ivan, maria, petar = client("Иван Петров"), client("Мария Георгиева"), client("Петър Колев")
        debt = open_charges(ivan.id)
        assert [(charge.description, charge.amount, charge.created_at.date()) for charge in debt] == [
            ("Задължение от предишната система", Decimal("25.80"), date(2026, 9, 30))]
        assert (advance_total(maria.id), advance_total(petar.id)) == (Decimal("25.00"), Decimal("5.00"))
        carried = db.session.scalar(select(Payment).where(Payment.client_id == maria.id))
        assert (carried.operator_id, carried.imported_from, carried.paid_at.date()) == (
            None, "внос от салда.csv, ред 3", LAST_MONTH_END)
        notes = db.session.scalars(select(LogEntry.note).where(LogEntry.operation == "import",
                                                               LogEntry.entity_type.in_(["Charge", "Payment"]))).all()
        assert sorted(notes) == [f"внос от салда.csv, ред {number}" for number in (2, 3, 4, 5)]
        written = counts()
        assert outcomes(run_import(content, "салда.csv", "balances")) == dict.fromkeys(
            ("1001", "1002", "1003", "1004"), "unchanged")
        assert counts() == written  # the same file again changes nothing
        ivan_id, maria_id = ivan.id, maria.id

    # The debt is on the card and in the debtors report, dated as the old system dated it.
    card = admin.get(f"/clients/show/{ivan_id}?tab=all").text
    assert card_figure(card, "due-today") == "25,80 EUR"
    assert "Задължение от предишната система" in visible_text(card)
    with app.app_context():
        debtors = reports.debtors(administrator(), {})
        row = next(row for row in debtors.rows if row[1] == "Иван Петров")
        assert (row[5], row[10], row[12]) == (date(2026, 9, 30), Decimal("25.80"), Decimal("25.80"))
        assert "Мария Георгиева" not in [row[1] for row in debtors.rows]  # her advance covers her month
    # The credit shows as an imported payment in her payments.
    card = admin.get(f"/clients/show/{maria_id}?tab=all").text
    assert card_figure(card, "advance") == "25,00 EUR" and "внесено" in visible_text(card)

    # The next cycle spends the credit like any advance, and leaves the client paid 14 months ahead alone.
    result = app.test_cli_runner().invoke(args=["billing", "run-cycle", "--date", local_today().isoformat()])
    assert result.exit_code == 0, result.output
    with app.app_context():
        subscription = db.session.get(Subscription, moved_in["maria"])
        assert subscription.paid_until == month_end(add_months(LAST_MONTH_END, 1))
        assert advance_total(maria_id) == Decimal("15.00")
        ahead = db.session.get(Subscription, moved_in["ahead"])
        assert ahead.status == "active"
        assert db.session.scalars(select(CycleEffect.kind).where(CycleEffect.subscription_id == ahead.id)).all() == []
        assert advance_total(client("Платил Напред").id) == Decimal("40.00")

        # A corrected file: the debt corrected, Петър's credit corrected, Платил Напред's credit now a debt;
        # Мария's credit, already spent, cannot be changed.
        corrected = csv_bytes(BALANCE_HEADER, [
            "1001;30,00;;30.09.2026;EUR", "1002;;20,00;;", "1003;;8,00;;", "1004;12,00;;;"])
        report = run_import(corrected, "салда-2.csv", "balances")
        assert outcomes(report) == {"1001": "changed", "1003": "changed", "1004": "changed"}
        assert "изхарчен" in refused(report)[3]
        ivan = client("Иван Петров")
        assert [charge.amount for charge in open_charges(ivan.id)] == [Decimal("30.00")]
        assert advance_total(client("Петър Колев").id) == Decimal("8.00")
        ahead_client = client("Платил Напред")
        assert advance_total(ahead_client.id) == Decimal("0.00")
        assert [charge.amount for charge in open_charges(ahead_client.id)] == [Decimal("12.00")]
        assert db.session.scalar(select(func.count()).where(
            LogEntry.operation == "import", LogEntry.note == "внос от салда-2.csv, ред 2")) == 1
        # The withdrawn credits are reversals no cashier made: in nobody's cash desk.
        reversals = db.session.scalars(select(Payment).where(Payment.reversal_of_id.is_not(None))).all()
        assert len(reversals) == 2 and {payment.operator_id for payment in reversals} == {None}


PAYMENT_HEADER = "Номер на плащането;Клиентски номер;Дата;Сума;Валута;Начин на плащане;Бележка"
PAYMENT_ROWS = [
    "P1;1002;15.10.2026;10,00;EUR;В брой;октомври",
    "P2;1002;2026-11-14;19,56;BGN;bank;",
    "P3;1001;01.12.2025;10,00;;;",
    "P4;9999;01.12.2025;10,00;;;",  # no such client
    "P5;1002;;10,00;;;",  # no day
    f"P6;1002;{TODAY + timedelta(days=1):%d.%m.%Y};10,00;;;",  # in the future
    "P7;1002;01.10.2026;0;;;",  # nothing paid
    "P8;1002;01.10.2026;10,00;;Чек;",  # unknown method
    "P1;1002;15.10.2026;10,00;;;",  # the same key twice
]
PAYMENT_REFUSALS = {5: "9999", 6: "Дата", 7: "Дата", 8: "Сума", 9: "Чек", 10: "P1"}


def test_the_payment_history_comes_in_as_history(app, moved_in, admin):
    content = csv_bytes(PAYMENT_HEADER, PAYMENT_ROWS)
    with app.app_context():
        before = counts()
        report = run_import(content, "плащания.csv", "payments", dry_run=True)
        reasons = refused(report)
        assert sorted(reasons) == sorted(PAYMENT_REFUSALS), reasons
        for number, word in PAYMENT_REFUSALS.items():
            assert word in reasons[number], (number, reasons[number])
        assert counts() == before

        report = run_import(content, "плащания.csv", "payments")
        assert outcomes(report) == {"P1": "created", "P2": "created", "P3": "created"}
        maria = client("Мария Георгиева")
        payments = db.session.scalars(select(Payment).where(Payment.client_id == maria.id).order_by(Payment.id)).all()
        assert [(payment.paid_at.date(), payment.amount, payment.currency, payment.amount_eur, payment.method.code)
                for payment in payments] == [(date(2026, 10, 15), Decimal("10.00"), "EUR", Decimal("10.00"), "cash"),
                                             (date(2026, 11, 14), Decimal("19.56"), "BGN", Decimal("10.00"), "bank")]
        # History: nothing paid now, "paid until" unmoved, no advance, no invoice, no cashier.
        assert db.session.scalar(select(func.count()).select_from(PaymentAllocation)) == 0
        assert db.session.get(Subscription, moved_in["maria"]).paid_until == LAST_MONTH_END
        assert advance_total(maria.id) == Decimal("0.00")
        assert {payment.operator_id for payment in payments} == {None}
        assert payments[0].note == "октомври" and payments[0].imported_from == "внос от плащания.csv, ред 2"
        from app.invoices.models import Invoice

        assert db.session.scalar(select(func.count()).select_from(Invoice)) == 0
        written = counts()
        assert outcomes(run_import(content, "плащания.csv", "payments")) == dict.fromkeys(("P1", "P2", "P3"),
                                                                                        "unchanged")
        assert counts() == written
        changed = run_import(csv_bytes(PAYMENT_HEADER, ["P1;1002;15.10.2026;11,00;EUR;В брой;октомври"]),
                             "плащания-2.csv", "payments")
        assert "Сума" in refused(changed)[2] and counts() == written
        maria_id, payment_id = maria.id, payments[0].id

    # Shown among her payments, marked as imported, without a receipt.
    card = visible_text(admin.get(f"/clients/show/{maria_id}?tab=all").text)
    assert "внесено" in card and "октомври" in card
    listing = visible_text(admin.get(f"/payments/list/?client={maria_id}").text)
    assert "Внесено от предишната система" in listing
    page = admin.get(f"/payments/show/{payment_id}").text
    assert "Внесено от предишната система" in visible_text(page) and "payment-receipt" not in page
    assert admin.get(f"/payments/receipt/{payment_id}").status_code == 404


def test_a_phone_starting_with_a_plus_comes_in_as_typed(app):
    """The quote that keeps a cell from running in Excel belongs to the refused-rows file, not to the data."""
    with app.app_context():
        report = run_import(csv_bytes("Клиентски номер;Име;Телефон", ["3001;Стоян Илиев;+359 888 123 456"]),
                            "клиенти.csv", "clients")
        assert outcomes(report) == {"3001": "created"}
        assert client("Стоян Илиев").phone == "+359 888 123 456"


def test_the_panel_takes_a_balances_file_dry_run_first(app, moved_in, admin):
    assert "Начални салда" in admin.get("/import/").text
    template = admin.get("/import/template/balances").data.decode("utf-8-sig").splitlines()
    assert template[0] == BALANCE_HEADER
    content = csv_bytes(BALANCE_HEADER, BALANCE_ROWS[:2])
    response = admin.submit("/import/upload", {"kind": "balances", "file": (io.BytesIO(content), "салда.csv")},
                            form_url="/import/", content_type="multipart/form-data")
    report_url = response.headers["Location"]
    wait_for_background_jobs(app)  # the dry run and the run are jobs (this process's background thread)
    page = visible_text(admin.get(report_url).text)
    assert "Пробно внасяне: нищо не е записано" in page and "дължи 25,80 EUR" in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Charge)) == 0
    admin.submit(report_url.rstrip("/") + "/run", {}, form_url=report_url)
    wait_for_background_jobs(app)
    with app.app_context():
        assert [charge.amount for charge in open_charges(client("Иван Петров").id)] == [Decimal("25.80")]
        assert advance_total(client("Мария Георгиева").id) == Decimal("25.00")
