"""The managers' reports: each one query, aggregated in SQL, limited to the actor's dealer.

Every report takes the acting operator and its filters and returns a
Report: column titles, rows of plain values (str, int, Decimal, date) and a
total row — what the screen shows, and what every export writes
(app.reports.exports). Money is in EUR as the payment was converted when
received (app.billing.currency.to_eur, the one conversion); the original
currencies are shown beside it.
"""
import calendar
import gc
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from operator import itemgetter

from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Date,
    Integer,
    Numeric,
    String,
    and_,
    any_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy_continuum import version_class, versioning_manager

from app.addresses.models import Block, Neighbourhood
from app.billing.charges import ZERO
from app.billing.models import ADVANCE, Charge, ClientAdvance, DailyTraffic, Payment, PaymentAllocation, PaymentMethod, PaymentType
from app.cashdesk.models import CashDeskClosing
from app.catalog.models import Service, ServiceGroup
from app.clients.models import ACTIVE, SUSPENDED, TERMINATED, Client, Subscription
from app.collectors.models import PaymentCollector
from app.core.formatting import local_today, utc_bounds
from app.core.money import quantize
from app.core.scoping import dealer_of
from app.core.sqltime import (
    day_key,
    day_of_month,
    days_in_month,
    days_since,
    local_day,
    month_key,
    month_number,
    next_day,
    year_key,
)
from app.dealers.models import Dealer
from app.extensions import db
from app.radius.models import Nas, RadiusSession
from app.security.models import Operator

CURRENCIES = ("EUR", "BGN", "USD")
HEAD_OFFICE = _l("Central office")


@dataclass
class Report:
    title: str
    columns: list
    rows: list = field(default_factory=list)
    total: list = None
    numeric: set = field(default_factory=set)  # indexes of the columns that are figures (right-aligned)
    # A paged report (the debtors): which page of how many rows this is, of `count` rows in all.
    page: int = None
    page_size: int = None
    count: int = None


def _dealer_filter(query, filters, column):
    """One dealer's rows (0: head office's own), when head office filters by one."""
    if filters.get("dealer") is None:
        return query
    return query.where(column.is_(None) if filters["dealer"] == 0 else column == filters["dealer"])


def _scoped(query, actor, dealer_column):
    """The actor's dealer only; head office sees all (or one dealer, when it filters by one)."""
    dealer_id = dealer_of(actor)
    return query if dealer_id is None else query.where(dealer_column == dealer_id)


# --- Revenue -------------------------------------------------------------------------------------------

REVENUE_GROUPS = {
    "day": _l("Day"), "month": _l("Month"), "year": _l("Year"), "method": _l("Payment method"),
    "type": _l("Payment type"), "dealer": _l("Dealer"), "operator": _l("Received by"), "service": _l("Service"),
}


def _payment_filters(query, actor, filters, dated=Payment, day=None):
    """The period (the office's days, both included), dealer, method, type and operator. `dated`: the
    payment whose day and cashier count (the reversal's, when revenue by service takes a reversal back);
    dealer, method and type are the original payment's. `day`: the column of that day (an allocation's
    copy of its payment's day; by default `dated.paid_on`)."""
    query = _period_filter(query, filters, dated.paid_on if day is None else day)
    query = _dealer_filter(query, filters, Payment.dealer_id)
    if filters.get("method"):
        query = query.where(Payment.method_id == filters["method"])
    if filters.get("payment_type"):
        query = query.where(Payment.type_id == filters["payment_type"])
    if filters.get("operator"):
        query = query.where(dated.operator_id == filters["operator"])
    return _scoped(query, actor, Payment.dealer_id)


def _period_filter(query, filters, day):
    if filters.get("date_from"):
        query = query.where(day >= filters["date_from"])
    if filters.get("date_to"):
        query = query.where(day <= filters["date_to"])
    return query


def _reads_the_payment(actor, filters):
    """Whether the filters (or the actor's dealer) ask about the payment itself, beyond its day."""
    return (dealer_of(actor) is not None or filters.get("dealer") is not None
            or any(filters.get(name) for name in ("method", "payment_type", "operator")))


# What a revenue report sums per group, first over the payments (grouped by the stored columns alone:
# the office's day, or the method's id…), then the few groups' sums into the report's keys (a month's
# name, the method's name). Formatting a key on each of a million rows cost more than summing them.
def _revenue_sums():
    is_reversal = Payment.reversal_of_id.isnot(None)
    sums = [func.count(case((~is_reversal, Payment.id))).label("payments")]
    # Labelled in_eur…, not EUR: SQLite's column names ignore case, and "eur" is the total.
    sums += [func.coalesce(func.sum(case((Payment.currency == code, Payment.amount))), 0).label(f"in_{code.lower()}")
             for code in CURRENCIES]
    sums += [func.count(case((is_reversal, Payment.id))).label("reversals"),
             func.coalesce(func.sum(case((is_reversal, Payment.amount_eur))), 0).label("reversed_eur"),
             func.coalesce(func.sum(Payment.amount_eur), 0).label("eur")]
    return sums


REVENUE_SUMS = ("payments", *(f"in_{code.lower()}" for code in CURRENCIES), "reversals", "reversed_eur", "eur")
PERIOD_KEYS = {"day": day_key, "month": month_key, "year": year_key}


def _revenue_by_key(group, payments):
    """The report's key over the grouped payments' columns, and the joins that name it."""
    if group in PERIOD_KEYS:
        return PERIOD_KEYS[group](payments.c.paid_on), None
    if group == "method":
        return PaymentMethod.name, lambda query: query.join(PaymentMethod, PaymentMethod.id == payments.c.method_id)
    if group == "type":
        return PaymentType.name, lambda query: query.join(PaymentType, PaymentType.id == payments.c.type_id)
    if group == "dealer":
        return (func.coalesce(Dealer.name, literal(str(HEAD_OFFICE))),
                lambda query: query.outerjoin(Dealer, Dealer.id == payments.c.dealer_id))
    if group == "operator":
        full_name = Operator.first_name + literal(" ") + Operator.last_name
        return (func.coalesce(full_name, PaymentCollector.name, literal("—")),
                lambda query: query.outerjoin(Operator, Operator.id == payments.c.operator_id)
                .outerjoin(PaymentCollector, PaymentCollector.id == payments.c.collector_id))
    raise ValueError(group)


REVENUE_GROUP_COLUMNS = {"day": ("paid_on",), "month": ("paid_on",), "year": ("paid_on",),
                         "method": ("method_id",), "type": ("type_id",), "dealer": ("dealer_id",),
                         "operator": ("operator_id", "collector_id")}


def revenue(actor, filters, group="month"):
    """Payments received, grouped by `group`: count, each currency as received, all of it in EUR, and the
    reversals in it (a reversal is a negative payment on the day it is made: netted there)."""
    if group == "service":
        return _revenue_by_service(actor, filters)
    if group not in REVENUE_GROUP_COLUMNS:
        raise ValueError(group)
    grouped_by = [getattr(Payment, name) for name in REVENUE_GROUP_COLUMNS[group]]
    payments = (_payment_filters(select(*grouped_by, *_revenue_sums()), actor, filters)
                .group_by(*grouped_by).subquery("payments"))
    key, join = _revenue_by_key(group, payments)
    key = key.label("key")
    query = select(key, *(func.sum(payments.c[name]).label(name) for name in REVENUE_SUMS)).select_from(payments)
    if join:
        query = join(query)
    query = query.group_by(key).order_by(key)
    report = Report(
        title=gettext("Revenue by %(group)s", group=str(REVENUE_GROUPS[group]).lower()),
        columns=[str(REVENUE_GROUPS[group]), gettext("Payments")] +
                [gettext("In %(currency)s", currency=code) for code in CURRENCIES] +
                [gettext("Reversals"), gettext("Reversed, EUR"), gettext("Total, EUR")],
        numeric=set(range(1, 8)),
    )
    totals = [0, ZERO, ZERO, ZERO, 0, ZERO, ZERO]
    for row in db.session.execute(query):
        values = [int(row.payments)] + [quantize(Decimal(row._mapping[f"in_{code.lower()}"])) for code in CURRENCIES] + \
                 [int(row.reversals), quantize(Decimal(row.reversed_eur)), quantize(Decimal(row.eur))]
        report.rows.append([_period_label(group, row.key)] + values)
        totals = [total + value for total, value in zip(totals, values)]
    report.total = [gettext("Total")] + totals
    return report


def _period_label(group, key):
    """'2026-11-05' → 05.11.2026, '2026-11' → 11.2026; other keys as they are."""
    if group == "day" and key:
        year, month, day = str(key).split("-")
        return f"{day}.{month}.{year}"
    if group == "month" and key:
        year, month = str(key).split("-")
        return f"{month}.{year}"
    return str(key) if key is not None else "—"


def _revenue_by_service(actor, filters):
    """What the payments paid, by the service of the subscription (or of the charge's subscription): the
    allocations of payments received in the period, less those of payments reversed in it.

    Summed by the service's id and the allocation's kind first, and only those few groups named: PostgreSQL
    then sums in parallel workers, where naming every allocation's row took twice as long (3,000,000
    payments: 2.2 → 1.1 s). The period is the allocation's own copy of its payment's day (indexed with what
    is summed): the payments themselves are joined only when a filter asks about them (dealer, method,
    type, cashier, a dealer's operator); a reversal's allocations are its original's, found from the
    reversals made in the period."""
    joined = _reads_the_payment(actor, filters)
    reversal = db.aliased(Payment)
    paid = (select(Subscription.service_id, PaymentAllocation.kind,
                   func.sum(PaymentAllocation.amount_eur).label("eur"), literal(0).label("reversed"))
            .select_from(PaymentAllocation))
    if joined:
        paid = paid.join(Payment, Payment.id == PaymentAllocation.payment_id)
    reversed_ = (select(Subscription.service_id, PaymentAllocation.kind,
                        (-func.sum(PaymentAllocation.amount_eur)).label("eur"),
                        (-func.sum(PaymentAllocation.amount_eur)).label("reversed"))
                 .select_from(reversal).join(PaymentAllocation, PaymentAllocation.payment_id == reversal.reversal_of_id)
                 # said, not only implied by the join: the planner then reads the reversals (1 %) by their index
                 # instead of every payment of the period
                 .where(reversal.reversal_of_id.isnot(None)))
    if db.session.get_bind().dialect.name == "postgresql":
        # The reversed payments' allocations by their index, from the list of the period's reversals (an
        # InitPlan): estimating a few dozen, the planner otherwise hashed the reversals and scanned every
        # allocation (3,000,000 payments: 840 of the report's 2,100 ms under EXPLAIN ANALYZE, loaded).
        of_period = db.aliased(Payment)
        reversed_ = reversed_.where(PaymentAllocation.payment_id == any_(func.array(_period_filter(
            select(of_period.reversal_of_id).where(of_period.reversal_of_id.isnot(None)), filters,
            of_period.paid_on).scalar_subquery())))
    if joined:
        reversed_ = reversed_.join(Payment, Payment.id == PaymentAllocation.payment_id)
    parts = []
    for query, dated, day in ((paid, Payment, PaymentAllocation.paid_on), (reversed_, reversal, reversal.paid_on)):
        query = (query.outerjoin(Charge, Charge.id == PaymentAllocation.charge_id)
                 .outerjoin(Subscription, Subscription.id == func.coalesce(PaymentAllocation.subscription_id,
                                                                           Charge.subscription_id)))
        if filters.get("service"):
            query = query.where(Subscription.service_id == filters["service"])
        query = (_payment_filters(query, actor, filters, dated, day) if joined
                 else _period_filter(query, filters, day))
        parts.append(query.group_by(Subscription.service_id, PaymentAllocation.kind))
    lines = union_all(*parts).subquery()
    key = func.coalesce(Service.name, case((lines.c.kind == ADVANCE, literal("Аванс")),
                                           else_=literal("Други задължения"))).label("key")
    query = (select(key, func.sum(lines.c.reversed), func.sum(lines.c.eur))
             .select_from(lines).outerjoin(Service, Service.id == lines.c.service_id)
             .group_by(key).order_by(key))
    report = Report(title=gettext("Revenue by service"),
                    columns=[gettext("Service"), gettext("Reversed, EUR"), gettext("Total, EUR")], numeric={1, 2})
    total_reversed = total = ZERO
    for key, reversed_eur, eur in db.session.execute(query):
        reversed_eur, eur = quantize(Decimal(reversed_eur or 0)), quantize(Decimal(eur or 0))
        report.rows.append([key, reversed_eur, eur])
        total_reversed, total = total_reversed + reversed_eur, total + eur
    report.total = [gettext("Total"), total_reversed, total]
    return report


# --- Debtors -------------------------------------------------------------------------------------------

AGES = ((1, 30), (31, 60), (61, 90), (91, None))


def age_label(low, high):
    return f"{low}–{high}" if high else f"> {low - 1}"


def _first_unpaid_day(today):
    """Subscription.first_unpaid_day in SQL: the day after "paid until"; never paid, the activation day."""
    return case((Subscription.paid_until.is_(None), func.coalesce(Subscription.activation_date, literal(today))),
                else_=next_day(Subscription.paid_until))


def _anniversary(anchor_day, days_in_that_month):
    """For floating months: a month's anniversary — the anchor's day, or the month's last when shorter."""
    return case((anchor_day < days_in_that_month, anchor_day), else_=days_in_that_month)


def _owing_subscriptions(today, filters):
    """The subscriptions owing periods today (and the filters'), one row each: the client, the first unpaid
    day, the fee in EUR, and the calendar figures the periods owed are counted from — each computed once.

    Written into the two sums of `_periods_and_fees_due`, these figures were computed over and over for each
    subscription: some fifty date functions a row (3,000,000 payments: 50,000 subscriptions owing, the
    largest part of the debtors' statement). `OFFSET 0` keeps them a subquery of their own (PostgreSQL
    would otherwise write the expressions into the sums again)."""
    start = _first_unpaid_day(today)
    anchor = func.coalesce(Subscription.activation_date, literal(today))
    counted_from = func.coalesce(Subscription.paid_until, anchor)  # the last day paid (never paid: the anchor)
    query = (
        select(Subscription.client_id.label("client_id"), start.label("start"),
               month_number(start).label("start_month"), day_of_month(start).label("start_day"),
               days_in_month(start).label("start_days"), day_of_month(anchor).label("anchor_day"),
               month_number(counted_from).label("from_month"), day_of_month(counted_from).label("from_day"),
               days_in_month(counted_from).label("from_days"),
               (Service.month_type == "floating").label("floating"), func.round(_fee_eur(), 2).label("fee"))
        .join(Service, Service.id == Subscription.service_id)
        .where(Subscription.owes_periods_condition(today, Service))
    )
    if filters.get("service"):
        query = query.where(Subscription.service_id == filters["service"])
    if filters.get("group"):
        query = query.where(Service.group_id == filters["group"])
    if filters.get("status"):
        query = query.where(Subscription.status == filters["status"])
    return query.offset(0).subquery("owing")


def _periods_and_fees_due(owing, today):
    """How many periods make a subscription paid through `today` (at least the next), and their price in EUR,
    in SQL over a row of `_owing_subscriptions` — the card's rule (app.billing.periods.next_periods): fixed
    months are calendar months, the first one starting after the 1st at its share of the fee; floating
    months end on the activation day's anniversaries (a subscription never paid starts on that day: its
    first period ends on the next one)."""
    fee = owing.c.fee
    fixed_count = literal(today.year * 12 + today.month) - owing.c.start_month + 1
    first_share = case((owing.c.start_day == 1, literal(1)),
                       else_=cast(owing.c.start_days - owing.c.start_day + 1, Numeric(12, 6))
                       / cast(owing.c.start_days, Numeric(12, 6)))
    fixed_fees = func.round(fee * first_share, 2) + (fixed_count - 1) * fee
    yesterday = today - timedelta(days=1)
    # The periods after the last one paid (never paid: after the activation day) up to the first that ends on
    # or after today: the ends in between, plus that one. The anniversaries on or before a day are counted
    # from a fixed origin: the month's number, plus one once its anniversary is reached.
    through_yesterday = literal(yesterday.year * 12 + yesterday.month) + case(
        (literal(yesterday.day) >= _anniversary(owing.c.anchor_day,
                                                literal(calendar.monthrange(yesterday.year, yesterday.month)[1])),
         1), else_=0)
    through_paid = owing.c.from_month + case(
        (owing.c.from_day >= _anniversary(owing.c.anchor_day, owing.c.from_days), 1), else_=0)
    ends_between = through_yesterday - through_paid
    floating_count = case((ends_between > 0, ends_between), else_=0) + 1
    floating = owing.c.floating
    return (case((floating, floating_count), else_=fixed_count),
            case((floating, floating_count * fee), else_=fixed_fees))


def _fee_eur():
    """The monthly fee in EUR: leva at the fixed rate; other currencies as they are (the card converts
    dollars at the day's rate; a report of debts does not move with it)."""
    return case((Service.currency == "BGN", Service.monthly_fee / Decimal("1.95583")), else_=Service.monthly_fee)


DEBTORS_PAGE = 100


def debtors(actor, filters, today=None, page=None):
    """Clients who owe today: live subscriptions whose "paid until" has passed, with the months owed and
    their price, the open charges, less the advance; the oldest unpaid day and its age group; phone and
    address. Oldest debts first: the order the office calls in.

    `page` (from 0): that page of DEBTORS_PAGE rows, as the screen shows them; None: every row, as an
    export writes them. The totals and the age groups are summed in SQL over every debtor either way.

    One statement: the debts computed once (a common table expression) give both the rows and the age
    groups' totals (UNION ALL; the two statements computed every debt twice). The rows come out of SQL as
    the report shows them (address and age group written there): on PostgreSQL a row is taken as it is,
    where formatting each in Python cost as much as its query (every debtor, for an export)."""
    today = today or local_today()
    debts = _debts(actor, filters, today).cte("debts")
    report = Report(
        title=gettext("Debtors"),
        columns=[gettext("Client number"), gettext("Name"), gettext("Phone"), gettext("Address"), gettext("Dealer"),
                 gettext("Unpaid since"), gettext("Days"), gettext("Age group"), gettext("Months"),
                 gettext("Fees, EUR"), gettext("Charges, EUR"), gettext("Advance, EUR"), gettext("Due, EUR")],
        numeric={6, 8, 9, 10, 11, 12},
    )
    totals, rows = _debts_page(debts, page)
    count = sum(group["count"] for group in totals.values())
    if page is not None:
        last = max(count - 1, 0) // DEBTORS_PAGE
        if page > last:  # a page past the end shows the last one
            page = last
            totals, rows = _debts_page(debts, page)
    report.rows = rows
    report.total = [gettext("Total"), ngettext("%(num)d client", "%(num)d clients", count), "", "", "", "", "", "",
                    "", *(sum((group[name] for group in totals.values()), ZERO)
                          for name in ("fees", "charges", "advance", "due"))]
    report.by_age = [(age_label(*AGES[index]), totals[index]["count"], totals[index]["due"])
                     for index in range(len(AGES))]
    report.count = count
    report.page = page
    report.page_size = DEBTORS_PAGE
    return report


# The report's row as the debts' columns, in its order; the totals' rows put their figures in the same
# columns (the group's number in "age_group", its count in "age", its sums in the amounts').
DEBTOR_COLUMNS = ("client_number", "name", "phone", "address", "dealer", "since", "age", "age_label", "months",
                  "fees", "charges", "advance", "due")


def _debts_page(debts, page):
    """({age group: totals}, the rows of `page`, or every row) from one statement over the debts."""
    # The debts hold the amounts and the age; the client's name, phone, address and dealer are joined to
    # the rows shown only (a page of 100, or every row), not to every debt the totals sum.
    shown_debts = debts
    if page is not None:
        shown_debts = (select(debts).order_by(debts.c.since, debts.c.client_number)
                       .limit(DEBTORS_PAGE).offset(page * DEBTORS_PAGE).subquery("page"))
    described = {"name": Client.name, "phone": func.coalesce(Client.phone, literal("")).label("phone"),
                 "address": _address_sql().label("address"),
                 "dealer": func.coalesce(Dealer.name, literal(str(HEAD_OFFICE))).label("dealer")}
    rows = (select(literal(0).label("part"), shown_debts.c.age_group,
                   *(described[name] if name in described else shown_debts.c[name] for name in DEBTOR_COLUMNS))
            .select_from(shown_debts).join(Client, Client.id == shown_debts.c.client_id)
            .outerjoin(Dealer, Dealer.id == Client.dealer_id)
            .outerjoin(Block, Block.id == Client.block_id)
            .outerjoin(Neighbourhood, Neighbourhood.id == Block.neighbourhood_id))
    typed = {"since": Date(), "age": Integer(), "months": Integer(), "fees": Numeric(12, 2),
             "charges": Numeric(12, 2), "advance": Numeric(12, 2), "due": Numeric(12, 2)}
    blank = {name: cast(null(), typed.get(name, String())).label(name) for name in DEBTOR_COLUMNS}
    figures = {"age": func.count().label("age"), "fees": func.sum(debts.c.fees).label("fees"),
               "charges": func.sum(debts.c.charges).label("charges"),
               "advance": func.sum(debts.c.advance).label("advance"), "due": func.sum(debts.c.due).label("due")}
    totals = (select(literal(1).label("part"), debts.c.age_group,
                     *(figures.get(name, blank[name]) for name in DEBTOR_COLUMNS))
              .group_by(debts.c.age_group))
    both = union_all(rows, totals).subquery("both")
    query = select(both).order_by(both.c.part, both.c.since, both.c.client_number)
    sums = {index: {"count": 0, "fees": ZERO, "charges": ZERO, "advance": ZERO, "due": ZERO}
            for index in range(len(AGES))}
    exact = db.session.get_bind().dialect.name == "postgresql"  # numeric and date, rounded in SQL, as shown
    result = db.session.connection().execute(query)
    # A row's columns by name, in the report's order: their places looked up once, then one C call a row
    # (40,568 debtors: a Row's attribute per column cost a quarter of the SQL's time).
    place = {name: index for index, name in enumerate(result.keys())}
    shown, is_total = itemgetter(*(place[name] for name in DEBTOR_COLUMNS)), itemgetter(place["part"])
    # Tens of thousands of rows made at once (tuples and lists, no cycles among them): the garbage collector,
    # triggered by so many new objects, walked every object of the process meanwhile — about as long as
    # psycopg2's fetch itself (40,568 debtors: 110 ms bare, 220–340 ms here). Paused while they are made.
    collecting = gc.isenabled()
    gc.disable()
    try:
        fetched = result.all()  # fetched at once, not row by row
        # The rows come first (part 0), then the totals (part 1, at most one per age group).
        shown_count = len(fetched)
        while shown_count and is_total(fetched[shown_count - 1]):
            shown_count -= 1
        for row in fetched[shown_count:]:  # a total: the group's count in "age", its sums in the amounts' columns
            sums[row.age_group] = {"count": int(row.age), **{name: _cents(getattr(row, name))
                                                              for name in ("fees", "charges", "advance", "due")}}
        del fetched[shown_count:]
        if exact:  # in C, no Python a row: 40,568 debtors, a loop here was a tenth of the SQL's time
            found = list(map(list, map(shown, fetched)))
        else:  # SQLite: dates as text, amounts as floats
            found = [[*(getattr(row, name) for name in DEBTOR_COLUMNS[:5]), _as_date(row.since), int(row.age),
                      row.age_label, int(row.months),
                      *(_cents(getattr(row, name)) for name in ("fees", "charges", "advance", "due"))] for row in fetched]
    finally:
        if collecting:
            gc.enable()
    return sums, found


def _as_date(value):
    """A date computed in SQL: SQLite gives it back as text."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def _cents(value):
    return quantize(Decimal(str(value or 0)))


def _debts(actor, filters, today):
    """One row per debtor, its amounts rounded to the cent in SQL (so that the totals, summed there, are
    the sums of the rows shown). A debtor is a client owing periods of a live subscription (never paid
    included: from its activation day) or open charges, more than its advance (the card's "due today")."""
    owing = _owing_subscriptions(today, filters)
    months, fees_due = _periods_and_fees_due(owing, today)
    overdue = (select(owing.c.client_id, func.min(owing.c.start).label("since"), func.sum(fees_due).label("owed"),
                      func.sum(months).label("months"))
               .group_by(owing.c.client_id).subquery())
    subscription_filters = [key for key in ("service", "group", "status") if filters.get(key)]
    charges = (select(Charge.client_id.label("client_id"), func.sum(Charge.amount).label("charges"),
                      func.min(local_day(Charge.created_at)).label("since"))
               .where(Charge.open_condition()).group_by(Charge.client_id).subquery())
    # The advance as the database keeps it (ClientAdvance: the rule of app.billing.charges.advances, counted
    # again by triggers whenever it changes): summing every client's advance allocations here was a third of
    # the screen's time (3,000,000 payments: 300,000 of them, anti-joined with the reversals).
    advances = ClientAdvance.__table__
    since = case((overdue.c.since.is_(None), charges.c.since), (charges.c.since.is_(None), overdue.c.since),
                 (charges.c.since < overdue.c.since, charges.c.since), else_=overdue.c.since)
    fees = func.round(func.coalesce(overdue.c.owed, 0), 2)
    open_charges = func.round(func.coalesce(charges.c.charges, 0), 2)
    advance = func.round(func.coalesce(advances.c.advance_eur, 0), 2)
    # The debtors with their amounts and the oldest unpaid day, a subquery of its own (`OFFSET 0`) so that
    # the day is computed once a row: its age, age group and the group's name are written over it below,
    # where PostgreSQL wrote `since` into each of them again (a dozen times a row).
    owed = select(Client.id.label("client_id"), Client.client_number, type_coerce(since, Date).label("since"),
                  cast(func.coalesce(overdue.c.months, 0), Integer).label("months"),
                  fees.label("fees"), open_charges.label("charges"), advance.label("advance"))
    # Who may owe: clients with periods due, and (unless a service filter asks for subscriptions) clients
    # who owe open charges only — each list computed once (a union of the two computed the periods twice).
    if subscription_filters:
        owed = (owed.select_from(overdue).join(Client, Client.id == overdue.c.client_id)
                .outerjoin(charges, charges.c.client_id == Client.id))
    else:
        owed = (owed.select_from(Client).outerjoin(overdue, overdue.c.client_id == Client.id)
                .outerjoin(charges, charges.c.client_id == Client.id)
                .where(or_(overdue.c.client_id.isnot(None), charges.c.client_id.isnot(None))))
    owed = owed.outerjoin(advances, advances.c.client_id == Client.id).where(fees + open_charges - advance > 0)
    owed = _scoped(_dealer_filter(owed, filters, Client.dealer_id), actor, Client.dealer_id).offset(0).subquery("owed")
    age = cast(days_since(owed.c.since, today) + 1, Integer)
    age_group = case(*((age <= high, index) for index, (_low, high) in enumerate(AGES) if high),
                     else_=len(AGES) - 1)
    label = case(*((age <= high, literal(age_label(low, high))) for low, high in AGES if high),
                 else_=literal(age_label(*AGES[-1])))
    query = select(owed.c.client_id, owed.c.client_number, owed.c.since, owed.c.months, owed.c.fees,
                   owed.c.charges, owed.c.advance, (owed.c.fees + owed.c.charges - owed.c.advance).label("due"),
                   age.label("age"), age_group.label("age_group"), cast(label, String).label("age_label"))
    if filters.get("age"):
        low, high = AGES[filters["age"] - 1]
        query = query.where(age >= low) if high is None else query.where(and_(age >= low, age <= high))
    return query


def _address_sql():
    """The client's address as the card writes it (Client's structured address: neighbourhood, block,
    entrance, floor, apartment; else the free text), in SQL."""
    def part(prefix, column):
        return case((func.coalesce(column, literal("")) != "", literal(f", {prefix} ") + column), else_=literal(""))

    neighbourhood = Neighbourhood.kind + literal(" ") + Neighbourhood.name
    structured = (case((neighbourhood.isnot(None), neighbourhood + literal(", ")), else_=literal(""))
                  + literal("бл. ") + Block.name + part("вх.", Client.entrance) + part("ет.", Client.floor)
                  + part("ап.", Client.apartment))
    return case((func.coalesce(Block.name, literal("")) != "", structured),
                else_=func.coalesce(Client.address_text, literal("")))


# --- Cash desk -----------------------------------------------------------------------------------------

def cash_desk(actor, filters):
    """Collected per operator and day by method — the figures of the cash desk's handover records — and
    whether that day's desk was closed."""
    day = Payment.paid_on
    full_name = Operator.first_name + literal(" ") + Operator.last_name
    columns = [day_key(day).label("day"), full_name.label("operator"), Payment.operator_id,
               PaymentMethod.name.label("method"), func.count(Payment.id).label("payments")]
    columns += [func.coalesce(func.sum(case((Payment.currency == code, Payment.amount))), 0).label(code)
                for code in CURRENCIES]
    columns += [func.sum(Payment.amount_eur).label("eur")]
    query = (select(*columns).select_from(Payment).join(Operator, Operator.id == Payment.operator_id)
             .join(PaymentMethod, PaymentMethod.id == Payment.method_id))
    query = _payment_filters(query, actor, filters)
    query = (query.group_by(day_key(day), full_name, Payment.operator_id, PaymentMethod.name)
             .order_by(day_key(day), full_name, PaymentMethod.name))
    closed = {(operator_id, closing_day.isoformat()) for operator_id, closing_day in
              db.session.execute(select(CashDeskClosing.operator_id, CashDeskClosing.day))}
    report = Report(title=gettext("Cash desk"),
                    columns=[gettext("Day"), gettext("Operator"), gettext("Payment method"), gettext("Payments")] +
                    [gettext("In %(currency)s", currency=code) for code in CURRENCIES] +
                    [gettext("Total, EUR"), gettext("Desk closed")],
                    numeric=set(range(3, 8)))
    totals = [0, ZERO, ZERO, ZERO, ZERO]
    for row in db.session.execute(query):
        values = [row.payments] + [quantize(Decimal(row._mapping[code])) for code in CURRENCIES] + \
                 [quantize(Decimal(row.eur))]
        report.rows.append([_period_label("day", row.day), row.operator, row.method] + values +
                           [(row.operator_id, str(row.day)) in closed])
        totals = [total + value for total, value in zip(totals, values)]
    report.total = [gettext("Total"), "", ""] + totals + [""]
    return report


# --- Services ------------------------------------------------------------------------------------------

STATUSES = (("pending", _l("Awaiting installation")), (ACTIVE, _l("Active (service)")),
            (SUSPENDED, _l("Suspended")), ("terminated", _l("Terminated")))


def services(actor, filters):
    """Subscriptions per service (and its group) and dealer, by status — now, or as they stood at the end
    of the day `as_of` (from the LOG's versions of the subscriptions) —; and those activated in the
    period."""
    as_of = filters.get("as_of")
    if as_of is not None and as_of < local_today():
        counted = _subscriptions_as_of(as_of)
    else:
        counted = select(Subscription.id, Subscription.client_id, Subscription.service_id, Subscription.status,
                         Subscription.activation_date).subquery("counted")
    status_counts = [func.count(case((counted.c.status == code, counted.c.id))).label(code)
                     for code, _label in STATUSES]
    started = []
    if filters.get("date_from") or filters.get("date_to"):
        condition = literal(True)
        if filters.get("date_from"):
            condition = and_(condition, counted.c.activation_date >= filters["date_from"])
        if filters.get("date_to"):
            condition = and_(condition, counted.c.activation_date <= filters["date_to"])
        started = [func.count(case((condition, counted.c.id))).label("started")]
    dealer = func.coalesce(Dealer.name, literal(str(HEAD_OFFICE)))
    query = (select(ServiceGroup.name.label("group"), Service.name.label("service"), dealer.label("dealer"),
                    *status_counts, *started)
             .select_from(counted).join(Service, Service.id == counted.c.service_id)
             .join(ServiceGroup, ServiceGroup.id == Service.group_id)
             .join(Client, Client.id == counted.c.client_id).outerjoin(Dealer, Dealer.id == Client.dealer_id))
    if filters.get("service"):
        query = query.where(Service.id == filters["service"])
    if filters.get("group"):
        query = query.where(Service.group_id == filters["group"])
    query = _dealer_filter(query, filters, Client.dealer_id)
    query = _scoped(query, actor, Client.dealer_id)
    query = query.group_by(ServiceGroup.name, Service.name, dealer).order_by(ServiceGroup.name, Service.name, dealer)
    columns = [gettext("Service group"), gettext("Service"), gettext("Dealer")] + \
              [str(label) for _code, label in STATUSES] + \
              ([gettext("Activated in the period")] if started else [])
    title = gettext("Services as of %(day)s", day=as_of.strftime("%d.%m.%Y")) if as_of else gettext("Services")
    report = Report(title=title, columns=columns, numeric=set(range(3, len(columns))))
    totals = [0] * (len(columns) - 3)
    for row in db.session.execute(query):
        values = list(row[3:])
        report.rows.append([row.group, row.service, row.dealer] + values)
        totals = [total + value for total, value in zip(totals, values)]
    report.total = [gettext("Total"), "", ""] + totals
    return report


def _subscriptions_as_of(day):
    """The subscriptions as they stood at the end of the office's `day`: the versions valid at the last
    transaction issued before that moment — made by it or an earlier one, and ended by none or a later one.

    That is Continuum's own rule of validity: transactions are numbered as they are written (a sequence),
    and a version ends with the number of the transaction that replaced it. So the versions are compared
    with one number, not each joined to the two transactions that made and ended it (a year ago over three
    million versions: 1.24 s that way)."""
    version = version_class(Subscription)
    transaction = versioning_manager.transaction_cls
    moment = utc_bounds(day)[1]
    last = (select(transaction.id).where(transaction.issued_at < moment)
            .order_by(transaction.issued_at.desc(), transaction.id.desc()).limit(1).scalar_subquery())
    return (select(version.id, version.client_id, version.service_id, version.status, version.activation_date)
            .where(version.transaction_id <= last, version.operation_type != 2,  # 2: deleted
                   or_(version.end_transaction_id.is_(None), version.end_transaction_id > last))
            .subquery("counted"))


def service_movement(actor, filters):
    """Per month of the period: subscriptions activated (by their activation day), suspended and
    terminated (by the office's day of the change that gave them that status, from the LOG's versions),
    and the net growth (activated less terminated)."""
    version = version_class(Subscription)
    transaction = versioning_manager.transaction_cls
    earlier = db.aliased(version)
    month = month_key(local_day(transaction.issued_at)).label("month")
    changes = (
        select(month, version.status, func.count(func.distinct(version.id)))
        .join(transaction, transaction.id == version.transaction_id)
        .join(Client, Client.id == version.client_id)
        .join(Service, Service.id == version.service_id)
        .where(version.status.in_((SUSPENDED, TERMINATED)),
               transaction.issued_at >= utc_bounds(filters["date_from"])[0],
               transaction.issued_at < utc_bounds(filters["date_to"])[1],
               # a change to the status, not another change (paid until, an address) while in it
               ~select(earlier.id).where(earlier.id == version.id, earlier.end_transaction_id == version.transaction_id,
                                         earlier.status == version.status).exists())
    )
    activated = (
        select(month_key(Subscription.activation_date).label("month"), func.count(Subscription.id))
        .join(Client, Client.id == Subscription.client_id)
        .join(Service, Service.id == Subscription.service_id)
        .where(Subscription.activation_date >= filters["date_from"],
               Subscription.activation_date <= filters["date_to"])
    )
    by_month = {}
    for query, service_column, kind in ((changes, version.service_id, None), (activated, Subscription.service_id,
                                                                               ACTIVE)):
        if filters.get("service"):
            query = query.where(service_column == filters["service"])
        if filters.get("group"):
            query = query.where(Service.group_id == filters["group"])
        query = _scoped(_dealer_filter(query, filters, Client.dealer_id), actor, Client.dealer_id)
        query = query.group_by(*query.selected_columns[:-1])
        for row in db.session.execute(query):
            status = kind or row[1]
            by_month.setdefault(row[0], {ACTIVE: 0, SUSPENDED: 0, TERMINATED: 0})[status] += row[-1]
    report = Report(title=gettext("Services by month"),
                    columns=[gettext("Month"), gettext("Activations"), gettext("Suspensions"), gettext("Terminations"),
                             gettext("Net growth")], numeric={1, 2, 3, 4})
    totals = [0, 0, 0, 0]
    for key in sorted(by_month):
        counts = by_month[key]
        values = [counts[ACTIVE], counts[SUSPENDED], counts[TERMINATED], counts[ACTIVE] - counts[TERMINATED]]
        report.rows.append([_period_label("month", key)] + values)
        totals = [total + value for total, value in zip(totals, values)]
    report.total = [gettext("Total")] + totals
    return report


# --- Traffic and online --------------------------------------------------------------------------------

GIB = Decimal(1024 ** 3)


def traffic(actor, filters, top=50):
    """The users who moved the most in the period (download + upload, GiB), top `top`, with the period's
    total of everyone in scope."""
    moved = func.sum(DailyTraffic.bytes_in + DailyTraffic.bytes_out)
    query = (select(Subscription.username, Client.client_number, Client.name, Service.name.label("service"),
                    func.sum(DailyTraffic.bytes_out).label("down"), func.sum(DailyTraffic.bytes_in).label("up"),
                    moved.label("moved"))
             .select_from(DailyTraffic).join(Subscription, Subscription.id == DailyTraffic.subscription_id)
             .join(Client, Client.id == Subscription.client_id).join(Service, Service.id == Subscription.service_id))
    query = _traffic_filters(query, actor, filters)
    total = db.session.execute(_traffic_filters(
        select(func.coalesce(func.sum(DailyTraffic.bytes_in), 0), func.coalesce(func.sum(DailyTraffic.bytes_out), 0))
        .select_from(DailyTraffic).join(Subscription, Subscription.id == DailyTraffic.subscription_id)
        .join(Client, Client.id == Subscription.client_id), actor, filters)).one()
    query = (query.group_by(Subscription.username, Client.client_number, Client.name, Service.name)
             .order_by(moved.desc()).limit(top))
    report = Report(title=gettext("Traffic"),
                    columns=[gettext("Username"), gettext("Client number"), gettext("Name"), gettext("Service"),
                             gettext("Download, GiB"), gettext("Upload, GiB"), gettext("Total, GiB")],
                    numeric={4, 5, 6})
    for row in db.session.execute(query):
        report.rows.append([row.username or "—", row.client_number, row.name, row.service,
                            _gib(row.down), _gib(row.up), _gib(row.moved)])
    up, down = total
    report.total = [gettext("All users"), "", "", "", _gib(down), _gib(up), _gib(up + down)]
    return report


def traffic_per_day(actor, filters):
    """(day, GiB) of everyone in scope, for the chart."""
    query = (select(DailyTraffic.day, func.sum(DailyTraffic.bytes_in + DailyTraffic.bytes_out))
             .select_from(DailyTraffic).join(Subscription, Subscription.id == DailyTraffic.subscription_id)
             .join(Client, Client.id == Subscription.client_id))
    query = _traffic_filters(query, actor, filters).group_by(DailyTraffic.day).order_by(DailyTraffic.day)
    return [(day, _gib(moved)) for day, moved in db.session.execute(query)]


def _traffic_filters(query, actor, filters):
    if filters.get("date_from"):
        query = query.where(DailyTraffic.day >= filters["date_from"])
    if filters.get("date_to"):
        query = query.where(DailyTraffic.day <= filters["date_to"])
    query = _dealer_filter(query, filters, Client.dealer_id)
    return _scoped(query, actor, Client.dealer_id)


def _gib(count):
    return (Decimal(count or 0) / GIB).quantize(Decimal("0.01"))


def online(actor, filters):
    """Who is online now: the open sessions, per NAS."""
    query = (select(RadiusSession.username, Client.client_number, Client.name, Nas.name.label("nas"),
                    RadiusSession.framed_ip, RadiusSession.started_at,
                    RadiusSession.output_bytes, RadiusSession.input_bytes)
             .select_from(RadiusSession).join(Nas, Nas.id == RadiusSession.nas_id)
             .outerjoin(Subscription, Subscription.id == RadiusSession.subscription_id)
             .outerjoin(Client, Client.id == Subscription.client_id)
             .where(RadiusSession.stopped_at.is_(None)))
    query = _scoped(_dealer_filter(query, filters, Client.dealer_id), actor, Client.dealer_id)
    query = query.order_by(Nas.name, RadiusSession.username)
    report = Report(title=gettext("Online now"),
                    columns=[gettext("Username"), gettext("Client number"), gettext("Name"), gettext("NAS"),
                             gettext("IP address"), gettext("Since"), gettext("Download, GiB"),
                             gettext("Upload, GiB")], numeric={6, 7})
    for row in db.session.execute(query):
        report.rows.append([row.username, row.client_number or "—", row.name or "—", row.nas, row.framed_ip or "—",
                            row.started_at, _gib(row.output_bytes), _gib(row.input_bytes)])
    report.total = [ngettext("%(num)d session", "%(num)d sessions", len(report.rows))] + [""] * 7
    return report
