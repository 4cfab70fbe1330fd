"""What the clients module plugs into the application, panel or worker alike (app.create_app calls init): a
service whose IPv6 changes gives its subscriptions their prefixes (app.clients.subscriptions)."""
from app.clients import subscriptions
from app.core import events


def init(app):
    """Connects the receivers (once per process, however many apps: blinker keeps one connection per function)."""
    events.service_ipv6_changed.connect(subscriptions.give_service_prefixes)
