"""Moving in at scale: clients and subscriptions from generated XLSX files, dry run and run, time and memory.

`.venv/bin/python bench/import.py [--clients 50000] [--subscriptions 60000]` — SQLite in a temporary folder
unless BENCH_DATABASE_URL names a PostgreSQL database (its public schema is then dropped and migrated from
empty). Writes two XLSX files (openpyxl's write-only mode): the clients (a third of them with an address that
names a block of the seeded neighbourhoods, a third an unknown block, a third a street; every 500th row with a
wrong ЕГН) and their subscriptions (every 5th client has two; usernames and passwords, a RADIUS service,
paid until a day in the next year; every 500th row names an unknown service). Then, as the administrator,
each file's dry run and real run through `import_file` exactly as the import page's job runs it (chunks of
500 rows, each chunk one unit of work), timed, with the process's peak resident memory (resource.getrusage) after each step and
the peak of Python's allocations during it (tracemalloc, with --tracemalloc: slower, so times are taken
without it). Memory flat in the number of rows: run it at two sizes and compare.
"""
import argparse
import io
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import create_app  # noqa: E402
from app.addresses.models import Block, City, Neighbourhood  # noqa: E402
from app.core.actors import acting_as  # noqa: E402
from app.core.transaction import unit_of_work  # noqa: E402
from app.extensions import db  # noqa: E402
from app.imports.services import import_file  # noqa: E402
from tests.conftest import ADMIN_USERNAME, app_config, migrate_and_prepare  # noqa: E402

NEIGHBOURHOODS, BLOCKS = 20, 50  # 1,000 blocks


def database_url():
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        from tests.conftest import reset_postgres

        reset_postgres(url)
        return url
    return f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench-import.db'}"


def egn(n):
    """A valid ЕГН (born 1950–1999), from its check digit's rule."""
    year, month, day = 50 + n % 50, 1 + n % 12, 1 + n % 28
    digits = f"{year:02d}{month:02d}{day:02d}{n % 1000:03d}"
    weights = (2, 4, 8, 5, 10, 9, 7, 3, 6)
    check = sum(int(d) * w for d, w in zip(digits, weights)) % 11 % 10
    return digits + str(check)


def xlsx(header, rows):
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def client_rows(count):
    for n in range(count):
        kind = n % 3
        if kind == 0:
            address = f"гр. София, ж.к. Квартал {n % NEIGHBOURHOODS}, бл. {100 + n % BLOCKS}, вх. А, ап. {n % 60 + 1}"
        elif kind == 1:
            address = f"гр. София, ж.к. Квартал {n % NEIGHBOURHOODS}, бл. {900 + n % 50}, ап. 3"
        else:
            address = f"гр. София, ул. Улица {n % 400} № {n % 90 + 1}"
        number = egn(n) if n % 500 != 7 else "7501020019"
        yield [str(200000 + n), "физическо лице", f"Клиент Пробен {n}", number, f"0888 {n:06d}",
               f"klient{n}@example.bg", address]


def subscription_rows(clients, count):
    paid = date(date.today().year + 1, 1, 31)
    for n in range(count):
        client = n if n < clients else (n - clients) * 5
        service = "Интернет 100" if n % 500 != 11 else "Няма такава"
        yield [str(700000 + n), str(200000 + client), service, "активен", date(2021, 3, 15), paid, 12.9,
               f"user{n}", f"pass-{n}"]


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds():
    """This process's CPU time: on a loaded machine a fairer figure than the clock's (the database's own time
    is not in it: PostgreSQL's server process, SQLite's waits for the disk)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(app, content, name, kind, dry_run, traced):
    with app.app_context():
        actor = app.appbuilder.sm.find_user(username=ADMIN_USERNAME)
        if traced:
            tracemalloc.start()
        started, cpu = time.perf_counter(), cpu_seconds()
        with acting_as(actor), unit_of_work():
            report = import_file(actor, content, name, kind, dry_run=dry_run)
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        peak = None
        if traced:
            peak = tracemalloc.get_traced_memory()[1] / 1024 / 1024
            tracemalloc.stop()
        db.session.remove()
    totals = report["totals"]
    line = (f"{kind:13} {'dry run' if dry_run else 'run':7} {seconds:8.1f} s  {seconds * 1000 / max(1, len(report['rows'])):6.2f}"
            f" ms/row  (this process's CPU {cpu:.1f} s)  peak RSS {peak_rss_mb():7.1f} MB" + (f"  traced peak {peak:7.1f} MB" if traced else "")
            + f"  {totals}" + (f"  unmatched addresses {len(report.get('unmatched_addresses', []))}"
                               if kind == "clients" else ""))
    print(line, flush=True)
    return report


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50_000)
    parser.add_argument("--subscriptions", type=int, default=60_000)
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--no-dry-run", action="store_true")
    args = parser.parse_args()
    url = database_url()
    app = create_app(app_config(url, TESTING=False))
    migrate_and_prepare(app)
    with app.app_context():
        from tests.factories import make_service

        make_service("Интернет 100", username_type="radius")
        with unit_of_work():
            sofia = City(name="София")
            for n in range(NEIGHBOURHOODS):
                neighbourhood = Neighbourhood(city=sofia, kind="ж.к.", name=f"Квартал {n}")
                db.session.add_all([Block(neighbourhood=neighbourhood, name=str(100 + b)) for b in range(BLOCKS)])
        db.session.remove()
    started = time.perf_counter()
    clients = xlsx(["Клиентски номер", "Вид", "Име", "ЕГН", "Телефон", "Имейл", "Адрес"], client_rows(args.clients))
    subscriptions = xlsx(["Номер на абонамента", "Клиентски номер", "Услуга", "Статус", "Активиран на",
                          "Платено до", "Месечна такса", "Потребителско име", "Парола"],
                         subscription_rows(args.clients, args.subscriptions))
    print(f"{'sqlite' if url.startswith('sqlite') else 'postgresql'}: {args.clients} clients "
          f"({len(clients) / 1e6:.1f} MB XLSX), {args.subscriptions} subscriptions ({len(subscriptions) / 1e6:.1f} MB),"
          f" written in {time.perf_counter() - started:.1f} s; peak RSS {peak_rss_mb():.1f} MB", flush=True)
    for content, name, kind in ((clients, "klienti.xlsx", "clients"), (subscriptions, "abonamenti.xlsx",
                                                                         "subscriptions")):
        if not args.no_dry_run:
            measure(app, content, name, kind, True, args.tracemalloc)
        measure(app, content, name, kind, False, args.tracemalloc)


if __name__ == "__main__":
    main()
