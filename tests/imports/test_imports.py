"""Moving in from another system: clients and subscriptions from CSV and XLSX, a dry run first, idempotent."""
import io
import os
from datetime import date, timedelta

import pytest
from pyrad import packet as radius_packet
from sqlalchemy import func, select

from app.audit.models import LogEntry
from app.billing.models import Charge, CycleEffect
from app.billing.cycle import start_run
from app.clients.models import Client, Subscription
from app.core.actors import acting_as
from app.core.queue import wait_for_background_jobs
from app.core.formatting import local_today
from app.core.transaction import unit_of_work
from app.extensions import db
from app.imports.models import ImportKey
from app.imports.reading import read_table
from app.imports.services import import_file, refused_rows_file
from app.networks.models import IpAllocation
from app.networks.services import allocate_address
from app.radius import auth, lean, load_dictionary
from app.radius.server import NasInfo
from tests.conftest import ADMIN_USERNAME, Browser
from tests.factories import make_client, make_dealer, make_network, make_operator, make_service, make_subscription

CLIENT_HEADER = "Клиентски номер;Вид;Име;ЕГН;ЕИК;ДДС номер;Телефон;Имейл;Адрес;Стара колона"
CLIENT_ROWS = [
    "1001;физическо лице;Иван Петров;7501020018;;;0888 123 456;ivan@example.bg;гр. София, бл. 5;x",
    "1002;фирма;Тест ООД;;123456786;BG123456786;02 987 654;;гр. Пловдив;",
    "1003;физическо лице;Грешен Егн;7501020019;;;;;;",
    "1004;фирма;Фирма Без Еик;;;;;;;",
    "1001;физическо лице;Повторен Номер;8001010008;;;;;;",
    "1005;марсианец;Странен Вид;;;;;;;",
    "1006;фирма;Лош Еик ООД;;123456789;;;;;",
]
CLIENT_REFUSALS = {4: "контролната цифра", 5: "ЕИК", 6: "1001", 7: "марсианец", 8: "ЕИК"}

PAID_AHEAD = date.today() + timedelta(days=14 * 31)  # 14 months ahead
SUBSCRIPTION_HEADER = ("Номер на абонамента;Клиентски номер;Услуга;Статус;Активиран на;Платено до;Месечна такса;"
                       "Потребителско име;Парола;MAC адрес;IP адреси")
SUBSCRIPTION_ROWS = [
    f"5001;1001;Интернет 100;активен;15.03.2021;{PAID_AHEAD:%d.%m.%Y};12,90;ivan;tajna-123;aa-bb-cc-dd-ee-01;"
    "10.20.0.15",
    "5002;1002;интернет 100;спрян;2020-01-10;30.11.2026;12.90;firma;parola-2;;",
    "5003;9999;Интернет 100;активен;;;;;;;",
    "5004;1001;Телевизия;активен;;;;;;;",
    "5005;1001;Интернет 100;замразен;;;;;;;",
    "5006;1001;Интернет 100;активен;31.11.2026;;;;;;",
    "5007;1001;Интернет 100;активен;;;;IVAN;x;;",
    "5008;1001;Интернет 100;активен;;;;;;zz:zz;",
    "5009;1001;Интернет 100;активен;;;15,00;;;;",
    "5010;1001;Интернет 100;активен;;;;;;;10.20.0.50",
    "5011;1001;Интернет 100;активен;;;;;;;192.168.5.5",
    "5012;1001;Интернет 100;активен;;;;taken-user;x;;",
    "5013;1001;Интернет 100;активен;;;;;;;10.20.0.15",
]
SUBSCRIPTION_REFUSALS = {
    4: "9999", 5: "Телевизия", 6: "замразен", 7: "31.11.2026", 8: "IVAN", 9: "MAC", 10: "15,00",
    11: "10.20.0.50 е зает", 12: "192.168.5.5", 13: "taken-user", 14: "10.20.0.15",
}


def csv_bytes(header, rows, encoding="utf-8-sig"):
    return ("\r\n".join([header, *rows]) + "\r\n").encode(encoding)


def administrator():
    from flask import current_app

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
            for model in (Client, Subscription, ImportKey, IpAllocation, Charge)} | {
        "import_log": db.session.scalar(select(func.count()).where(LogEntry.operation == "import"))}


@pytest.fixture
def catalog(app):
    with app.app_context():
        service = make_service("Интернет 100", ip_count=1, username_type="radius")
        make_network("10.20.0.0/24", "Абонати")
        holder = make_subscription(make_client(None, "Стар Абонат"), service, username="taken-user")
        allocate_address("10.20.0.50", service=service, subscription_id=holder.id)
        db.session.commit()
        yield service


def test_clients_dry_run_lists_the_bad_rows_writes_nothing_then_runs_reruns_and_takes_corrections(app):
    content = csv_bytes(CLIENT_HEADER, CLIENT_ROWS)
    with app.app_context():
        before = counts()
        report = run_import(content, "клиенти.csv", "clients", dry_run=True)
        assert report["unknown_columns"] == ["Стара колона"]
        reasons = refused(report)
        assert sorted(reasons) == sorted(CLIENT_REFUSALS)
        for number, word in CLIENT_REFUSALS.items():
            assert word in reasons[number], (number, reasons[number])
        assert "ред 2" in reasons[6]  # the repeated number points at its first row
        assert report["totals"] == {"created": 2, "changed": 0, "unchanged": 0, "refused": 5}
        assert counts() == before

        report = run_import(content, "клиенти.csv", "clients")
        assert refused(report).keys() == CLIENT_REFUSALS.keys()
        assert outcomes(report) == {"1001": "created", "1002": "created"}
        ivan = db.session.scalar(select(Client).where(Client.name == "Иван Петров"))
        company = db.session.scalar(select(Client).where(Client.name == "Тест ООД"))
        assert (ivan.egn, ivan.phone, ivan.address_text) == ("7501020018", "0888 123 456", "гр. София, бл. 5")
        assert (company.kind, company.eik, company.vat_registered, company.vat_number) == (
            "company", "123456786", True, "BG123456786")
        entries = db.session.scalars(select(LogEntry).where(LogEntry.operation == "import")).all()
        assert sorted(entry.note for entry in entries) == ["внос от клиенти.csv, ред 2", "внос от клиенти.csv, ред 3"]
        # The operator who ran it made the clients, in the LOG too.
        assert {entry.user_id for entry in entries} == {administrator().id}
        assert db.session.scalars(select(LogEntry.user_id).where(
            LogEntry.entity_type == "Client", LogEntry.operation == "insert")).all() == [administrator().id] * 2
        written = counts()

        again = run_import(content, "клиенти.csv", "clients")
        assert outcomes(again) == {"1001": "unchanged", "1002": "unchanged"}
        assert counts() == written

        # The refused rows come back in the file's own columns with the reason; corrected, they come in.
        returned = refused_rows_file(content, "клиенти.csv", report).decode("utf-8-sig").splitlines()
        assert returned[0] == CLIENT_HEADER + ";Причина за отказ"
        assert [line.split(";")[0] for line in returned[1:]] == ["1003", "1004", "1001", "1005", "1006"]
        corrected = csv_bytes(CLIENT_HEADER + ";Причина за отказ", [
            "1001;физическо лице;Иван Петров;7501020018;;;0899 000 111;ivan@example.bg;гр. София, бл. 5;x;",
            "1003;физическо лице;Грешен Егн;7501020018;;;;;;;стара причина",
            "1004;фирма;Фирма Без Еик;;175523453;;;;;;",
            "1005;фирма;Странен Вид;;201122335;;;;;;",
            "1006;фирма;Лош Еик ООД;;123456786;;;;;;",
        ])
        fixed = run_import(corrected, "клиенти-поправени.csv", "clients")
        assert refused(fixed) == {}
        assert fixed["unknown_columns"] == ["Стара колона"]
        assert outcomes(fixed) == {"1001": "changed", "1003": "created", "1004": "created", "1005": "created",
                                   "1006": "created"}
        assert fixed["rows"][0]["details"] == "Телефон"
        db.session.refresh(ivan)
        assert ivan.phone == "0899 000 111"
        assert db.session.scalar(select(func.count()).select_from(Client)) == 6


def test_subscriptions_keep_their_days_passwords_and_addresses_and_the_cycle_leaves_them_be(app, catalog):
    with app.app_context():
        run_import(csv_bytes(CLIENT_HEADER, CLIENT_ROWS[:2]), "клиенти.csv", "clients")
        content = csv_bytes(SUBSCRIPTION_HEADER, SUBSCRIPTION_ROWS)
        before = counts()
        report = run_import(content, "услуги.csv", "subscriptions", dry_run=True)
        reasons = refused(report)
        assert sorted(reasons) == sorted(SUBSCRIPTION_REFUSALS)
        for number, word in SUBSCRIPTION_REFUSALS.items():
            assert word in reasons[number], (number, reasons[number])
        assert counts() == before

        report = run_import(content, "услуги.csv", "subscriptions")
        assert refused(report).keys() == SUBSCRIPTION_REFUSALS.keys()
        assert outcomes(report) == {"5001": "created", "5002": "created"}
        ivan = db.session.scalar(select(Subscription).where(Subscription.username == "ivan"))
        assert (ivan.status, ivan.activation_date, ivan.paid_until) == ("active", date(2021, 3, 15), PAID_AHEAD)
        assert (ivan.password, ivan.mac_address, ivan.ip_addresses) == ("tajna-123", "AA:BB:CC:DD:EE:01",
                                                                        "10.20.0.15")
        firma = db.session.scalar(select(Subscription).where(Subscription.username == "firma"))
        assert (firma.status, firma.paid_until, len(firma.ip_allocations)) == ("suspended", date(2026, 11, 30), 1)
        # Installed and paid in the old system: no installation fee, nothing owed from the sale.
        assert db.session.scalar(select(func.count()).select_from(Charge)) == 0
        written = counts()
        assert outcomes(run_import(content, "услуги.csv", "subscriptions")) == {"5001": "unchanged",
                                                                               "5002": "unchanged"}
        assert counts() == written

        # Paid 14 months ahead: tomorrow's cycle neither warns nor suspends.
        with unit_of_work():
            start_run(local_today() + timedelta(days=1), "тест", allow_future=True)
        db.session.expire_all()
        assert db.session.get(Subscription, ivan.id).status == "active"
        assert db.session.scalars(select(CycleEffect.kind).where(CycleEffect.subscription_id == ivan.id)).all() == []

        # The old password logs in, as the RADIUS server checks it.
        data = auth.load({"ivan"})["ivan"]
        secret = b"nas-secret"
        packet = radius_packet.AuthPacket(code=radius_packet.AccessRequest, id=1, secret=secret,
                                          dict=load_dictionary(), authenticator=os.urandom(16))
        packet["User-Name"] = "ivan"
        packet["User-Password"] = packet.PwCrypt("tajna-123")
        packet["Calling-Station-Id"] = "AA-BB-CC-DD-EE-01"
        nas = NasInfo(1, "NAS", secret, "mikrotik", False, None, None)
        assert auth.decide(lean.from_pyrad(packet, nas, None), data, local_today()) == (auth.ACCEPT, True, True)
        wrong = radius_packet.AuthPacket(code=radius_packet.AccessRequest, id=2, secret=secret,
                                         dict=load_dictionary(), authenticator=os.urandom(16))
        wrong["User-Password"] = wrong.PwCrypt("друга")
        assert not auth.password_matches(lean.from_pyrad(wrong, nas, None), data.password)

        # A corrected file: the refused rows fixed, and one subscription paid further.
        corrected = csv_bytes(SUBSCRIPTION_HEADER, [
            SUBSCRIPTION_ROWS[0].replace(f"{PAID_AHEAD:%d.%m.%Y}", "31.12.2028"),
            "5003;1002;Интернет 100;активен;;;;;;;10.20.0.60",
            "5004;1002;Интернет 100;чака инсталация;;;;;;;",
        ])
        fixed = run_import(corrected, "услуги-2.csv", "subscriptions")
        assert outcomes(fixed) == {"5001": "changed", "5003": "created", "5004": "created"}
        assert fixed["rows"][0]["details"] == "Платено до"
        db.session.refresh(ivan)
        assert ivan.paid_until == date(2028, 12, 31)
        statuses = dict(db.session.execute(select(Subscription.status, func.count()).group_by(Subscription.status)).all())
        assert statuses == {"active": 3, "suspended": 1, "pending": 1}


def test_a_windows_1251_csv_with_semicolons_and_decimal_commas(app, catalog):
    with app.app_context():
        clients = csv_bytes("Клиентски номер;Име;Телефон", ["77;Мария Георгиева;0877 111 222"], "cp1251")
        assert outcomes(run_import(clients, "old.csv", "clients")) == {"77": "created"}
        subscriptions = csv_bytes("Номер на абонамента;Клиентски номер;Услуга;Платено до;Месечна такса",
                                  ["9;77;Интернет 100;01.02.2027;12,90"], "cp1251")
        report = run_import(subscriptions, "old-subs.csv", "subscriptions")
        assert refused(report) == {}
        subscription = db.session.scalar(select(Subscription).join(Client).where(Client.name == "Мария Георгиева"))
        assert (subscription.paid_until, subscription.service.name) == (date(2027, 2, 1), "Интернет 100")


def test_an_xlsx_file_read_by_its_headers_in_any_order(app):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Име", "ЕГН", "Клиентски номер", "Бележка"])
    sheet.append(["Петя Иванова", 541010000, 31, "от Excel"])  # a number cell: the ЕГН's leading 0 is gone
    buffer = io.BytesIO()
    workbook.save(buffer)
    with app.app_context():
        report = run_import(buffer.getvalue(), "клиенти.xlsx", "clients")
        assert (report["format"], refused(report), outcomes(report)) == ("XLSX", {}, {"31": "created"})
        client = db.session.scalar(select(Client).where(Client.name == "Петя Иванова"))
        assert (client.egn, client.comment) == ("0541010000", "от Excel")


def test_the_panel_page_dry_run_then_run_and_the_refused_rows(app, catalog):
    browser = Browser(app)
    browser.login()
    page = browser.get("/import/")
    assert page.status_code == 200 and "Клиентски номер" in page.text
    template = browser.get("/import/template/subscriptions")
    assert template.data.decode("utf-8-sig").splitlines()[0] == SUBSCRIPTION_HEADER.replace(
        "IP адреси", "IP адреси;Адрес на услугата")
    content = csv_bytes(CLIENT_HEADER, CLIENT_ROWS)
    response = browser.submit("/import/upload", {"kind": "clients", "file": (io.BytesIO(content), "клиенти.csv")},
                              form_url="/import/", content_type="multipart/form-data")
    assert response.status_code == 302
    report_url = response.headers["Location"]
    wait_for_background_jobs(app)  # the dry run is a job (in this process's background thread without Redis)
    page = browser.get(report_url).text
    assert "Пробно внасяне: нищо не е записано" in page and "Стара колона" in page
    assert "Невалидно ЕГН" in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Client)) == 1  # the catalog's own holder
    response = browser.submit(report_url.rstrip("/") + "/run", {}, form_url=report_url)
    assert response.status_code == 302
    wait_for_background_jobs(app)
    page = browser.get(report_url).text
    assert "Внасянето завърши" in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Client)) == 3
    refused_file = browser.get(report_url.rstrip("/") + "/refused")
    lines = refused_file.data.decode("utf-8-sig").splitlines()
    assert [line.split(";")[0] for line in lines[1:]] == ["1003", "1004", "1001", "1005", "1006"]


def test_only_who_holds_the_import_right(app):
    with app.app_context():
        make_operator(None, "касиер", "Касиер", username="kasier")
        db.session.commit()
    browser = Browser(app)
    browser.login("kasier", "operator-pass-123")
    assert browser.get("/import/").status_code in (302, 403)
    with app.app_context():
        cashier = app.appbuilder.sm.find_user(username="kasier")
        with acting_as(cashier), pytest.raises(Exception, match="право"):
            import_file(cashier, csv_bytes(CLIENT_HEADER, CLIENT_ROWS), "x.csv", "clients")


def test_the_command_line(app, catalog, tmp_path):
    path = tmp_path / "клиенти.csv"
    path.write_bytes(csv_bytes(CLIENT_HEADER, CLIENT_ROWS[:4]))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["import", "run", str(path), "--kind", "clients", "--dry-run",
                                 "--operator", ADMIN_USERNAME])
    assert result.exit_code == 0, result.output
    assert "Проба" in result.output and "ред 4: отказан" in result.output and "Стара колона" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ImportKey)) == 0
    with app.app_context():
        make_dealer("Север")
        db.session.commit()
    result = runner.invoke(args=["import", "run", str(path), "--kind", "clients", "--dealer", "Дилър Север",
                                 "--operator", ADMIN_USERNAME])
    assert result.exit_code == 0, result.output
    assert "създаден 2" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ImportKey)) == 2
        assert {client.dealer.name for client in db.session.scalars(
            select(Client).where(Client.name.in_(["Иван Петров", "Тест ООД"])))} == {"Дилър Север"}
    result = runner.invoke(args=["import", "run", str(path), "--kind", "clients", "--operator", "nobody"])
    assert result.exit_code != 0 and "nobody" in result.output


def test_a_comma_separated_utf8_file_with_quoted_decimal_commas_and_iso_days(app, catalog):
    with app.app_context():
        clients = "Клиентски номер,Име,Телефон\r\n88,Калина Димова,\"0877 111 222, 02 123 456\"\r\n".encode()
        assert outcomes(run_import(clients, "c.csv", "clients")) == {"88": "created"}
        subscriptions = ("Номер на абонамента,Клиентски номер,Услуга,Активиран на,Платено до,Месечна такса\r\n"
                         "8,88,Интернет 100,2024-05-01,2027-03-31,\"12,90\"\r\n").encode()
        report = run_import(subscriptions, "s.csv", "subscriptions")
        assert refused(report) == {}
        subscription = db.session.scalar(select(Subscription).join(Client).where(Client.name == "Калина Димова"))
        assert (subscription.activation_date, subscription.paid_until) == (date(2024, 5, 1), date(2027, 3, 31))
        assert subscription.client.phone == "0877 111 222, 02 123 456"


def test_a_file_that_is_no_table_or_lacks_a_required_column_is_refused_whole(app):
    with app.app_context():
        report = run_import(b"\x00\x01\x02binary", "x.csv", "clients", dry_run=True)
        assert report["error"] == "Това не е CSV или XLSX файл." and report["rows"] == []
        report = run_import(csv_bytes(SUBSCRIPTION_HEADER, SUBSCRIPTION_ROWS[:1]), "x.csv", "clients", dry_run=True)
        assert report["error"] == "Липсват колони: Име." and report["rows"] == []
        assert "Номер на абонамента" in report["unknown_columns"]


def test_a_refused_row_that_excel_would_run_goes_back_quoted_and_comes_in_as_typed(app):
    """The refused-rows file is opened in Excel: a cell starting with = + - @ must not run there; corrected and
    imported again, the cell reads as it was typed in the first file."""
    header = "Клиентски номер;Вид;Име;Телефон"
    content = csv_bytes(header, ["2001;марсианец;=HYPERLINK(\"http://example.com\");+359 888 123 456"])
    with app.app_context():
        report = run_import(content, "клиенти.csv", "clients", dry_run=True)
        returned = refused_rows_file(content, "клиенти.csv", report)
    # The report names the refused row as the file does (its name), not by its key alone.
    assert [(row["outcome"], row["label"]) for row in report["rows"]] == [("refused", '=HYPERLINK("http://example.com")')]
    line = returned.decode("utf-8-sig").splitlines()[1]
    assert line.startswith("2001;марсианец;\"'=HYPERLINK(\"\"http://example.com\"\")\";'+359 888 123 456;"), line
    assert read_table(returned, "отказани.csv").rows[0][1][2:4] == ['=HYPERLINK("http://example.com")',
                                                                 "+359 888 123 456"]


def test_the_run_is_a_job_whose_progress_the_page_follows_and_ends_with_the_report(app, catalog):
    """The dry run and the run are jobs: the page shows a bar while the rows are taken, then the report; a file
    already queued is not queued twice."""
    from app.imports.models import ImportFile
    from app.imports.runs import import_progress, start_import

    header = "Клиентски номер;Име"
    content = csv_bytes(header, [f"{3000 + number};Клиент {number}" for number in range(250)] + ["3000;Повторен"])
    with app.app_context():
        actor = administrator()
        with acting_as(actor), unit_of_work():
            record = ImportFile(kind="clients", file_name="много.csv", content=content, operator_id=actor.id)
            db.session.add(record)
            db.session.flush()
            start_import(actor, record, dry_run=False)
            assert import_progress(record)[0] == "queued"
            with pytest.raises(Exception, match="вече се внася"):
                start_import(actor, record, dry_run=False)
            file_id = record.id
        wait_for_background_jobs(app)
        db.session.expire_all()
        record = db.session.get(ImportFile, file_id)
        assert record.report["state"] == "done" and record.ran_at is not None
        assert record.report["totals"] == {"created": 250, "changed": 0, "unchanged": 0, "refused": 1}
        assert import_progress(record)[:2] == ("done", 100)
    browser = Browser(app)
    browser.login()
    page = browser.get(f"/import/{file_id}").text
    assert "Внасянето завърши" in page and "created" not in page
    assert browser.get(f"/import/{file_id}/progress").json["state"] == "done"


def test_addresses_matched_to_the_neighbourhoods_blocks_where_they_match_else_free_text_listed(app):
    from app.addresses.models import Block, City, Neighbourhood

    with app.app_context():
        sofia, plovdiv = City(name="София"), City(name="Пловдив")
        mladost = Neighbourhood(city=sofia, kind="ж.к.", name="Младост 1")
        trakia = Neighbourhood(city=plovdiv, kind="ж.к.", name="Тракия")
        db.session.add_all([sofia, plovdiv, mladost, trakia, Block(neighbourhood=mladost, name="105"),
                            Block(neighbourhood=trakia, name="3А")])
        db.session.commit()
        header = "Клиентски номер;Име;Адрес"
        content = csv_bytes(header, [
            "4001;Първи;гр. София, ж.к. Младост 1, бл. 105, вх. А, ет. 3, ап. 12",
            "4002;Втори;гр. Пловдив, ж.к. тракия бл. 3а ап. 7",
            "4003;Трети;гр. София, ж.к. Младост 1, бл. 999, ап. 1",
            "4004;Четвърти;гр. Варна, ул. Славянска 5",
            "4005;Пети;гр. Пловдив, ж.к. Младост 1, бл. 105",
            "4006;Шести;",
        ])
        dry = run_import(content, "адреси.csv", "clients", dry_run=True)
        unmatched = [[4, "гр. София, ж.к. Младост 1, бл. 999, ап. 1"], [5, "гр. Варна, ул. Славянска 5"],
                     [6, "гр. Пловдив, ж.к. Младост 1, бл. 105"]]
        assert dry["unmatched_addresses"] == unmatched
        report = run_import(content, "адреси.csv", "clients")
        assert report["unmatched_addresses"] == unmatched and refused(report) == {}
        first, second, third = (db.session.scalar(select(Client).where(Client.name == name))
                                for name in ("Първи", "Втори", "Трети"))
        assert (first.block.name, first.entrance, first.floor, first.apartment, first.address_text) == (
            "105", "А", "3", "12", None)
        assert first.address() == "гр. София, ж.к. Младост 1, бл. 105, вх. А, ет. 3, ап. 12"
        assert (second.block.name, second.apartment) == ("3А", "7")
        assert (third.block, third.address_text) == (None, "гр. София, ж.к. Младост 1, бл. 999, ап. 1")
        assert outcomes(run_import(content, "адреси.csv", "clients"))["4001"] == "unchanged"
        # Corrected: the third's block now exists in its address.
        fixed = run_import(csv_bytes(header, ["4003;Трети;гр. София, ж.к. Младост 1, бл. 105, ап. 1"]),
                           "адреси-2.csv", "clients")
        assert outcomes(fixed) == {"4003": "changed"} and "unmatched_addresses" not in fixed
        db.session.refresh(third)
        assert (third.block.name, third.apartment, third.address_text) == ("105", "1", None)


def test_the_old_client_numbers_are_kept_where_free_and_refused_where_another_client_has_them(app, catalog):
    with app.app_context():
        taken = db.session.scalar(select(Client.client_number).where(Client.name == "Стар Абонат"))
        following = str(int(taken) + 1)
        content = csv_bytes("Клиентски номер;Име", [
            "1001;Стар Номер", f"{taken};Зает Номер", f"{following};Следващ Номер", "К-0000000000000000000042;Дълъг"])
        report = run_import(content, "номера.csv", "clients", dry_run=True)
        assert refused(report) == {3: f"Клиентският номер {taken} е на друг клиент."}
        report = run_import(content, "номера.csv", "clients")
        assert refused(report) == {3: f"Клиентският номер {taken} е на друг клиент."}
        numbers = dict(db.session.execute(select(Client.name, Client.client_number)).all())
        assert (numbers["Стар Номер"], numbers["Следващ Номер"]) == ("1001", following)
        assert numbers["Дълъг"] not in ("1001", following, taken)  # too long for ours: the next free number
        # The counter passes over a number an import kept.
        assert numbers["Дълъг"] == str(int(following) + 1)
        assert make_client(None, "Нов в панела").client_number == str(int(following) + 2)
        assert outcomes(run_import(content, "номера.csv", "clients")) == {
            "1001": "unchanged", following: "unchanged", "К-0000000000000000000042": "unchanged"}


def test_rows_go_in_chunks_and_a_row_refused_after_writing_loses_no_other_row(app, catalog, monkeypatch):
    from sqlalchemy_continuum import version_class

    from app.imports import services

    monkeypatch.setattr(services, "CHUNK_ROWS", 5)
    with app.app_context():
        run_import(csv_bytes(CLIENT_HEADER, CLIENT_ROWS), "клиенти.csv", "clients")
    # No network holds 192.168.5.x: the sale writes the subscription before the address is refused.
    late = {2, 5, 6, 7}
    rows = [f"60{n:02d};1001;Интернет 100;активен;;;;chunk{n};x;;"
            + (f"192.168.5.{n}" if n in late else f"10.20.0.{100 + n}") for n in range(10)]
    with app.app_context():
        report = run_import(csv_bytes(SUBSCRIPTION_HEADER, rows), "абонаменти.csv", "subscriptions")
        assert sorted(refused(report)) == [n + 2 for n in sorted(late)]
        assert all(f"192.168.5.{number - 2}" in reason for number, reason in refused(report).items())
        kept = [f"chunk{n}" for n in range(10) if n not in late]
        subscriptions = db.session.scalars(select(Subscription).where(Subscription.username.like("chunk%"))).all()
        assert sorted(subscription.username for subscription in subscriptions) == kept
        assert sorted(subscription.ip_addresses for subscription in subscriptions) == sorted(
            f"10.20.0.{100 + n}" for n in range(10) if n not in late)
        # Each kept row: its version and its LOG line "внос от …, ред N"; a refused row left nothing behind.
        versions = version_class(Subscription)
        for subscription in subscriptions:
            assert db.session.scalar(select(func.count()).where(versions.id == subscription.id)) >= 1
        entries = db.session.scalars(select(LogEntry).where(LogEntry.operation == "import",
                                                            LogEntry.note.like("внос от абонаменти.csv%"))).all()
        assert sorted(entry.note for entry in entries) == sorted(
            f"внос от абонаменти.csv, ред {n + 2}" for n in range(10) if n not in late)
        # The first chunk's four kept rows (one row refused late) are one transaction; the second chunk had
        # three rows refused late, as many as the passes a chunk gets, so its rows went one by one: two more.
        first_versions = db.session.scalars(select(func.min(versions.transaction_id)).where(
            versions.id.in_([subscription.id for subscription in subscriptions])).group_by(versions.id)).all()
        assert len(set(first_versions)) == 3
        again = run_import(csv_bytes(SUBSCRIPTION_HEADER, rows), "абонаменти.csv", "subscriptions")
        assert again["totals"]["unchanged"] == len(kept) and again["totals"]["refused"] == len(late)
