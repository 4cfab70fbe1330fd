"""What the organizer plugs into the application, panel or worker alike (app.create_app calls init):
a sold service that needs installation gets its installation task."""
from app.core import events
from app.organizer import handlers


def init(app):
    """Connects the receiver (once per process, however many apps: blinker keeps one connection per function)."""
    events.subscription_sold.connect(handlers.open_installation)
