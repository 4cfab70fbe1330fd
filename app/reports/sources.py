"""The reports the panel offers: each one's title, filters (read from a query string, the same for the
screen and its exports), the function that builds it and the chart that goes with it."""
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from app.billing.models import PaymentMethod, PaymentType
from app.catalog.models import Service, ServiceGroup
from app.core.formatting import format_date, local_today
from app.core.scoping import dealer_of, get_in_scope
from app.core.validators import InvalidValue, as_id, parse_day
from app.dealers.models import Dealer
from app.extensions import db
from app.reports import charts
from app.reports import services as reports
from app.security.models import Operator


@dataclass
class ReportKind:
    title: object
    build: object  # (actor, filters) -> Report
    filters: tuple  # the filter names the report's form shows
    description: object = ""
    paged: bool = False  # build takes page= (the screen shows one page; an export writes every row)
    period: str = "month"  # the period it opens with: this month so far, or this year so far


REPORTS = {
    "revenue": ReportKind(_l("Revenue"), lambda actor, filters: reports.revenue(actor, filters, filters["group_by"]),
                          ("date_from", "date_to", "group_by", "dealer", "method", "payment_type", "operator",
                           "service"),
                          _l("Payments received by day, month, year, method, type, dealer, operator or service; "
                             "in EUR and in the currencies received; reversals netted.")),
    "debtors": ReportKind(_l("Debtors"), reports.debtors, ("dealer", "group", "service", "status", "age"),
                          _l("Who owes today, how much and since when, by age of the debt: the morning's calls."),
                          paged=True),
    "services": ReportKind(_l("Services"), reports.services, ("as_of", "date_from", "date_to", "dealer", "group",
                                                               "service"),
                           _l("Subscriptions by service, group, dealer and status, now or as of a day; activated "
                              "in the period.")),
    "movement": ReportKind(_l("Services by month"), reports.service_movement,
                           ("date_from", "date_to", "dealer", "group", "service"),
                           _l("Per month: subscriptions activated, suspended and terminated, and the net growth."),
                           period="year"),
    "cash-desk": ReportKind(_l("Cash desk"), reports.cash_desk, ("date_from", "date_to", "dealer", "method",
                                                                  "operator"),
                            _l("Collected per operator and day by method, as the handover records say.")),
    "traffic": ReportKind(_l("Traffic"), reports.traffic, ("date_from", "date_to", "dealer"),
                          _l("The users who moved the most in the period, and everyone's total per day.")),
    "online": ReportKind(_l("Online now"), reports.online, ("dealer",), _l("The open RADIUS sessions.")),
}

FILTER_LABELS = {
    "date_from": _l("From"), "date_to": _l("To"), "group_by": _l("Group by"), "dealer": _l("Dealer"),
    "method": _l("Payment method"), "payment_type": _l("Payment type"), "operator": _l("Received by"),
    "service": _l("Service"), "group": _l("Service group"), "status": _l("Status"), "age": _l("Age of the debt"),
    "as_of": _l("As of"),
}
ID_FILTERS = {"method": PaymentMethod, "payment_type": PaymentType, "operator": Operator, "service": Service,
              "group": ServiceGroup, "dealer": Dealer}


def default_period(today=None, period="month"):
    """This month so far (what a manager opens most reports for), or this year so far."""
    today = today or local_today()
    return today.replace(day=1) if period == "month" else today.replace(month=1, day=1), today


def parse_filters(key, args, actor):
    """The report's filters from `args` (a MultiDict), checked; a value that is not valid is left out
    (raises FieldErrors for a day that is not a day, so the page can say so)."""
    names = REPORTS[key].filters
    filters = {}
    errors = {}
    if "as_of" in names:
        text = (args.get("as_of") or "").strip()
        try:
            filters["as_of"] = parse_day(text) if text else None
        except InvalidValue as error:
            errors["as_of"] = str(error)
            filters["as_of"] = None
    if "date_from" in names:
        start, end = default_period(period=REPORTS[key].period)
        # ?from= and ?to= as the payments list writes them, too: a link between the two keeps its days.
        for name, alias, default in (("date_from", "from", start), ("date_to", "to", end)):
            text = (args.get(name) or args.get(alias) or "").strip()
            try:
                filters[name] = parse_day(text) if text else default
            except InvalidValue as error:
                errors[name] = str(error)
                filters[name] = default
        if filters["date_from"] > filters["date_to"]:
            filters["date_from"], filters["date_to"] = filters["date_to"], filters["date_from"]
    if "group_by" in names:
        group = args.get("group_by") or "month"
        filters["group_by"] = group if group in reports.REVENUE_GROUPS else "month"
    for name in ("method", "payment_type", "operator", "service", "group"):
        if name in names:
            filters[name] = as_id(args.get(name))
    if "dealer" in names and dealer_of(actor) is None:
        value = (args.get("dealer") or "").strip()
        # 0: head office's own; absent: everyone. A dealer's operator sees only the dealer's, always.
        filters["dealer"] = 0 if value == "0" else as_id(value)
    if "status" in names:
        status = args.get("status")
        filters["status"] = status if status in ("active", "suspended") else None
    if "age" in names:
        age = as_id(args.get("age"))
        filters["age"] = age if age and age <= len(reports.AGES) else None
    filters["errors"] = errors
    return filters


def filter_description(key, args, actor):
    """The filters the report applies for `actor`, in words: [(label, value)], for an export's header and the LOG.

    Described from what parse_filters keeps (a dealer's operator's dealer
    filter is always their own, so it is not described), and a record is
    named only when it is in the actor's scope: an id forced into the query
    string stays a number, never another dealer's or operator's name.
    """
    filters = parse_filters(key, args, actor)
    pairs = []
    for name in REPORTS[key].filters:
        value = filters.get(name)
        if not (args.get(name) or "").strip() or value is None:
            continue
        if name == "dealer" and value == 0:
            value = str(reports.HEAD_OFFICE)
        elif name in ID_FILTERS:
            record = get_in_scope(ID_FILTERS[name], value, actor)
            value = _name_of(record) if record is not None else str(value)
        elif name == "group_by":
            value = str(reports.REVENUE_GROUPS.get(value, value))
        elif name == "age":
            value = reports.age_label(*reports.AGES[value - 1])
        elif isinstance(value, date):
            value = format_date(value)
        pairs.append((str(FILTER_LABELS[name]), value))
    return pairs


def _name_of(record):
    if isinstance(record, Operator):
        return f"{record.first_name} {record.last_name}"
    return str(getattr(record, "name", record))


def chart_of(key, actor, filters, report):
    """(title, Figure) drawn from what the report shows, or None for a report without a picture."""
    if key == "revenue" and report.rows and filters.get("group_by") in ("day", "month", "year", "method",
                                                                        "dealer", "service"):
        return gettext("Revenue, EUR"), charts.bar_chart([row[0] for row in report.rows],
                                                          [row[-1] for row in report.rows],
                                                          gettext("Revenue, EUR"), "EUR")
    if key == "debtors" and report.rows:
        return gettext("Debt by age, EUR"), charts.bar_chart([label for label, _count, _amount in report.by_age],
                                                              [amount for _label, _count, amount in report.by_age],
                                                              gettext("Debt by age, EUR"), "EUR")
    if key == "movement" and report.rows:
        labels = [row[0] for row in report.rows]
        series = [(report.columns[index], [row[index] for row in report.rows]) for index in (1, 2, 3)]
        return gettext("Subscriptions by month"), charts.grouped_bar_chart(labels, series,
                                                                         gettext("Subscriptions by month"))
    if key == "services" and report.rows:
        totals = report.total[3:7]
        labels = [str(label) for _code, label in reports.STATUSES]
        return gettext("Subscriptions by status"), charts.bar_chart(labels, totals,
                                                                      gettext("Subscriptions by status"))
    if key == "traffic":
        days = reports.traffic_per_day(actor, filters)
        if days:
            return gettext("Traffic per day, GiB"), charts.bar_chart([format_date(day)[:5] for day, _gib in days],
                                                                      [gib for _day, gib in days],
                                                                      gettext("Traffic per day, GiB"), "GiB")
    return None


def month_revenue(actor, today=None):
    """(this month so far, the whole previous month) in EUR: the home page's comparison."""
    today = today or local_today()
    this_start = today.replace(day=1)
    previous_end = date.fromordinal(this_start.toordinal() - 1)
    previous_start = previous_end.replace(day=1)
    figures = []
    for start, end in ((this_start, today), (previous_start, previous_end)):
        report = reports.revenue(actor, {"date_from": start, "date_to": end}, "year")
        figures.append(report.total[-1])
    return tuple(figures)
