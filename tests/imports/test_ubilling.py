"""Moving in from Ubilling: a MariaDB database in Ubilling's own format, imported with a dry run first.

The tables are this test's own CREATE TABLE statements for the tables and
columns the import reads, with the names and types of Ubilling's published
schema (docs/dumps/ubilling.sql and stargazer.sql of its repository), filled
with rows as Ubilling writes them. Needs MariaDB (TEST_MYSQL_URL, default
root on 127.0.0.1:3306): skipped when unreachable, failed in CI.
"""
import os
import secrets
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from app.billing.charges import advance_total, open_charges
from app.billing.models import Charge, Payment
from app.billing.periods import month_end
from app.clients.models import Client, Subscription
from app.core.formatting import local_today
from app.extensions import db
from app.imports.models import ImportKey
from app.networks.models import IpAllocation
from tests.conftest import ADMIN_USERNAME, Browser
from tests.factories import make_network, make_service

MYSQL_URL = os.environ.get("TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/")

SCHEMA = [
    # Stargazer's users: the columns the import reads, typed as in stargazer.sql.
    """CREATE TABLE `users` (
      `login` varchar(50) NOT NULL DEFAULT '',
      `Password` varchar(150) NOT NULL DEFAULT '*',
      `Passive` int(3) DEFAULT '0',
      `Down` int(3) DEFAULT '0',
      `Tariff` varchar(40) NOT NULL DEFAULT '',
      `Address` varchar(254) NOT NULL DEFAULT '',
      `Phone` varchar(128) NOT NULL DEFAULT '',
      `Email` varchar(50) NOT NULL DEFAULT '',
      `Note` text NOT NULL,
      `RealName` varchar(254) NOT NULL DEFAULT '',
      `Credit` double DEFAULT '0',
      `IP` varchar(254) DEFAULT '*',
      `Cash` double DEFAULT '0',
      PRIMARY KEY (`login`)
    ) DEFAULT CHARSET=utf8""",
    """CREATE TABLE `tariffs` (
      `name` varchar(40) NOT NULL DEFAULT '',
      `Fee` double DEFAULT '0',
      `period` varchar(32) NOT NULL DEFAULT 'month',
      PRIMARY KEY (`name`)
    ) DEFAULT CHARSET=utf8""",
    "CREATE TABLE `realname` (`id` int NOT NULL AUTO_INCREMENT, `login` varchar(45) DEFAULT NULL, "
    "`realname` varchar(255) DEFAULT NULL, PRIMARY KEY (`id`), KEY `login` (`login`)) DEFAULT CHARSET=utf8",
    "CREATE TABLE `phones` (`id` int NOT NULL AUTO_INCREMENT, `login` varchar(45) DEFAULT NULL, "
    "`phone` varchar(255) DEFAULT NULL, `mobile` varchar(255) DEFAULT NULL, PRIMARY KEY (`id`), "
    "KEY `login` (`login`)) DEFAULT CHARSET=utf8",
    "CREATE TABLE `emails` (`id` int NOT NULL AUTO_INCREMENT, `login` varchar(45) NOT NULL, "
    "`email` varchar(255) DEFAULT NULL, PRIMARY KEY (`id`), KEY `login` (`login`)) DEFAULT CHARSET=utf8",
    "CREATE TABLE `city` (`id` int NOT NULL AUTO_INCREMENT, `cityname` varchar(255) NOT NULL, "
    "`cityalias` varchar(45) DEFAULT NULL, PRIMARY KEY (`id`)) DEFAULT CHARSET=utf8",
    "CREATE TABLE `street` (`id` int NOT NULL AUTO_INCREMENT, `cityid` int NOT NULL, "
    "`streetname` varchar(255) NOT NULL, `streetalias` varchar(45) DEFAULT NULL, PRIMARY KEY (`id`)) "
    "DEFAULT CHARSET=utf8",
    "CREATE TABLE `build` (`id` int NOT NULL AUTO_INCREMENT, `streetid` int NOT NULL, "
    "`buildnum` varchar(10) NOT NULL, `geo` varchar(255) DEFAULT NULL, PRIMARY KEY (`id`)) DEFAULT CHARSET=utf8",
    "CREATE TABLE `apt` (`id` int NOT NULL AUTO_INCREMENT, `buildid` int NOT NULL, `entrance` varchar(15) DEFAULT NULL, "
    "`floor` varchar(15) DEFAULT NULL, `apt` varchar(5) DEFAULT NULL, PRIMARY KEY (`id`)) DEFAULT CHARSET=utf8",
    "CREATE TABLE `address` (`id` int NOT NULL AUTO_INCREMENT, `login` varchar(45) NOT NULL, `aptid` int NOT NULL, "
    "PRIMARY KEY (`id`), KEY `login` (`login`)) DEFAULT CHARSET=utf8",
    "CREATE TABLE `contracts` (`id` int NOT NULL AUTO_INCREMENT, `login` varchar(45) NOT NULL, "
    "`contract` varchar(255) DEFAULT NULL, PRIMARY KEY (`id`), KEY `login` (`login`)) DEFAULT CHARSET=utf8",
    """CREATE TABLE `payments` (
      `id` int NOT NULL AUTO_INCREMENT,
      `login` varchar(45) NOT NULL,
      `date` datetime NOT NULL,
      `admin` varchar(255) DEFAULT NULL,
      `balance` varchar(45) NOT NULL,
      `summ` varchar(45) NOT NULL,
      `cashtypeid` int NOT NULL,
      `note` varchar(200) DEFAULT NULL,
      PRIMARY KEY (`id`), KEY `login` (`login`), KEY `date` (`date`)
    ) DEFAULT CHARSET=utf8""",
    "CREATE TABLE `nethosts` (`id` int NOT NULL AUTO_INCREMENT, `netid` int NOT NULL, `ip` varchar(45) NOT NULL, "
    "`mac` varchar(45) DEFAULT NULL, `option` varchar(45) DEFAULT NULL, PRIMARY KEY (`id`), "
    "UNIQUE KEY `net-ip` (`netid`,`ip`)) DEFAULT CHARSET=utf8",
    "CREATE TABLE `networks` (`id` int NOT NULL AUTO_INCREMENT, `startip` varchar(45) NOT NULL, "
    "`endip` varchar(45) NOT NULL, `desc` varchar(45) NOT NULL, `nettype` varchar(20) NOT NULL, "
    "`use_radius` tinyint(1) NOT NULL DEFAULT '0', PRIMARY KEY (`id`)) DEFAULT CHARSET=utf8",
]

# login, Password, Passive, Down, Tariff, Address, Phone, Email, Note, RealName, Credit, IP, Cash
USERS = [
    ("ivan", "StarPass1", 0, 0, "интернет 50", "", "", "", "", "", 0, "10.30.0.10", 25.5),
    ("maria", "Mar1a-pw", 0, 0, "Gold", "гр. Варна, ул. Морска 3", "052 600 700", "maria@example.bg", "стар абонат",
     "Мария Иванова", 20, "*", -30),
    ("petar", "petarpw", 0, 0, "Old-TV", "", "", "", "", "Петър Колев", 0, "*", 0),
    ("georgi", "georgipw", 0, 1, "интернет 50", "", "", "", "", "Георги Стоянов", 0, "10.99.0.5", 0),
]
NETWORKS = [(1, "10.30.0.1", "10.30.0.254", "Абонати", "dhcpstatic"),
            (2, "10.99.0.1", "10.99.0.254", "Стара", "dhcpstatic")]


def mysql_server():
    """A connection to the MariaDB server, or None (with the reason) when unreachable."""
    import pymysql
    from sqlalchemy.engine import make_url

    url = make_url(MYSQL_URL)
    try:
        return pymysql.connect(host=url.host or "127.0.0.1", port=url.port or 3306, user=url.username or "root",
                               password=url.password or "", charset="utf8mb4", autocommit=True), None
    except pymysql.MySQLError as error:
        return None, str(error)


@pytest.fixture
def ubilling_db():
    """A fresh MariaDB database ubilling_test_<random> in Ubilling's format; its URL. Dropped afterwards."""
    server, reason = mysql_server()
    if server is None:
        if os.environ.get("CI"):
            pytest.fail(f"MariaDB at {MYSQL_URL} is unreachable in CI: {reason}")
        pytest.skip(f"MariaDB is unreachable ({MYSQL_URL}: {reason}); the Ubilling import test needs it")
    name = f"ubilling_test_{secrets.token_hex(4)}"
    cursor = server.cursor()
    cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    cursor.execute(f"USE `{name}`")
    for statement in SCHEMA:
        cursor.execute(statement)
    cursor.executemany("INSERT INTO users (login, Password, Passive, Down, Tariff, Address, Phone, Email, Note, "
                       "RealName, Credit, IP, Cash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", USERS)
    cursor.executemany("INSERT INTO tariffs (name, Fee) VALUES (%s, %s)",
                       [("интернет 50", 15), ("Gold", 15), ("Old-TV", 8)])
    cursor.execute("INSERT INTO realname (login, realname) VALUES ('ivan', 'Иван Петров')")
    cursor.execute("INSERT INTO phones (login, phone, mobile) VALUES ('ivan', '02 123 456', '0888 111 222')")
    cursor.execute("INSERT INTO emails (login, email) VALUES ('ivan', 'ivan@example.bg')")
    cursor.execute("INSERT INTO city (id, cityname) VALUES (1, 'София')")
    cursor.execute("INSERT INTO street (id, cityid, streetname) VALUES (1, 1, 'ул. Витоша')")
    cursor.execute("INSERT INTO build (id, streetid, buildnum) VALUES (1, 1, '5')")
    cursor.execute("INSERT INTO apt (id, buildid, entrance, floor, apt) VALUES (1, 1, 'А', '2', '7')")
    cursor.execute("INSERT INTO address (login, aptid) VALUES ('ivan', 1)")
    cursor.execute("INSERT INTO contracts (login, contract) VALUES ('ivan', 'D-001'), ('maria', 'D-002')")
    cursor.executemany("INSERT INTO networks (id, startip, endip, `desc`, nettype) VALUES (%s, %s, %s, %s, %s)",
                       NETWORKS)
    cursor.execute("INSERT INTO nethosts (netid, ip, mac) VALUES (1, '10.30.0.10', 'aa:bb:cc:00:00:01')")
    cursor.executemany(
        "INSERT INTO payments (id, login, `date`, admin, balance, summ, cashtypeid, note) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        [(1, "ivan", "2026-10-01 10:15:00", "admin", "10.5", "15", 1, "октомври"),
         (2, "ivan", "2026-11-01 09:00:00", "admin", "10.5", "15.00", 2, ""),
         (3, "ivan", "2026-11-02 09:00:00", "admin", "25.5", "-5", 1, "корекция"),
         (4, "petar", "2026-11-03 12:00:00", "admin", "0", "8", 1, None)])
    url = MYSQL_URL.rstrip("/") + f"/{name}"
    try:
        yield url, cursor
    finally:
        cursor.execute(f"DROP DATABASE `{name}`")
        server.close()


@pytest.fixture
def catalog(app):
    with app.app_context():
        make_service("Интернет 50", ip_count=1, username_type="radius", monthly_fee="15.00")
        make_network("10.30.0.0/24", "Абонати")
        db.session.commit()


def ubilling(app, url, *extra):
    result = app.test_cli_runner().invoke(args=["import", "ubilling", "--mysql-url", url, "--operator", ADMIN_USERNAME,
                                                "--tariff", "Gold=Интернет 50", *extra])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def counts():
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Client, Subscription, Charge, Payment, ImportKey, IpAllocation)}


def test_a_ubilling_database_moves_in_dry_run_first_then_again_unchanged_then_corrected(app, catalog, ubilling_db):
    url, cursor = ubilling_db
    with app.app_context():
        before = counts()
    output = ubilling(app, url, "--dry-run")
    assert "Проба (нищо не е записано)" in output
    # Each tariff and the service it maps to: by name (any case), by the office's choice, or none.
    assert "интернет 50 (такса 15.00, потребители 2) → Интернет 50 (15.00)" in output
    assert "Gold (такса 15.00, потребители 1) → Интернет 50 (15.00)" in output
    assert "Old-TV (такса 8.00, потребители 1) → НЯМА УСЛУГА" in output
    assert "10.99.0.1–10.99.0.254 (Стара)" in output
    lines = output.splitlines()
    refused = [line for line in lines if ": отказан" in line]
    assert len(refused) == 3, output
    assert any("Абонаменти, ред 4 (petar)" in line and "Old-TV" in line and "--tariff" in line for line in refused)
    assert any("Абонаменти, ред 1 (georgi)" in line and "10.99.0.5" in line for line in refused)
    assert any("Плащания, ред 3 (3)" in line and "Сума" in line for line in refused)
    assert "Клиенти — общо: създаден 4" in output and "Салда — общо: създаден 2" in output
    assert "Плащания — общо: създаден 3" in output
    with app.app_context():
        assert counts() == before  # a dry run writes nothing

    output = ubilling(app, url)
    assert "Клиенти — общо: създаден 4" in output and "Абонаменти — общо: създаден 2" in output
    with app.app_context():
        ivan = db.session.scalar(select(Client).where(Client.name == "Иван Петров"))
        assert (ivan.phone, ivan.email, ivan.address_text) == (
            "0888 111 222, 02 123 456", "ivan@example.bg", "София, ул. Витоша 5, вх. А, ет. 2, ап. 7")
        assert "Договор № D-001" in ivan.comment
        subscription = db.session.scalar(select(Subscription).where(Subscription.username == "ivan"))
        assert (subscription.password, subscription.service.name, subscription.ip_addresses,
                subscription.mac_address, subscription.status, subscription.paid_until) == (
            "StarPass1", "Интернет 50", "10.30.0.10", "AA:BB:CC:00:00:01", "active", month_end(local_today()))
        assert advance_total(ivan.id) == Decimal("25.50")
        history = db.session.scalars(select(Payment).where(
            Payment.client_id == ivan.id, ~Payment.allocations.any()).order_by(Payment.paid_at)).all()
        assert [(payment.paid_at.date(), payment.amount, payment.method.code, payment.note) for payment in history] == [
            (date(2026, 10, 1), Decimal("15.00"), "cash", "октомври"),
            (date(2026, 11, 1), Decimal("15.00"), "carried", None)]
        maria = db.session.scalar(select(Client).where(Client.name == "Мария Иванова"))
        assert (maria.phone, maria.email, maria.address_text) == ("052 600 700", "maria@example.bg",
                                                                  "гр. Варна, ул. Морска 3")
        assert "Договор № D-002" in maria.comment and "стар абонат" in maria.comment
        assert [(charge.description, charge.amount) for charge in open_charges(maria.id)] == [
            ("Задължение от предишната система", Decimal("30.00"))]
        maria_subscription = db.session.scalar(select(Subscription).where(Subscription.username == "maria"))
        assert (maria_subscription.password, maria_subscription.status) == ("Mar1a-pw", "active")
        petar = db.session.scalar(select(Client).where(Client.name == "Петър Колев"))
        assert db.session.scalar(select(func.count()).where(Subscription.client_id == petar.id)) == 0
        written = counts()

    output = ubilling(app, url)  # the same database again changes nothing
    assert "Клиенти — общо: създаден 0, променен 0, без промяна 4" in output
    with app.app_context():
        assert counts() == written

    # Corrected in Ubilling: Мария's debt grew, Old-TV now maps to a service.
    cursor.execute("UPDATE users SET Cash = -40 WHERE login = 'maria'")
    with app.app_context():
        make_service("Old-TV", monthly_fee="8.00")
        db.session.commit()
    output = ubilling(app, url)
    assert "Салда, ред 3 (maria): променен" in output and "Абонаменти, ред 4 (petar): създаден" in output
    with app.app_context():
        maria = db.session.scalar(select(Client).where(Client.name == "Мария Иванова"))
        assert [charge.amount for charge in open_charges(maria.id)] == [Decimal("40.00")]


def test_an_unreachable_or_foreign_database_is_refused_with_the_reason(app, ubilling_db):
    url, cursor = ubilling_db
    cursor.execute("DROP TABLE users")
    result = app.test_cli_runner().invoke(args=["import", "ubilling", "--mysql-url", url, "--operator", ADMIN_USERNAME,
                                                "--dry-run"])
    assert result.exit_code != 0 and "users" in result.output
    result = app.test_cli_runner().invoke(args=["import", "ubilling", "--mysql-url", "postgresql://x@127.0.0.1/y",
                                                "--operator", ADMIN_USERNAME])
    assert result.exit_code != 0 and "mysql+pymysql" in result.output


def test_the_import_page_reads_a_ubilling_database_dry_run_first_then_runs_it(app, catalog, ubilling_db):
    url, _cursor = ubilling_db
    address = make_url(url)
    browser = Browser(app)
    browser.login()
    page = browser.get("/import/").text
    assert "Внос от Ubilling" in page and 'name="password"' in page
    fields = {"host": address.host, "port": str(address.port or 3306), "database": address.database,
              "user": address.username or "", "password": address.password or "", "currency": "EUR",
              "tariffs": "Gold=Интернет 50"}
    with app.app_context():
        before = counts()
    page = browser.submit("/import/ubilling", {**fields, "dry_run": "1"}, form_url="/import/")
    assert page.status_code == 200
    text = page.text
    assert "Пробно внасяне: нищо не е записано" in text and "Old-TV" in text and "Няма услуга" in text
    assert "10.99.0.5" in text  # a refused row with its reason
    with app.app_context():
        assert counts() == before
    page = browser.submit("/import/ubilling", {**fields, "dry_run": "0"}, form_url="/import/")
    assert page.status_code == 200 and "Внасянето завърши" in page.text
    with app.app_context():
        assert db.session.scalar(select(Subscription.password).where(Subscription.username == "ivan")) == "StarPass1"
        assert counts()["Client"] == before["Client"] + 4
    # A form without a server or database, or an unreachable one: the reason on the page, nothing written.
    page = browser.submit("/import/ubilling", {**fields, "host": "", "dry_run": "1"}, form_url="/import/",
                          follow_redirects=True)
    assert "Посочете сървъра на базата" in page.text
    page = browser.submit("/import/ubilling", {**fields, "port": "1", "dry_run": "1"}, form_url="/import/",
                          follow_redirects=True)
    assert page.status_code == 200 and "Базата на Ubilling не може да бъде прочетена" in page.text
