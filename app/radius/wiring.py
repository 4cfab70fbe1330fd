"""What RADIUS plugs into the application, panel or worker alike (app.create_app calls init): a suspended,
terminated or frozen subscription is disconnected, one active again leaves the walled garden, a service's new
speed reaches its subscribers online (each a job after the commit, app.radius.jobs); a service's extra parameter
is checked against the RADIUS dictionary and the NAS makes before it is stored (app.radius.attributes); the client
search finds the IPv6 addresses NAS report."""
from app.catalog import services as catalog
from app.clients import services as clients
from app.core import events
from app.radius import attributes, handlers, services


def init(app):
    """Connects the receivers (once per process, however many apps: blinker keeps one connection per function)."""
    events.subscription_status_changed.connect(handlers.disconnect_when_cut_off)
    events.subscription_frozen.connect(handlers.disconnect_when_frozen)
    events.speed_changed.connect(handlers.change_speed_online)
    events.service_parameter_checked.connect(handlers.check_service_parameter)
    # The client search finds a subscriber by an IPv6 address inside what their NAS reports for an open session.
    clients.IPV6_LOOKUPS[:] = [services.clients_with_ipv6_session]
    catalog.PARAMETER_MAKES[:] = attributes.MAKE_CHOICES  # the NAS makes a service's parameter may name
