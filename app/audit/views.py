"""The LOG at /log/: read-only for everyone; no route changes it."""
import re

from flask import current_app, has_request_context, request
from flask_appbuilder.models.filters import BaseFilter
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, select

from app.core.menu import in_menu
from app.audit import formatting
from app.audit.formatting import entity_label, format_operation, prefetch_references, record_links
from app.audit.models import LogEntry
from app.audit.formatting import registered_models
from app.audit.services import home_latest_entries, owned_entries, record_history
from app.core.actors import current_operator
from app.core.formatting import format_datetime
from app.core.scoping import DealerScopedView, scope
from app.core.views import (
    HOME_PAGE,
    CappedCountInterface,
    CappedCountListWidget,
    ReadOnlyModelView,
    show_history_with,
)


class LogInterface(CappedCountInterface):
    """Loads the records a page of entries points to in one query per type (see prefetch_references)."""

    def query(self, *args, **kwargs):
        count, entries = super().query(*args, **kwargs)
        # FAB builds the interfaces of related models (the operator filter) from this class too.
        if self.obj is LogEntry:
            prefetch_references(entries)
        return count, entries


# Logins and logouts, one pair per operator and shift, would bury the changes: the plain list leaves them out;
# "show logins" or any search of the list's own shows them (a failed login always shows: it is a warning).
QUIET_OPERATIONS = (LogEntry.LOGIN, LogEntry.LOGOUT)


def clients_named(actor, text):
    """The ids (a SELECT) of the clients the actor sees whose number is `text`, or whose name has each of its
    words; None for no text. The LOG knows the client model by name: it imports no module above it."""
    client = registered_models().get("Client")
    text = (text or "").strip()[:100]
    if client is None or not text:
        return None
    query = select(client.id)
    words = re.findall(r"\w+", text.lower())
    if text.isdigit():
        query = query.where(client.client_number == text)
    elif words:  # the client search's lower-case name: each word in it, in any order
        query = query.where(and_(*(client.search_name.contains(word, autoescape=True) for word in words)))
    else:
        query = query.where(client.id.is_(None))
    return scope(query, actor, client)


class LogListFilter(BaseFilter):
    """The LOG list's own filters from the address: ?client= (a number or a name: that client's business, as
    the card's История), and the logins left out unless ?logins=1 or the list is searched."""

    name = "log list"
    arg_name = "log_list"

    def apply(self, query, value):
        if not has_request_context() or request.endpoint != "LogView.list":
            return query  # an entry's own page, an export: every entry the scope allows
        clients = clients_named(current_operator(), request.args.get("client"))
        if clients is not None:
            query = query.filter(owned_entries(registered_models()["Client"], clients))
        searched = any(key.startswith("_flt_") for key in request.args)
        if request.args.get("logins") != "1" and not searched:
            query = query.filter(LogEntry.operation.not_in(QUIET_OPERATIONS))
        return query


class LogView(DealerScopedView, ReadOnlyModelView):
    datamodel = LogInterface(LogEntry)
    list_widget = CappedCountListWidget
    route_base = "/log"
    class_permission_name = "LogEntry"
    show_template = "appbuilder/general/model/show.html"
    list_title = _l("LOG: history of changes")
    list_note = _l("Every change, login and export, written down by the system itself as it happens.")
    show_title = _l("LOG entry")
    page_size = 50
    list_template = "audit/log_list.html"
    base_filters = [["id", LogListFilter, None]]
    list_columns = [
        "issued_at",
        "user",
        "remote_addr",
        "entity_type",
        "entity_label",
        "operation",
        "changes_summary",
    ]
    show_columns = list_columns[:-1] + ["changes_display", "entity_id", "username", "transaction_id", "note"]
    search_columns = [
        "user",
        "username",
        "issued_at",
        "remote_addr",
        "entity_type",
        "entity_id",
        "operation",
    ]
    # DealerScopedView re-exposes FAB's action routes; the LOG has none.
    action = ReadOnlyModelView.action
    action_post = ReadOnlyModelView.action_post
    order_columns = ["issued_at"]
    base_order = ("issued_at", "desc")
    label_columns = {
        "issued_at": _l("Time"),
        "user": _l("Operator"),
        "username": _l("User name typed"),
        "remote_addr": _l("IP address"),
        "entity_type": _l("Record type"),
        "entity_id": _l("Record ID"),
        "entity_label": _l("Record"),
        "operation": _l("Operation"),
        "changes_display": _l("Changes"),
        "changes_summary": _l("Changes"),
        "transaction_id": _l("Transaction"),
        "note": _l("Note"),
    }
    formatters_columns = {
        "issued_at": format_datetime,
        "entity_type": entity_label,
        "operation": format_operation,
    }


def home_log(_record, actor, **_known):
    values = home_latest_entries(actor)
    if values.get("home_entries"):
        values["home_entry_links"] = record_links(values["home_entries"])
    return values


def register(appbuilder):
    HOME_PAGE.add("home/_latest_entries.html", home_log, order=90)
    formatting.init_app(current_app)
    show_history_with(record_history)
    appbuilder.add_view(LogView, "Log", label=_l("LOG"), icon="fa-history",
                        **in_menu("Company"))
