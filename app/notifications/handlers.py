"""What the notifications module mails when other modules act: an operator's second factor, to the operator
(connected in app.notifications.wiring.init)."""
import hashlib

from flask import current_app
from flask_babel import force_locale, gettext

from app.core.formatting import format_datetime, utcnow
from app.notifications.services import queue_mail


def mail_enrolment_link(actor, operator, link, expires_at, **_details):
    """The link itself goes only to the operator's own address (the proof beyond the password)."""
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        subject = gettext("Enrolment of a one-time code for %(app)s", app=current_app.config["APP_NAME"])
        body = gettext(
            "Hello, %(name)s,\n\nYour role requires a one-time code from an authenticator app at every login. "
            "To enrol your phone's app, open this link, enter your password and then the code the app shows:\n\n"
            "%(link)s\n\nThe link works once, until %(until)s. If you did not ask for it, tell your administrator: "
            "someone may know your password.\n",
            name=operator, link=link, until=format_datetime(expires_at))
    key = "second-factor-link:%d:%s" % (operator.id, hashlib.sha256(link.encode()).hexdigest()[:32])
    queue_mail(actor, key, operator.email, subject, body)


def mail_second_factor_change(actor, operator, change, **_details):
    """Enrolled or reset: the operator learns of it, so a change they did not make does not go unnoticed."""
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        subject = gettext("Your two-factor login was changed")
        what = gettext("A one-time code app was enrolled for your account") if change == "enrolled" \
            else gettext("The one-time code app of your account was reset: you will enrol again at your next login")
        body = gettext("Hello, %(name)s,\n\n%(what)s on %(when)s.\n\nIf this was not you, tell your administrator "
                       "at once.\n", name=operator, what=what, when=format_datetime(utcnow()))
    key = "second-factor:%d:%s:%s" % (operator.id, change, utcnow().strftime("%Y%m%d%H%M%S%f"))
    queue_mail(actor, key, operator.email, subject, body)
