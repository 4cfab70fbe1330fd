"""Moving in from Ubilling: its MySQL/MariaDB database read directly, with the same dry run and report.

What is read (Ubilling's published schema; a table an older installation
lacks is skipped, and the report says so):

- Stargazer's `users`: login, Password, Tariff, IP, Cash, Credit, Passive,
  Down, and RealName/Phone/Email/Address/Note where Ubilling's own tables
  hold nothing for the login;
- Ubilling's `realname`, `phones` (phone and mobile), `emails`, the address
  chain `address` → `apt` → `build` → `street` → `city`, `contracts`;
- `tariffs` (name, Fee): each tariff maps to the catalog's service of the
  same name (any letter case) or to the one the office names
  (`--tariff "Old=New"`); the report lists each tariff with its service,
  and a user of an unmapped tariff is refused with the reason;
- `nethosts` (the MAC of an IP) and `networks` (listed when no network of
  the Networks module covers them: their users' addresses are refused);
- `payments`, the payments log: the payment history.

Each user is one unit of work: its client (key: the login), subscription
(username and password as they are: the login keeps working), opening
balance (Cash > 0 an advance, Cash < 0 a debt) and past payments, each row
through the file import's own rows (app.imports.services), so refused by
the same rules in the same words. A user's subscription is paid to the end
of the current month: Stargazer has taken that month's fee from Cash
already, and what Cash lacks is the debt. Down or Passive users are
suspended. Every user comes in as an individual (Ubilling keeps no ЕГН or
ЕИК): the office completes companies on the card. A dry run undoes each
user; nothing is written.
"""
import ipaddress
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import gettext
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from app.billing.periods import month_end
from app.catalog.models import Service
from app.core.errors import FieldErrors
from app.core.formatting import format_date, local_today, office_language
from app.core.transaction import discard, finish
from app.extensions import db
from app.imports.models import BALANCES, CLIENTS, PAYMENTS, SUBSCRIPTIONS
from app.imports.services import REFUSED, RowImporter, judge, may_import, new_report, note_row
from app.networks.models import Network

SOURCE = "Ubilling"
NO_TARIFF = ("", "*no_tariff*")
# Ubilling's cash type 1 is cash ("Наличные"); the others are its own list: carried over.
CASH_TYPE = 1


class UbillingUnreadable(Exception):
    """The database cannot be read as Ubilling's; the message says why."""


def origin_for(dealer):
    """Whose keys: Ubilling's logins are not the spreadsheet's client numbers."""
    return f"ubilling:dealer:{dealer.id}" if dealer is not None else "ubilling"


def ubilling_url(host, database, user="", password="", port=""):
    """The address of a Ubilling database from the import page's fields. Raises FieldErrors."""
    errors = {}
    host, database, port = (host or "").strip(), (database or "").strip(), (port or "").strip()
    if not host:
        errors["host"] = [gettext("Name the database server (its host name or IP address).")]
    if not database:
        errors["database"] = [gettext("Name Ubilling's database (usually stg).")]
    if port and (not port.isdigit() or not 0 < int(port) < 65536):
        errors["port"] = [gettext("A port is a number from 1 to 65535.")]
    if errors:
        raise FieldErrors(errors)
    return URL.create("mysql+pymysql", username=(user or "").strip() or None, password=password or None, host=host,
                      port=int(port) if port else None, database=database).render_as_string(hide_password=False)


def _engine(mysql_url):
    try:
        url = make_url(mysql_url)
    except ArgumentError:
        raise UbillingUnreadable(gettext("Not a database address: mysql+pymysql://user:password@host/database."))
    if not url.drivername.startswith("mysql") and not url.drivername.startswith("mariadb"):
        raise UbillingUnreadable(gettext("Not a database address: mysql+pymysql://user:password@host/database."))
    if "charset" not in url.query:
        url = url.update_query_dict({"charset": "utf8mb4"})
    return create_engine(url, pool_pre_ping=False)


def _text(value):
    return str(value).strip() if value is not None else ""


def _money(value):
    """Stargazer's double (or Ubilling's varchar) amount, to the cent."""
    return Decimal(str(value or 0)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


class UbillingDatabase:
    """What the import reads of one Ubilling database, per login (payments are read per user, as it goes)."""

    def __init__(self, connection):
        self.connection = connection
        self.tables = set(inspect(connection).get_table_names())
        if "users" not in self.tables:
            raise UbillingUnreadable(gettext("The database has no Stargazer table \"users\": is it Ubilling's?"))
        self.missing = sorted({"realname", "phones", "emails", "address", "apt", "build", "street", "city",
                               "contracts", "tariffs", "payments", "nethosts", "networks"} - self.tables)

    def rows(self, sql, **params):
        return self.connection.execute(text(sql), params).mappings()

    def by_login(self, table, columns):
        if table not in self.tables:
            return {}
        found = {}
        for row in self.rows(f"SELECT login, {columns} FROM `{table}` ORDER BY id"):
            found.setdefault(row["login"], row)
        return found

    def users(self):
        return self.rows("SELECT login, Password, Tariff, IP, Cash, Credit, Passive, Down, RealName, Phone, Email, "
                         "Address, Note FROM users ORDER BY login").all()

    def addresses(self):
        if not {"address", "apt", "build", "street", "city"} <= self.tables:
            return {}
        found = {}
        for row in self.rows(
                "SELECT a.login, c.cityname, s.streetname, b.buildnum, p.entrance, p.floor, p.apt FROM address a "
                "JOIN apt p ON p.id = a.aptid JOIN build b ON b.id = p.buildid "
                "JOIN street s ON s.id = b.streetid JOIN city c ON c.id = s.cityid ORDER BY a.id"):
            parts = [_text(row["cityname"]), " ".join(filter(None, (_text(row["streetname"]), _text(row["buildnum"]))))]
            for word, field in (("вх.", "entrance"), ("ет.", "floor"), ("ап.", "apt")):
                if _text(row[field]):
                    parts.append(f"{word} {_text(row[field])}")
            found.setdefault(row["login"], ", ".join(part for part in parts if part))
        return found

    def tariffs(self):
        if "tariffs" not in self.tables:
            return {}
        return {row["name"]: _money(row["Fee"]) for row in self.rows("SELECT name, Fee FROM tariffs ORDER BY name")}

    def macs(self):
        if "nethosts" not in self.tables:
            return {}
        return {row["ip"]: _text(row["mac"]) for row in self.rows("SELECT ip, mac FROM nethosts ORDER BY id")}

    def networks(self):
        if "networks" not in self.tables:
            return []
        return self.rows("SELECT startip, endip, `desc` FROM networks ORDER BY id").all()

    def payments(self, login):
        if "payments" not in self.tables:
            return []
        return self.rows("SELECT id, login, `date`, summ, cashtypeid, note FROM payments WHERE login = :login "
                         "ORDER BY id", login=login).all()


def tariff_services(tariffs, users, chosen):
    """[{tariff, fee, users, service id, service name}] and {tariff: service id or None}: each tariff's service,
    by the office's choice (`chosen`: {tariff: service name}) or by the same name."""
    services = db.session.scalars(select(Service)).all()
    by_name = {service.name.casefold(): service for service in services}
    counts = {}
    for user in users:
        counts[_text(user["Tariff"])] = counts.get(_text(user["Tariff"]), 0) + 1
    mapping, listing = {}, []
    for tariff in sorted(set(tariffs) | set(counts)):
        wanted = chosen.get(tariff, tariff)
        service = None if tariff.casefold() in NO_TARIFF else by_name.get(_text(wanted).casefold())
        mapping[tariff] = service.id if service is not None else None
        listing.append({"tariff": tariff, "fee": str(tariffs[tariff]) if tariff in tariffs else None,
                        "users": counts.get(tariff, 0), "service": service.name if service is not None else None,
                        "service_fee": str(service.monthly_fee) if service is not None else None})
    return listing, mapping


def uncovered_networks(networks):
    """Ubilling's networks that no network of the Networks module covers: their users' addresses are refused."""
    ours = db.session.execute(select(Network.first_address, Network.last_address)).all()
    left = []
    for network in networks:
        try:
            first, last = int(ipaddress.IPv4Address(_text(network["startip"]))), int(
                ipaddress.IPv4Address(_text(network["endip"])))
        except ValueError:
            continue
        if not any(low <= first and last <= high for low, high in ours):
            left.append(f"{network['startip']}–{network['endip']} ({_text(network['desc'])})")
    return left


def user_rows(user, extra, service_id, paid_until, currency):
    """A user's client, subscription and balance rows, in the file import's fields."""
    login = _text(user["login"])
    name = _text(extra["realname"].get(login, {}).get("realname")) or _text(user["RealName"]) or login
    phones = extra["phones"].get(login) or {}
    phone = ", ".join(dict.fromkeys(filter(None, (_text(phones.get("mobile")), _text(phones.get("phone"))))))
    with office_language():
        notes = []
        contract = _text((extra["contracts"].get(login) or {}).get("contract"))
        if contract:
            notes.append(gettext("Contract %(number)s", number=contract))
        credit = _money(user["Credit"])
        if credit:
            notes.append(gettext("credit limit in Ubilling %(amount)s", amount=str(credit).replace(".", ",")))
        if _text(user["Note"]):
            notes.append(_text(user["Note"]))
    client = {"source_key": login, "kind": "", "name": name[:200],
              "phone": (phone or _text(user["Phone"]))[:100],
              "email": (_text((extra["emails"].get(login) or {}).get("email")) or _text(user["Email"]))[:150],
              "address_text": (extra["addresses"].get(login) or _text(user["Address"]))[:300],
              "comment": "; ".join(notes)}
    # Stargazer writes "*" for no fixed address, and may write one as "10.0.0.5/32".
    ip = _text(user["IP"]).removesuffix("/32")
    ip = "" if ip in ("*", "0.0.0.0") else ip
    password = _text(user["Password"])
    status = "спрян" if int(user["Down"] or 0) or int(user["Passive"] or 0) else "активен"
    subscription = {"source_key": login, "client_key": login, "service": str(service_id or ""), "status": status,
                    "paid_until": paid_until, "username": login, "password": "" if password == "*" else password,
                    "mac_address": extra["macs"].get(ip, "") if ip else "", "ip_addresses": ip}
    cash = _money(user["Cash"])
    balance = {"source_key": login, "debt": str(-cash) if cash < 0 else "", "credit": str(cash) if cash > 0 else "",
               "day": "", "currency": currency}
    return client, subscription, balance


def payment_row(payment, currency):
    return {"source_key": str(payment["id"]), "client_key": _text(payment["login"]), "day": payment["date"],
            "amount": _text(payment["summ"]).replace(",", "."), "currency": currency,
            "method": "cash" if payment["cashtypeid"] == CASH_TYPE else "", "note": _text(payment["note"])[:500]}


def import_ubilling(actor, mysql_url, dealer=None, dry_run=True, tariffs=None, currency="EUR"):
    """Imports (or with `dry_run` only judges) a Ubilling database; returns the report: per kind the rows and
    totals, the tariffs and their services, the networks the Networks module lacks. Each user is its own unit
    of work, kept in a run, undone in a dry run. Raises FieldErrors when the actor may not import or the
    database cannot be read."""
    if not may_import(actor):
        raise FieldErrors({"file": [gettext("You do not have the right to import from a file.")]})
    report = {"source": SOURCE, "dry_run": dry_run, "dealer": str(dealer) if dealer else None, "tariffs": [],
              "uncovered_networks": [], "missing_tables": [],
              "reports": {kind: new_report(kind, f"{SOURCE} ({table})", dry_run, dealer)
                          for kind, table in ((CLIENTS, "users"), (SUBSCRIPTIONS, "users"), (BALANCES, "users"),
                                              (PAYMENTS, "payments"))}}
    try:
        engine = _engine(mysql_url)
        with engine.connect() as connection:
            source = UbillingDatabase(connection)
            users = source.users()
            extra = {"realname": source.by_login("realname", "realname"),
                     "phones": source.by_login("phones", "phone, mobile"),
                     "emails": source.by_login("emails", "email"),
                     "contracts": source.by_login("contracts", "contract"),
                     "addresses": source.addresses(), "macs": source.macs()}
            report["missing_tables"] = source.missing
            report["tariffs"], mapping = tariff_services(source.tariffs(), users, tariffs or {})
            report["uncovered_networks"] = uncovered_networks(source.networks())
            discard()  # what was read of our catalog: each user's unit starts afresh
            _import_users(actor, source, users, extra, mapping, report, dealer, dry_run, currency)
        engine.dispose()
    except UbillingUnreadable as error:
        raise FieldErrors({"mysql_url": [str(error)]}) from None
    except SQLAlchemyError as error:
        discard()
        raise FieldErrors({"mysql_url": [gettext("The Ubilling database cannot be read: %(error)s",
                                                 error=str(getattr(error, "orig", None) or error)[:300])]}) from None
    return report


# A user's rows are taken again without those refused, at most this many times (see _import_user).
PASSES = 3


def _import_users(actor, source, users, extra, mapping, report, dealer, dry_run, currency):
    origin = origin_for(dealer)
    importers = {kind: RowImporter(actor, kind, report["reports"][kind]["file_name"], dealer, SOURCE, origin=origin)
                 for kind in report["reports"]}
    paid_until = format_date(month_end(local_today()))
    for number, user in enumerate(users, start=1):
        client, subscription, balance = user_rows(user, extra, mapping.get(_text(user["Tariff"])), paid_until,
                                                  currency)
        with office_language():
            unmapped = gettext("The Ubilling tariff \"%(tariff)s\" maps to no service: add the service to the "
                               "catalog or name it with --tariff \"%(tariff)s=<service>\".",
                               tariff=_text(user["Tariff"]) or "—")
        rows = [(CLIENTS, number, client, None),
                (SUBSCRIPTIONS, number, subscription, None if subscription["service"] else unmapped),
                (BALANCES, number, balance, None)]
        rows += [(PAYMENTS, payment["id"], payment_row(payment, currency), None)
                 for payment in source.payments(client["source_key"])]
        for (kind, row_number, values, _reason), (outcome, label, details) in zip(
                rows, _import_user(importers, rows, client["name"], dry_run)):
            note_row(report["reports"][kind], row_number, values.get("source_key", ""), outcome, label, details)


def _import_user(importers, rows, name, dry_run):
    """One user's rows (its client first) as one unit of work: [(outcome, label, details)] in the rows' order.

    A refused row must undo its own writes only; savepoints cannot do it here (SQLAlchemy-Continuum's version
    session opens one of its own inside and never closes it). So in a run, when rows are refused, the unit is
    undone and taken again without them: the rows kept are written, in one commit. A dry run takes them once.
    """
    with office_language():
        no_client = gettext("The user's client row is refused (see the clients).")
    known = {}  # row index → (REFUSED, label, reason) from an earlier pass
    for _attempt in range(PASSES):
        outcomes, client_kept = [], True
        for index, (kind, number, values, reason) in enumerate(rows):
            if index in known:
                outcome = known[index]
            elif reason:
                outcome = (REFUSED, name, reason)
            elif kind != CLIENTS and not client_kept:
                outcome = (REFUSED, name, no_client)
            else:
                outcome = judge(importers[kind], number, values)
            if kind == CLIENTS and outcome[0] == REFUSED:
                client_kept = False
            outcomes.append(outcome)
        refused = {index: outcome for index, outcome in enumerate(outcomes)
                   if outcome[0] == REFUSED and index not in known}
        if dry_run or not refused:
            break
        discard()
        known.update(refused)
    else:
        # Each pass refused another row: nothing of the user is kept.
        discard()
        with office_language():
            reason = gettext("The user's rows could not be imported together; import again.")
        return [outcome if outcome[0] == REFUSED else (REFUSED, outcome[1], reason) for outcome in outcomes]
    if dry_run:
        discard()
    else:
        finish()
    return outcomes
