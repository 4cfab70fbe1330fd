"""What notifications plug into the application, panel or worker alike (app.create_app calls init):
an operator's second-factor link and changes are mailed to the operator."""
from app.core import events
from app.notifications import handlers


def init(app):
    """Connects the receivers (once per process, however many apps: blinker keeps one connection per function)."""
    events.second_factor_link_issued.connect(handlers.mail_enrolment_link)
    events.second_factor_changed.connect(handlers.mail_second_factor_change)
