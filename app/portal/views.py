"""The portal in the application: its pages at /my/ (registered here, with the panel's views, as FREEFTP's
public pages are: a worker's application serves no page), the client card's line (access sent or set, last
login) and its button "Изпрати достъп до портала", which mails the client a link to set the password."""
from flask import current_app, flash, redirect, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from app.audit.formatting import register_entity
from app.clients.models import Client
from app.clients.views import CLIENT_CARD
from app.core.actors import current_operator
from app.core.errors import FieldErrors
from app.core.pages import not_found_page
from app.core.scoping import get_in_scope
from app.core.transaction import discard
from app.portal.models import PortalAccess
from app.portal.pages import portal
from app.portal.services import portal_card, send_access

LABELS = {"client": _l("Client"), "password_set_at": _l("Password set"), "last_login_at": _l("Last login"),
          "last_login_addr": _l("Last login from"), "failed_logins": _l("Failed logins")}


class PortalAccessView(BaseView):
    """The card's button: sending access needs the right to change clients (the card's "Edit")."""

    route_base = "/portal-access"
    class_permission_name = "Client"
    method_permission_name = {"send": "edit"}
    default_view = "send"

    @expose("/send/<int:client_id>", methods=["POST"])
    @has_access
    def send(self, client_id):
        client = get_in_scope(Client, client_id, current_operator())
        if client is None:
            return not_found_page()
        try:
            send_access(current_operator(), client)
        except FieldErrors as refusal:
            discard()
            flash(str(refusal), "danger")
        else:
            flash(gettext("A link to set the portal password was sent to %(email)s.", email=client.email), "success")
        return redirect(url_for("ClientView.show", pk=client.id))


def register(appbuilder):
    register_entity(PortalAccess, _l("Portal access"), LABELS, hidden=("password_hash", "session_generation"))
    appbuilder.add_view_no_menu(PortalAccessView)
    # In the profile's place: after the services' parts, a line of its own.
    CLIENT_CARD.add("portal/_card_portal.html", portal_card, order=40, place="services")
    current_app.register_blueprint(portal)
