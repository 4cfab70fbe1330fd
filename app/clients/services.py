"""Clients: creating and changing them, identity by type, addresses, ЕГН privacy, search.

Operations take the acting operator first, raise FieldErrors and flush;
the unit of work commits.
"""
import ipaddress
import re
from dataclasses import dataclass

from flask_babel import gettext
from sqlalchemy import and_, any_, func, or_, select, union
from sqlalchemy.orm import joinedload, selectinload

from app.addresses.models import Block
from app.audit.models import LogEntry
from app.audit.services import record_event
from app.catalog.models import Service
from app.clients.models import (
    ACTIVE,
    COMPANY,
    INDIVIDUAL,
    KINDS,
    SUSPENDED,
    Client,
    Subscription,
    digits_only,
    name_words,
)
from app.clients.subscriptions import may_change_status
from app.core.counters import next_number
from app.core.figures import counted
from app.core.errors import FieldErrors
from app.core.formatting import local_today
from app.core.phones import phone_key
from app.extensions import db
from app.networks.ipv6 import parse_address as parse_ipv6_address, subscriptions_holding
from app.networks.models import IpAllocation
from app.security import permissions
from app.security.rights import may, may_access
from app.core.scoping import in_scope, refuse_out_of_scope, scope

FIRST_CLIENT_NUMBER = 100001
INDIVIDUAL_FIELDS = ("egn", "id_card")
COMPANY_FIELDS = ("company_name", "eik", "tax_number", "mol", "company_address", "vat_number")


def client_errors(client):
    """Rules that span fields, as {field: [message]}."""
    errors = {}
    if client.kind not in (INDIVIDUAL, COMPANY):
        errors["kind"] = [gettext("Choose an individual or a company.")]
    if client.kind == COMPANY:
        if not client.company_name:
            errors["company_name"] = [gettext("A company needs its company name.")]
        if not client.eik:
            errors["eik"] = [gettext("A company needs its EIK/BULSTAT.")]
        if client.vat_registered and not client.vat_number:
            errors["vat_number"] = [gettext("A VAT number is required when the client is VAT-registered.")]
    return errors


def create_client(actor, **fields):
    """A new client, numbered, in the actor's dealer unless head office names one. Flushes.

    `fields` are Client's columns and relations (name, kind, dealer, block,
    egn, eik…). Raises FieldErrors and stores nothing when a rule refuses.
    A `client_number` given (an import keeps the old system's) is refused
    when another client has it; else the next free number is given.
    """
    client = new_client(actor, **fields)
    db.session.add(client)
    db.session.flush()
    return client


def new_client(actor, number_taken=None, **fields):
    """create_client's checked and numbered client, not yet added to the session (an import writes a chunk's
    new clients set-based: app.audit.bulk.PendingInserts). `number_taken(number)`: whether a number is taken, in
    place of asking the database (the import's, which knows its chunk's numbers too). Raises FieldErrors."""
    if not may_access(actor, "can_add", "Client"):
        raise FieldErrors({"name": [gettext("You do not have the right to add clients.")]})
    taken = number_taken or _number_taken
    fields.setdefault("kind", INDIVIDUAL)
    number = str(fields.pop("client_number", None) or "").strip()
    if number and taken(number):
        raise FieldErrors({"client_number": [gettext("The client number %(number)s belongs to another client.",
                                                     number=number)]})
    with db.session.no_autoflush:
        client = Client(**fields)
        _refuse_invalid(actor, client)
    clear_other_type_fields(client)
    if not number:
        # Numbers kept from an old system may stand where the counter goes: those are skipped.
        number = str(next_number("client_number", FIRST_CLIENT_NUMBER))
        while taken(number):
            number = str(next_number("client_number", FIRST_CLIENT_NUMBER))
    client.client_number = number
    return client


def _number_taken(number):
    return db.session.scalar(select(Client.id).where(Client.client_number == number).limit(1)) is not None


def update_client(actor, client, **fields):
    """Change a client's data; only its type's identity fields are kept. Flushes; FieldErrors."""
    if not may_access(actor, "can_edit", "Client"):
        raise FieldErrors({"name": [gettext("You do not have the right to change clients.")]})
    with db.session.no_autoflush:
        for name, value in fields.items():
            setattr(client, name, value)
        _refuse_invalid(actor, client)
    clear_other_type_fields(client)
    db.session.flush()
    return client


def _refuse_invalid(actor, client):
    refuse_out_of_scope(client, actor)
    errors = client_errors(client)
    if errors:
        raise FieldErrors(errors)


def clear_other_type_fields(client):
    """An individual keeps no company data and a company no ЕГН."""
    for field in COMPANY_FIELDS if client.kind == INDIVIDUAL else INDIVIDUAL_FIELDS:
        setattr(client, field, None)
    if client.kind == INDIVIDUAL:
        client.vat_registered = False


def format_address(client):
    """The Bulgarian way: "гр. София, ж.к. Младост 1, бл. 105, вх. А, ет. 3, ап. 12"."""
    return client.address()


def mask_egn(egn):
    """ЕГН without the birth date and sex: "******6037"."""
    return "" if not egn else "*" * 6 + egn[6:]


def phone_condition(text):
    """SQL condition: a phone of the client holds the number typed (or a part of it), in whatever form either
    was written (app.core.phones.phone_key); None when the text has too few digits to look for. The search
    box and the list's and the API's phone filter ask this."""
    key = phone_key(text)
    if len(key) < 4:
        return None
    return Client.phone_digits.contains(key, autoescape=True)


# Other modules' lookups of client ids by an IPv6 address typed in the search, each a function of the address
# giving a SELECT of client ids (RADIUS: the addresses its NAS report for the sessions open now), set when they
# are wired (app.radius.wiring).
IPV6_LOOKUPS = []


def search_condition(text, by_egn=True):
    """SQL condition finding clients by name (its words or their fragments, in any order), phone (in any
    of its written forms: app.core.phones), client number, ЕГН/ЕИК, IP address (IPv4, or IPv6 inside a
    subscriber's prefix or inside what their NAS reports for a session open now), username or block
    ("бл. 105") — one box for all.

    `by_egn` False for an operator who may not see personal data: a search by ЕГН would tell them whose
    number a guessed ЕГН is (the list answers yes or no), which the card's mask keeps from them.

    Only the keys the text can be are asked (digits are not a name, a name is not an IP). The keys that are
    the client's own columns (name words, phone, number, ЕГН, ЕИК) are conditions on the client row, each
    served by its index; the keys found through other tables (username, IP address, block) are looked up
    first, once, as a list of client ids (PostgreSQL: `client.id = ANY(ARRAY(…))`, an InitPlan). So
    PostgreSQL can take either plan: for a rare name the indexes' bitmaps OR-ed together, for a common one
    ("иванов": one client in nine) the list's own order, walking the (name, id) index and stopping at the
    page's 25 — where a `client.id IN (UNION …)` made it join every match with a scan of all clients and
    sort them (issue 33).
    """
    text = (text or "").strip()
    if not text:
        return None
    own = [Client.client_number == text]
    elsewhere = [select(Subscription.client_id).where(Subscription.username == text)]
    digits = digits_only(text)
    if re.fullmatch(r"[\d\s+()/.-]+", text) and len(digits) >= 4:
        # Stored and typed numbers meet as keys: "+359 888 123 456" finds "0888123456" and back.
        phone = phone_condition(text)
        if phone is not None:
            own.append(phone)
        if len(digits) == 10 and by_egn:
            own.append(Client.egn == digits)
        if len(digits) in (9, 13):
            own.append(Client.eik == digits)
    else:
        # Every typed word in the name, in any order: "Иван Петров" and "петров иван" find
        # "Иван Георгиев Петров". On PostgreSQL the trigram index serves each LIKE.
        words = name_words(text)
        if words:
            own.append(and_(*(Client.search_name.contains(word, autoescape=True) for word in words)))
    try:
        address = int(ipaddress.IPv4Address(text))
    except ValueError:
        pass
    else:
        elsewhere.append(
            select(Subscription.client_id)
            .join(IpAllocation, IpAllocation.subscription_id == Subscription.id)
            .where(IpAllocation.address == address)
        )
    ipv6 = parse_ipv6_address(text)
    if ipv6 is not None:
        # Any address inside a subscriber's prefix (their link's /64 or their delegated /56 or /60).
        elsewhere.append(select(Subscription.client_id).where(Subscription.id.in_(subscriptions_holding(ipv6))))
        # Or inside what a NAS reported for a session open now (the NAS assigns from its own pool).
        elsewhere.extend(lookup(ipv6) for lookup in IPV6_LOOKUPS)
    block = re.fullmatch(r"бл\.?\s*(\S+)", text, flags=re.IGNORECASE)
    if block:
        elsewhere.append(
            select(Client.id).join(Block, Client.block_id == Block.id).where(Block.name == block.group(1))
        )
    found_elsewhere = union(*elsewhere) if len(elsewhere) > 1 else elsewhere[0]
    if db.engine.dialect.name == "postgresql":
        return or_(*own, Client.id == any_(func.array(found_elsewhere.scalar_subquery())))
    return or_(*own, Client.id.in_(found_elsewhere))


# A search's count stops here: past it the list says "над 1 000" (more than), which tells the operator to type
# more, and neither the count nor the page reads every one of 10,000 matches.
SEARCH_COUNT_CAP = 1000


class MoreThan(int):
    """A capped count: more than `cap` records (its value cap + 1, for the pages' arithmetic)."""

    def __new__(cls, cap):
        count = super().__new__(cls, cap + 1)
        count.cap = cap
        return count

    @property
    def label(self):
        """"над 1 000": the list's record count."""
        return gettext("more than %(count)s", count=f"{self.cap:,}".replace(",", "\u00a0"))


def capped_count(query):
    """The number of rows `query` (an ORM query of clients) finds, counting no further than SEARCH_COUNT_CAP + 1:
    an int, or MoreThan(SEARCH_COUNT_CAP). One statement; PostgreSQL stops reading at the 1,001st match."""
    found = db.session.scalar(
        select(func.count()).select_from(query.with_entities(Client.id).limit(SEARCH_COUNT_CAP + 1).subquery()))
    return MoreThan(SEARCH_COUNT_CAP) if found > SEARCH_COUNT_CAP else found


def among_few(condition):
    """`condition` for a page of a search known to find at most SEARCH_COUNT_CAP clients: on PostgreSQL its
    matches' ids are gathered first (an InitPlan), then read by id and sorted. Else the planner, ordering by
    name, may walk the (name, id) index until it meets 25 matches — at once for "иванов", but through a fifth
    of the table for "Димитър Иванов", whose 350 stand together under Д."""
    if db.engine.dialect.name != "postgresql":
        return condition
    return Client.id == any_(func.array(select(Client.id).where(condition).scalar_subquery()))


def home_figures(actor):
    """The home page's clients part: whether the search box is offered, and the day's subscription figures
    (suspended; active with the paid period ended), within the actor's dealer; counted in one SQL statement
    at most every few minutes (app.core.figures), `home_counted_at` says when."""
    if not may_access(actor, "can_list", "Client"):
        return {}
    figures = {"home_client_search": True}
    if may_access(actor, "can_list", "Subscription"):
        today = local_today()

        def count():
            overdue = (Subscription.status == ACTIVE) & Subscription.owes_periods_condition(today, Service)
            return tuple(db.session.execute(scope(
                select(func.count(Subscription.id).filter(Subscription.status == SUSPENDED),
                       func.count(Subscription.id).filter(overdue))
                .join(Service, Service.id == Subscription.service_id), actor, Subscription)).one())

        counts = counted(f"subscriptions:{today.isoformat()}", actor, count)
        figures["home_suspended"], figures["home_overdue"] = counts.value
        figures["home_counted_at"] = counts.at
    return figures


@dataclass
class ClientCard:
    """The client card's own part, as the page shows it: the header, the services, and which actions the
    acting operator may take (each button is shown only to who may use it). The other modules' parts come
    from app.clients.views.CLIENT_CARD."""
    client: Client
    address: str
    kind: str
    subscriptions: list
    standing: tuple  # (label, Bootstrap colour)
    can_edit: bool
    can_pay: bool
    can_add_subscription: bool
    can_add_contract: bool
    can_change_status: bool

    @property
    def phones(self):
        return [phone.strip() for phone in (self.client.phone or "").split(",") if phone.strip()]


def record_personal_data_read(actor, client):
    """The card showed the client's ЕГН unmasked to the actor (who may see personal data, within scope): the LOG
    says who looked, and when. Nothing is written for who sees it masked."""
    if client.egn and may(actor, permissions.SEE_PERSONAL_DATA) and in_scope(client, actor):
        record_event(LogEntry.PERSONAL_DATA, user=actor, entity=client, note="ЕГН")


def client_card(client, actor, day=None):
    """The card of `client` (already found in the actor's scope) for `actor`; three statements: its
    subscriptions with their services joined, their IPv4 and their IPv6 addresses."""
    subscriptions = db.session.scalars(
        select(Subscription).where(Subscription.client_id == client.id)
        .options(joinedload(Subscription.service), selectinload(Subscription.ip_allocations),
                 selectinload(Subscription.ipv6_allocations))
        .order_by(Subscription.id)
    ).all()
    return ClientCard(
        client=client, address=client.address(), kind=str(dict(KINDS).get(client.kind, "")),
        subscriptions=subscriptions, standing=card_standing(subscriptions, day or local_today()),
        can_edit=may_access(actor, "can_edit", "Client"),
        can_pay=may(actor, permissions.RECORD_PAYMENT),
        can_add_subscription=may(actor, permissions.ADD_SUBSCRIPTIONS),
        can_add_contract=may_access(actor, "can_add", "Contract"),
        can_change_status=may_change_status(actor),
    )


def card_standing(subscriptions, today):
    """The card's badge: (label, Bootstrap colour) — suspended, owing (active, paid period over), active, or
    none of these (no live service)."""
    live = [subscription for subscription in subscriptions if subscription.status in (ACTIVE, SUSPENDED)]
    if any(subscription.status == SUSPENDED for subscription in live):
        return gettext("Suspended"), "danger"
    if any(subscription.owes_periods(today) for subscription in live):
        return gettext("Debtor"), "warning"
    if live:
        return gettext("Active (service)"), "success"
    return gettext("No active service"), "default"
