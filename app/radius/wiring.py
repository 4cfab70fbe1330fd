"""What RADIUS plugs into the application, panel or worker alike (app.create_app calls init): a suspended,
terminated or frozen subscription is disconnected, one active again leaves the walled garden, a service's new
speed reaches its subscribers online (each a job after the commit, app.radius.jobs)."""
from app.core import events
from app.radius import handlers


def init(app):
    """Connects the receivers (once per process, however many apps: blinker keeps one connection per function)."""
    events.subscription_status_changed.connect(handlers.disconnect_when_cut_off)
    events.subscription_frozen.connect(handlers.disconnect_when_frozen)
    events.speed_changed.connect(handlers.change_speed_online)
