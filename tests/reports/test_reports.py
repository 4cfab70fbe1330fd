"""Reports on a fixed data set, figures computed by hand; their CSV, Excel and PDF read back; dealer scope on
screen and in the exports written by the job."""
import csv
import io
import os
import shutil
import subprocess
import sys
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, insert, select, update
from sqlalchemy_continuum import version_class, versioning_manager

from app import create_app
from app.audit.models import LogEntry
from app.billing.charges import add_charge, payment_method
from app.billing.models import BANK, CASH, CurrencyRate, Payment
from app.clients.models import Subscription
from app.billing.services import reverse_payment
from app.clients.subscriptions import change_status
from app.core import files
from app.core.formatting import local_today
from app.core.queue import get_progress, wait_for_background_jobs
from app.extensions import db
from app.reports import services as reports
from app.reports.exports import cleanup_exports, progress_key
from app.reports.models import Export
from app.security.models import Operator
from app.security.permissions import CASHIER, DEALER_ADMINISTRATOR, MANAGER
from tests.conftest import REDIS_URL, Browser, app_config, visible_text
from tests.core.test_jobs import ROOT, redis_or_skip
from tests.factories import (
    head_office_cashier,
    make_client,
    make_dealer,
    make_operator,
    make_payment,
    make_service,
    make_subscription,
)

NOVEMBER = {"date_from": date(2026, 11, 1), "date_to": date(2026, 11, 30)}
AUTUMN = {"date_from": date(2026, 11, 1), "date_to": date(2026, 12, 31)}


def paid_at(payment, moment):
    """Places a payment at a fixed moment (UTC), as if it had been received then."""
    db.session.get(Payment, payment.id).paid_at = moment
    db.session.commit()


@pytest.fixture
def payments(app):
    """Head office: 40,00 EUR cash (03.11), 39,12 BGN by bank (15.11) reversed on 16.11, 10,00 EUR at 00:30 on
    01.12 Sofia time (30.11 22:30 UTC), 20,00 EUR (05.12). Dealer "Север": 22,00 USD at 1,10 (20.11)."""
    with app.app_context():
        db.session.add(CurrencyRate(currency="USD", valid_from=date(2026, 11, 1), rate=Decimal("1.1000")))
        db.session.commit()
        north = make_dealer("Север")
        office_client = make_client(None, "Иван Централен")
        other_client = make_client(None, "Мария Централна")
        dealer_client = make_client(north, "Петър Северен")
        service = make_service("Интернет 20", monthly_fee="20.00")
        for client in (office_client, other_client, dealer_client):
            make_subscription(client, service, activation_date=date(2026, 1, 1), paid_until=date(2026, 10, 31))
        cash, bank = payment_method(CASH), payment_method(BANK)
        first = make_payment(office_client, amount="40.00", method=cash, day=date(2026, 11, 3))
        paid_at(first, datetime(2026, 11, 3, 9, 0))
        leva = make_payment(other_client, amount="39.12", currency="BGN", method=bank, day=date(2026, 11, 15))
        paid_at(leva, datetime(2026, 11, 15, 9, 0))
        reversal = reverse_payment(head_office_cashier(), db.session.get(Payment, leva.id), "грешен клиент")
        db.session.commit()
        paid_at(reversal, datetime(2026, 11, 16, 9, 0))
        dollars = make_payment(dealer_client, amount="22.00", currency="USD", method=cash, day=date(2026, 11, 20))
        paid_at(dollars, datetime(2026, 11, 20, 9, 0))
        midnight = make_payment(other_client, amount="10.00", method=cash, day=date(2026, 12, 1))
        paid_at(midnight, datetime(2026, 11, 30, 22, 30))
        december = make_payment(office_client, amount="20.00", method=cash, day=date(2026, 12, 5))
        paid_at(december, datetime(2026, 12, 5, 9, 0))
        dealer_admin = make_operator(north, "north-admin", DEALER_ADMINISTRATOR)
        manager = make_operator(None, "manager", MANAGER)
        return {"north": north.id, "dealer_admin": dealer_admin.username, "manager": manager.username}


def D(text):
    return Decimal(text)


def test_revenue_by_month_nets_reversals_and_keeps_the_currencies(app, payments):
    with app.app_context():
        report = reports.revenue(head_office_cashier(), AUTUMN, "month")
    # month, payments, EUR, BGN, USD, reversals, reversed EUR, total EUR
    assert report.rows == [
        ["11.2026", 3, D("40.00"), D("0.00"), D("22.00"), 1, D("-20.00"), D("60.00")],
        ["12.2026", 2, D("30.00"), D("0.00"), D("0.00"), 0, D("0.00"), D("30.00")],  # 00:30 on 01.12 is December
    ]
    assert report.total == ["Общо", 5, D("70.00"), D("0.00"), D("22.00"), 1, D("-20.00"), D("90.00")]


def test_revenue_by_method_and_by_dealer(app, payments):
    with app.app_context():
        by_method = reports.revenue(head_office_cashier(), NOVEMBER, "method")
        by_dealer = reports.revenue(head_office_cashier(), NOVEMBER, "dealer")
    assert [(row[0], row[-1]) for row in by_method.rows] == [("Банков превод", D("0.00")), ("В брой", D("60.00"))]
    assert [(row[0], row[-1]) for row in by_dealer.rows] == [("Дилър Север", D("20.00")), ("Централен офис", D("40.00"))]


def test_revenue_by_service_subtracts_what_a_reversal_undid(app, payments):
    with app.app_context():
        report = reports.revenue(head_office_cashier(), NOVEMBER, "service")
    # 40 EUR paid two months, 22 USD one month (and 0 left); the leva paid a month and were reversed.
    rows = {row[0]: (row[1], row[2]) for row in report.rows}
    assert rows["Интернет 20"] == (D("-20.00"), D("60.00"))
    assert report.total[-1] == D("60.00")


def test_a_dealers_operator_sees_only_the_dealers_revenue(app, payments, browser):
    with app.app_context():
        dealer_admin = db.session.query(Operator).filter_by(username=payments["dealer_admin"]).one()
        report = reports.revenue(dealer_admin, AUTUMN, "month")
    assert report.total == ["Общо", 1, D("0.00"), D("0.00"), D("22.00"), 0, D("0.00"), D("20.00")]
    browser.login(payments["dealer_admin"], "operator-pass-123")
    page = visible_text(browser.get("/reports/revenue/?date_from=01.11.2026&date_to=31.12.2026").text)
    assert "22,00" in page and "90,00" not in page and "40,00" not in page


def test_debtors_by_age_with_charges_less_the_advance(app):
    with app.app_context():
        north = make_dealer("Север")
        service = make_service("Интернет 20", monthly_fee="20.00")
        behind = make_client(None, "Два Месеца", phone="0888 111 222")
        make_subscription(behind, service, activation_date=date(2026, 1, 1), paid_until=date(2026, 10, 31))
        recent = make_client(north, "Един Месец")
        make_subscription(recent, service, activation_date=date(2026, 1, 1), paid_until=date(2026, 11, 30))
        add_charge(recent, "Рутер", "15.00", type_code="other")
        db.session.commit()
        make_payment(recent, amount="5.00")  # less than the charge and a month: kept as an advance
        paid_ahead = make_client(None, "Платил Напред")
        make_subscription(paid_ahead, service, activation_date=date(2026, 1, 1), paid_until=date(2026, 12, 31))
        report = reports.debtors(head_office_cashier(), {}, today=date(2026, 12, 10))
    # number, name, phone, address, dealer, unpaid since, days, age, months, fees, charges, advance, due
    assert [row[1:2] + row[4:] for row in report.rows] == [
        ["Два Месеца", "Централен офис", date(2026, 11, 1), 40, "31–60", 2, D("40.00"), D("0.00"), D("0.00"),
         D("40.00")],
        ["Един Месец", "Дилър Север", date(2026, 12, 1), 10, "1–30", 1, D("20.00"), D("15.00"), D("5.00"), D("30.00")],
    ]
    assert report.rows[0][2] == "0888 111 222"
    assert report.total[-1] == D("70.00")
    assert report.by_age == [("1–30", 1, D("30.00")), ("31–60", 1, D("40.00")), ("61–90", 0, D("0.00")),
                             ("> 90", 0, D("0.00"))]


def test_the_debtors_advances_for_a_mix_of_advances_are_those_of_the_payments_clients(app):
    """The debtors' advance is summed from the allocations' own client (PaymentAllocation.client_id): for a
    small advance, a reversed one, one larger than the debt, one spent in part at the desk and one whose
    payment was moved to another client, it is what the payments' clients hold — the same figures as summing
    through the payments (the query before the allocations carried their client)."""
    from app.billing.models import PaymentAllocation
    from app.billing.opening import carry_credit
    from app.billing.services import record_payment
    from sqlalchemy.orm import aliased

    with app.app_context():
        cashier = head_office_cashier()
        service = make_service("Интернет 20", monthly_fee="20.00")

        def behind(name, paid_until=date(2026, 11, 30)):
            client = make_client(None, name)
            return client, make_subscription(client, service, activation_date=date(2026, 1, 1),
                                             paid_until=paid_until)

        small, _ = behind("Малък Аванс")
        make_payment(small, amount="5.00")
        reversed_, _ = behind("Сторниран Аванс")
        reverse_payment(cashier, make_payment(reversed_, amount="6.00"), "грешка")
        db.session.commit()
        large, _ = behind("Голям Аванс")
        carry_credit(cashier, large, Decimal("30.00"), date(2026, 9, 15), "стар.csv, ред 2")
        db.session.commit()
        spent, spent_subscription = behind("Похарчен Аванс", paid_until=date(2026, 10, 31))
        carry_credit(cashier, spent, Decimal("12.00"), date(2026, 9, 15), "стар.csv, ред 3")
        db.session.commit()
        record_payment(cashier, spent, periods={spent_subscription.id: 1})  # November: 12,00 of the advance
        db.session.commit()
        moved_from, _ = behind("Преместен От")
        moved_to, _ = behind("Преместен При")
        moved = make_payment(moved_from, amount="7.00")
        db.session.get(Payment, moved.id).client_id = moved_to.id
        db.session.commit()
        report = reports.debtors(head_office_cashier(), {}, today=date(2026, 12, 10))
        reversal = aliased(Payment)
        through_payments = dict(db.session.execute(
            select(Payment.client_id, func.sum(PaymentAllocation.amount_eur))
            .join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
            .where(PaymentAllocation.kind == "advance",
                   ~select(reversal.id).where(reversal.reversal_of_id == PaymentAllocation.payment_id).exists())
            .group_by(Payment.client_id)).all())
        names = {client.name: client.id for client in (small, reversed_, large, spent, moved_from, moved_to)}
    # name, unpaid since, months, fees, charges, advance, due
    assert [[row[1], row[5], *row[8:]] for row in report.rows] == [
        ["Малък Аванс", date(2026, 12, 1), 1, D("20.00"), D("0.00"), D("5.00"), D("15.00")],
        ["Сторниран Аванс", date(2026, 12, 1), 1, D("20.00"), D("0.00"), D("0.00"), D("20.00")],
        ["Похарчен Аванс", date(2026, 12, 1), 1, D("20.00"), D("0.00"), D("0.00"), D("20.00")],
        ["Преместен От", date(2026, 12, 1), 1, D("20.00"), D("0.00"), D("0.00"), D("20.00")],
        ["Преместен При", date(2026, 12, 1), 1, D("20.00"), D("0.00"), D("7.00"), D("13.00")],
    ]
    for row in report.rows:
        assert row[11] == D(str(through_payments.get(names[row[1]], 0))).quantize(D("0.01"))
    assert D(str(through_payments[names["Голям Аванс"]])) == D("30.00")  # more than owed: no debtor
    assert report.total[-4:] == [D("100.00"), D("0.00"), D("12.00"), D("88.00")]
    assert report.by_age[0] == ("1–30", 5, D("88.00"))


def test_the_debtors_screen_shows_a_page_and_the_totals_of_all_while_the_export_writes_every_row(
        app, admin, monkeypatch):
    monkeypatch.setattr(reports, "DEBTORS_PAGE", 2)
    with app.app_context():
        service = make_service("Интернет 20", monthly_fee="20.00")
        month_end = local_today().replace(day=1) - timedelta(days=1)
        for number in (1, 2, 3):  # paid to the end of 3, 2 and 1 months ago: that many months owed
            paid_until = month_end
            for _month in range(3 - number):
                paid_until = paid_until.replace(day=1) - timedelta(days=1)
            client = make_client(None, f"Длъжник {number}")
            make_subscription(client, service, activation_date=date(2025, 1, 1), paid_until=paid_until)
        db.session.commit()
    first = visible_text(admin.get("/reports/debtors/").text)
    # the oldest two on the first page, the third on the next; the totals are of all three: 3+2+1 months
    assert "Длъжник 1" in first and "Длъжник 2" in first and "Длъжник 3" not in first
    assert "1–2 от 3" in first and "3 клиента" in first and "120,00" in first
    second = visible_text(admin.get("/reports/debtors/?page=1").text)
    assert "Длъжник 3" in second and "Длъжник 1" not in second and "120,00" in second
    assert "Длъжник 3" in visible_text(admin.get("/reports/debtors/?page=99").text)  # past the end: the last
    rows = list(csv.reader(io.StringIO(export(admin, "report:debtors", "csv", "page=1").decode("utf-8")),
                           delimiter=";"))
    assert [row[1] for row in rows[1:-1]] == ["Длъжник 1", "Длъжник 2", "Длъжник 3"]
    assert rows[-1][-1] == "120,00"


def export(browser, source, fmt, query=""):
    """Asks for an export as the page's button does, waits for the job, downloads the file."""
    response = browser.submit("/exports/start", {"source": source, "fmt": fmt, "query": query},
                              form_url="/reports/revenue/")
    assert response.status_code == 302, response.text[:500]
    wait_for_background_jobs(browser.client.application)
    status = browser.get(response.headers["Location"] + "/status").get_json()
    assert status["status"] == "done" and status["percent"] == 100, status
    download = browser.get(status["download"])
    assert download.status_code == 200
    return download.data


def test_the_revenue_exports_hold_the_screens_figures(app, payments, admin, tmp_path):
    query = "date_from=01.11.2026&date_to=31.12.2026&group_by=month"
    rows = list(csv.reader(io.StringIO(export(admin, "report:revenue", "csv", query).decode("utf-8")),
                           delimiter=";"))
    assert rows[0][0].startswith("\ufeff")  # the BOM Excel needs to read UTF-8
    assert rows[1] == ["11.2026", "3", "40,00", "0,00", "22,00", "1", "-20,00", "60,00"]
    assert rows[-1] == ["Общо", "5", "70,00", "0,00", "22,00", "1", "-20,00", "90,00"]
    book = load_workbook(io.BytesIO(export(admin, "report:revenue", "xlsx", query)))
    sheet = book.active
    assert sheet.freeze_panes == "A2"
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[1] == ["11.2026", 3, 40, 0, 22, 1, -20, 60]
    assert values[-1][-1] == 90 and sheet.cell(row=2, column=8).number_format == "#,##0.00"
    pdf = tmp_path / "revenue.pdf"
    pdf.write_bytes(export(admin, "report:revenue", "pdf", query))
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                              check=True).stdout
        assert "Приходи по месец" in text and "90,00" in text and "01.11.2026" in text and "стр. 1 от 1" in text
    with app.app_context():
        notes = [entry.note for entry in db.session.query(LogEntry).filter_by(operation="export")]
    assert len(notes) == 3 and all("От: 01.11.2026" in note for note in notes)


def test_formula_cells_are_neutralised_in_every_list_export(app, admin):
    with app.app_context():
        make_client(None, "=HYPERLINK(\"http://evil\";\"click\")", phone="+359 888 000 111")
    rows = list(csv.reader(io.StringIO(export(admin, "list:ClientView", "csv").decode("utf-8-sig")),
                           delimiter=";"))
    names = [row[1] for row in rows[1:]]
    assert "'=HYPERLINK(\"http://evil\";\"click\")" in names
    assert "'+359 888 000 111" in [row[2] for row in rows[1:]]
    sheet = load_workbook(io.BytesIO(export(admin, "list:ClientView", "xlsx"))).active
    cells = [cell.value for row in sheet.iter_rows(min_row=2) for cell in row]
    assert "'=HYPERLINK(\"http://evil\";\"click\")" in cells
    assert not any(isinstance(value, str) and value.startswith("=") for value in cells)
    # A phone is a text cell shown as typed: no visible quote, never a formula.
    phone = next(cell for row in sheet.iter_rows(min_row=2) for cell in row if cell.value == "+359 888 000 111")
    assert phone.data_type == "s" and phone.quotePrefix


def test_a_dealers_operator_exports_only_the_dealers_rows(app, payments):
    browser = Browser(app)
    browser.login(payments["dealer_admin"], "operator-pass-123")
    rows = list(csv.reader(io.StringIO(export(browser, "list:PaymentView", "csv").decode("utf-8-sig")),
                           delimiter=";"))
    assert len(rows) == 2 and "Петър Северен" in rows[1][2]  # the header and the dealer's one payment
    report_rows = list(csv.reader(io.StringIO(export(browser, "report:revenue", "csv",
                                                     "date_from=01.11.2026&date_to=31.12.2026").decode("utf-8-sig")),
                                  delimiter=";"))
    assert report_rows[-1][-1] == "20,00"


def test_an_export_needs_the_right_and_is_the_askers_own(app, payments):
    cashier_browser = Browser(app)
    with app.app_context():
        make_operator(None, "desk", CASHIER)
    cashier_browser.login("op-desk-office", "operator-pass-123")
    response = cashier_browser.submit("/exports/start", {"source": "list:PaymentView", "fmt": "csv", "query": ""},
                                      form_url="/clients/add")
    assert response.status_code in (302, 403)
    with app.app_context():
        assert db.session.query(Export).count() == 0
    manager = Browser(app)
    manager.login(payments["manager"], "operator-pass-123")
    response = manager.submit("/exports/start", {"source": "list:PaymentView", "fmt": "csv", "query": ""},
                              form_url="/reports/revenue/")
    export_page = response.headers["Location"]
    wait_for_background_jobs(app)
    other = Browser(app)
    other.login(payments["dealer_admin"], "operator-pass-123")
    assert other.get(export_page + "/download").status_code == 404
    assert manager.get(export_page + "/download").status_code == 200


def test_a_large_export_runs_in_the_worker_and_shows_its_progress(app, admin, database_url):
    """2,500 LOG entries exported through Redis: the request only queues it, worker.py writes it page by page
    (progress in Redis), the page then offers the file; a day later the cleanup removes it."""
    redis_or_skip()
    queue_name = f"billing-test-{uuid.uuid4().hex[:8]}"
    queued_app = create_app(app_config(database_url, REDIS_URL=REDIS_URL, JOB_QUEUE_NAME=queue_name))
    with app.app_context():
        db.session.execute(insert(LogEntry), [{"operation": LogEntry.JOB, "note": f"ред {index}",
                                               "issued_at": datetime(2026, 11, 1, 8, 0), "changes": {}}
                                              for index in range(2500)])
        db.session.commit()
    browser = Browser(queued_app)
    browser.login()
    response = browser.submit("/exports/start", {"source": "list:LogView", "fmt": "csv", "query": ""},
                              form_url="/reports/revenue/")
    page = response.headers["Location"]
    assert browser.get(page + "/status").get_json()["status"] == "queued"  # the request did not write it
    assert "0 %" in visible_text(browser.get(page).text)
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=REDIS_URL, JOB_QUEUE_NAME=queue_name,
               SECRET_KEY="test-secret-key-for-the-test-suite-only")
    worker = subprocess.run([sys.executable, "worker.py", "--burst"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=300)
    assert worker.returncode == 0, worker.stderr[-3000:]
    with queued_app.app_context():
        written = db.session.get(Export, int(page.rsplit("/", 1)[1]))
        entries = db.session.query(LogEntry).count()  # the 2,500, the logins and the export's own entry
        assert entries > 2500 and get_progress(progress_key(written)) == (entries, entries)
    status = browser.get(page + "/status").get_json()
    assert status["status"] == "done" and status["rows"] == entries
    rows = list(csv.reader(io.StringIO(browser.get(status["download"]).data.decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == entries + 1 and any("ред 2499" in cell for row in rows for cell in row)
    with app.app_context():
        file_name = db.session.query(Export).one().file_name
        assert files.find(file_name) is not None
        cleanup_exports(now=datetime(2100, 1, 1))
        db.session.commit()
        assert files.find(file_name) is None and db.session.query(Export).count() == 0
        assert db.session.query(files.StoredFileChunk).count() == 0


def test_the_cash_desk_report_adds_up_per_operator_day_and_method_and_says_what_is_closed(app, payments):
    from app.cashdesk.services import close_day

    with app.app_context():
        admin = head_office_cashier()
        close_day(admin, admin, date(2026, 11, 3))
        db.session.commit()
        report = reports.cash_desk(admin, NOVEMBER)
    # day, operator, method, payments, EUR, BGN, USD, total EUR, closed
    assert [row[:4] + row[7:] for row in report.rows] == [
        ["03.11.2026", "Администратор Тестов", "В брой", 1, D("40.00"), True],
        ["15.11.2026", "Администратор Тестов", "Банков превод", 1, D("20.00"), False],
        ["16.11.2026", "Администратор Тестов", "Банков превод", 1, D("-20.00"), False],
        ["20.11.2026", "Администратор Тестов", "В брой", 1, D("20.00"), False],
    ]
    assert report.total[7] == D("60.00")


def test_the_services_report_counts_subscriptions_by_status_and_those_activated_in_the_period(app):
    with app.app_context():
        north = make_dealer("Север")
        fast, slow = make_service("Бърз", monthly_fee="30.00"), make_service("Бавен", monthly_fee="10.00")
        for index, (dealer, service, status, activated) in enumerate([
                (None, fast, "active", date(2026, 11, 5)), (None, fast, "suspended", date(2026, 3, 1)),
                (north, fast, "active", date(2026, 11, 20)), (None, slow, "terminated", date(2025, 1, 1)),
                (None, slow, "active", date(2026, 10, 1))]):
            make_subscription(make_client(dealer, f"Клиент {index}"), service, status=status,
                              activation_date=activated)
        report = reports.services(head_office_cashier(), NOVEMBER)
    # group, service, dealer, pending, active, suspended, terminated, activated in the period
    assert [row[1:] for row in report.rows] == [
        ["Бавен", "Централен офис", 0, 1, 0, 1, 0],
        ["Бърз", "Дилър Север", 0, 1, 0, 0, 1],
        ["Бърз", "Централен офис", 0, 1, 1, 0, 1],
    ]
    assert report.total[3:] == [0, 3, 1, 1, 2]


def test_traffic_and_online_reports_from_the_radius_tables(app):
    from app.billing.models import DailyTraffic
    from app.radius.models import Nas, RadiusSession

    gib = 1024 ** 3
    with app.app_context():
        north = make_dealer("Север")
        service = make_service("Интернет RADIUS", username_type="radius")
        heavy = make_subscription(make_client(None, "Много Трафик"), service, username="heavy")
        light = make_subscription(make_client(north, "Малко Трафик"), service, username="light")
        db.session.add_all([
            DailyTraffic(subscription_id=heavy.id, day=date(2026, 11, 1), bytes_in=gib, bytes_out=4 * gib),
            DailyTraffic(subscription_id=heavy.id, day=date(2026, 11, 2), bytes_in=0, bytes_out=5 * gib),
            DailyTraffic(subscription_id=light.id, day=date(2026, 11, 2), bytes_in=gib // 2, bytes_out=gib // 2),
            DailyTraffic(subscription_id=light.id, day=date(2026, 12, 1), bytes_in=100 * gib, bytes_out=0),
        ])
        nas = Nas(name="NAS 1", ip_address="192.0.2.1", secret="s3cret-s3cret")
        db.session.add(nas)
        db.session.flush()
        now = datetime(2026, 11, 2, 10, 0)
        db.session.add_all([
            RadiusSession(nas_id=nas.id, acct_session_id="a", username="heavy", subscription_id=heavy.id,
                          started_at=now, updated_at=now, input_bytes=gib, output_bytes=2 * gib),
            RadiusSession(nas_id=nas.id, acct_session_id="b", username="light", subscription_id=light.id,
                          started_at=now, updated_at=now, stopped_at=now),
        ])
        db.session.commit()
        report = reports.traffic(head_office_cashier(), NOVEMBER)
        per_day = reports.traffic_per_day(head_office_cashier(), NOVEMBER)
        dealer_admin = make_operator(north, "north", DEALER_ADMINISTRATOR)
        dealers_view = reports.traffic(dealer_admin, NOVEMBER)
        online = reports.online(head_office_cashier(), {})
    assert [(row[0], row[4], row[5], row[6]) for row in report.rows] == [
        ("heavy", D("9.00"), D("1.00"), D("10.00")), ("light", D("0.50"), D("0.50"), D("1.00"))]
    assert report.total[-1] == D("11.00")
    assert per_day == [(date(2026, 11, 1), D("5.00")), (date(2026, 11, 2), D("6.00"))]
    assert [row[0] for row in dealers_view.rows] == ["light"] and dealers_view.total[-1] == D("1.00")
    assert [(row[0], row[3], row[6]) for row in online.rows] == [("heavy", "NAS 1", D("2.00"))]


def test_the_home_page_compares_the_months_revenue_for_whoever_may_see_reports(app, admin):
    with app.app_context():
        client = make_client(None, "Плащащ Днес")
        make_subscription(client, make_service("Интернет 20", monthly_fee="20.00"), paid_until=date(2030, 1, 31))
        make_payment(client, amount="12.00")
    home = visible_text(admin.get("/").text)
    assert "Приходи този месец" in home and "12,00 EUR" in home


def changed_at(subscription, moment):
    """Places the subscription's latest change (its newest version's transaction) at `moment` (UTC)."""
    version, transaction = version_class(Subscription), versioning_manager.transaction_cls
    latest = db.session.scalar(select(func.max(version.transaction_id)).where(version.id == subscription.id))
    db.session.execute(update(transaction).where(transaction.id == latest).values(issued_at=moment))
    db.session.commit()


@pytest.fixture
def movements(app):
    """Three subscriptions activated in October, November and December 2026; the October one suspended on
    10.11 (then its "paid until" moved while suspended: no second suspension), the November one terminated at
    00:30 on 01.12 Sofia time (30.11 22:30 UTC: December); a dealer's one activated in November. Written in
    the order they happened, as the LOG numbers its transactions."""
    with app.app_context():
        north = make_dealer("Север")
        service = make_service("Интернет 20", monthly_fee="20.00")
        actor = head_office_cashier()

        def activated(name, dealer, day, paid_until):
            subscription = make_subscription(make_client(dealer, name), service, activation_date=day,
                                             paid_until=paid_until)
            changed_at(subscription, datetime(day.year, day.month, day.day, 9, 0))
            return subscription

        october = activated("Октомври", None, date(2026, 10, 5), date(2026, 10, 31))
        november = activated("Ноември", None, date(2026, 11, 3), date(2026, 11, 30))
        change_status(actor, db.session.get(Subscription, october.id), "suspended", "не е платил")
        db.session.commit()
        changed_at(october, datetime(2026, 11, 10, 9, 0))
        db.session.get(Subscription, october.id).paid_until = date(2026, 11, 15)
        db.session.commit()
        changed_at(october, datetime(2026, 11, 12, 9, 0))
        activated("Северен", north, date(2026, 11, 20), date(2026, 11, 30))
        change_status(actor, db.session.get(Subscription, november.id), "terminated", "прекрати договора")
        db.session.commit()
        changed_at(november, datetime(2026, 11, 30, 22, 30))
        activated("Декември", None, date(2026, 12, 1), date(2026, 12, 31))
        return {"north": north.id}


def test_services_by_month_counts_activations_suspensions_and_terminations_once(app, movements):
    with app.app_context():
        report = reports.service_movement(head_office_cashier(), AUTUMN | {"date_from": date(2026, 10, 1)})
        office = reports.service_movement(head_office_cashier(), AUTUMN | {"date_from": date(2026, 10, 1),
                                                                             "dealer": 0})
    # month, activated, suspended, terminated, net growth
    assert report.rows == [["10.2026", 1, 0, 0, 1], ["11.2026", 2, 1, 0, 2], ["12.2026", 1, 0, 1, 0]]
    assert report.total == ["Общо", 4, 1, 1, 3]
    assert office.total == ["Общо", 3, 1, 1, 2]  # head office's own: the dealer's activation left out


def test_the_services_report_as_of_a_day_counts_the_statuses_of_then(app, movements, admin):
    with app.app_context():
        before = reports.services(head_office_cashier(), {"as_of": date(2026, 11, 9)})
        after = reports.services(head_office_cashier(), {"as_of": date(2026, 11, 30)})
        now = reports.services(head_office_cashier(), {})
    # group, service, dealer, pending, active, suspended, terminated
    assert before.total[3:] == [0, 2, 0, 0]  # October's and November's; the dealer's came on 20.11
    assert after.total[3:] == [0, 2, 1, 0]  # terminated only at 00:30 on 01.12
    assert now.total[3:] == [0, 2, 1, 1]
    page = visible_text(admin.get("/reports/services/?as_of=09.11.2026").text)
    assert "Услуги към 09.11.2026" in page
    movement = admin.get("/reports/movement/?date_from=01.10.2026&date_to=31.12.2026")
    assert movement.status_code == 200 and "<svg" in movement.text
    assert "12.2026" in visible_text(movement.text)
