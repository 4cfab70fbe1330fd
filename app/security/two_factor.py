"""The second lock on a login: a one-time code from the operator's authenticator app (TOTP, RFC 6238).

An operator logs in with a code once they have enrolled, and must enrol
when one of their roles holds the right TWO_FACTOR_LOGIN (granted per role
in the rights matrix). So a stolen password alone opens nothing. In the
panel the code is a second step after the password; the REST API's login
takes it as "totp" beside the password.

Enrolling needs more than the password, or whoever knows it would enrol
first and own the account: it needs an enrolment link, e-mailed to the
operator (when they log in with their password and have no key yet) or
issued by an administrator on the operator's page. A link works once,
for TWO_FACTOR_LINK_HOURS, and only the newest one works. Issuing a link,
enrolling and a reset of the key are in the LOG and e-mailed to the
operator (the notifications module receives the events).
"""
from datetime import timedelta

import pyotp
from pyotp.exceptions import OTPVerificationError
from flask import current_app
from flask_babel import gettext
from sqlalchemy import or_, select, update

from app.audit.models import LogEntry
from app.audit.services import record_event
from app.core import events, one_time_links
from app.core.errors import FieldErrors
from app.core.formatting import utcnow
from app.core.links import public_url
from app.core.scoping import in_scope
from app.extensions import db
from app.security.models import Operator, OperatorLogin
from app.security.permissions import TWO_FACTOR_LOGIN
from app.security.rights import may, may_access
from app.security.services import grantable_roles

# One step (30 s) either side: a phone's clock is seldom exact.
VALID_WINDOW = 1


def needs_second_factor(operator):
    return bool(operator.totp_secret) or may(operator, TWO_FACTOR_LOGIN)


def new_secret():
    return pyotp.random_base32()


def provisioning_uri(operator, secret):
    """What an authenticator app reads (typed in as the key, or from a QR code of this text)."""
    return pyotp.TOTP(secret).provisioning_uri(name=operator.username, issuer_name=current_app.config["APP_NAME"])


def _matching_step(secret, code):
    """The time-step (counter) whose code this is, within VALID_WINDOW of now; None for a wrong code."""
    code = (code or "").replace(" ", "")
    if not (secret and code.isdigit()):
        return None
    try:
        return pyotp.TOTP(secret).verify_and_get_timecode(code, valid_window=VALID_WINDOW)
    except OTPVerificationError:
        return None


def accept_code(operator, code):
    """True when the code is the operator's app's, and newer than any code they logged in with. Flushes.

    A code works once: the time-step of the one accepted is kept, and a code
    of that step or an earlier one is refused (an observed code cannot be
    replayed within its 90 s). One UPDATE decides, so of two requests with
    the same code exactly one logs in.
    """
    step = _matching_step(operator.totp_secret, code)
    if step is None:
        return False
    # Refused without writing (nor flushing what the login has pending): the refusal's LOG
    # entry goes on a connection of its own, which a write lock here would block on SQLite.
    with db.session.no_autoflush:
        last_step = db.session.scalar(select(OperatorLogin.totp_last_step)
                                      .where(OperatorLogin.operator_id == operator.id))
    if last_step is not None and last_step >= step:
        return False
    login_state(operator)
    accepted = db.session.execute(
        update(OperatorLogin)
        .where(OperatorLogin.operator_id == operator.id,
               or_(OperatorLogin.totp_last_step.is_(None), OperatorLogin.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session="fetch")
    )
    return accepted.rowcount == 1


def _check_may_manage(actor, operator):
    """Anyone for themselves; otherwise who may edit the operator and could give every role they hold."""
    if actor is operator or getattr(actor, "id", None) == operator.id:
        return
    allowed = {role.id for role in grantable_roles(actor)}
    if not (may_access(actor, "can_edit", "Operator") and in_scope(operator, actor)
            and all(role.id in allowed for role in operator.roles)):
        raise FieldErrors({"totp_secret": [gettext("You do not have the right to do this.")]})


def login_state(operator):
    """The operator's OperatorLogin row, made on first need. Flushes a new one."""
    state = db.session.get(OperatorLogin, operator.id)
    if state is None:
        state = OperatorLogin(operator_id=operator.id, session_generation=0)
        db.session.add(state)
        db.session.flush()
    return state


ENROLMENT = "second-factor-enrolment"  # the one-time links' purpose (app.core.one_time_links)


def _subject(operator_id):
    return f"operator:{operator_id}"


def enrolment_link_until(operator):
    """Until when the operator's current enrolment link works (UTC), or None when none does."""
    link = one_time_links.current(ENROLMENT, _subject(operator.id))
    return link.expires_at if link is not None else None


def has_valid_enrolment_link(operator):
    return enrolment_link_until(operator) is not None


def issue_enrolment_link(actor, operator):
    """A new enrolment link for the operator, e-mailed to them; returns its address. Flushes.

    Any older link stops working. `actor` is the operator (after their
    password, at login) or an administrator (who is shown the link once).
    """
    _check_may_manage(actor, operator)
    lifetime = timedelta(hours=current_app.config.get("TWO_FACTOR_LINK_HOURS", 24))
    token = one_time_links.issue(ENROLMENT, _subject(operator.id), lifetime)
    link = public_url("TwoFactorAuthDBView.enrol", token=token)  # the configured host, never the request's
    record_event(LogEntry.SECOND_FACTOR, user=actor, entity=operator, note=gettext("Enrolment link issued"))
    events.send(events.second_factor_link_issued, actor, operator=operator, link=link,
                expires_at=enrolment_link_until(operator))
    return link


def operator_of_enrolment_link(token):
    """The active operator whose current, unexpired enrolment link this is; else None."""
    try:
        link = one_time_links.check(ENROLMENT, token)
    except one_time_links.LinkRefused:
        return None
    operator_id = int(link.subject.removeprefix("operator:"))
    return db.session.scalar(select(Operator).where(Operator.id == operator_id, Operator.active.is_(True)))


def enrol(operator, token, secret, code):
    """Store the operator's key once a code from it proves the app has it, using up the link. Flushes.

    True when enrolled; False when the code is wrong or the link no longer
    works (used, expired, or replaced by a newer one).
    """
    step = _matching_step(secret, code)
    if step is None or operator_of_enrolment_link(token) is not operator:
        return False
    try:
        one_time_links.redeem(ENROLMENT, token)  # of two requests with the same link, exactly one enrols
    except one_time_links.LinkRefused:
        return False
    login_state(operator).totp_last_step = step
    operator.totp_secret = secret
    db.session.flush()
    _record_change(operator, operator, "enrolled", gettext("Two-factor login enrolled"))
    return True


def reset_second_factor(actor, operator):
    """Forget the operator's key (a lost phone): they enrol again, with a new link. Flushes."""
    _check_may_manage(actor, operator)
    operator.totp_secret = None
    login_state(operator).totp_last_step = None
    one_time_links.revoke(ENROLMENT, _subject(operator.id))
    db.session.flush()
    _record_change(actor, operator, "reset", gettext("Two-factor login reset"))


def _record_change(actor, operator, change, note):
    record_event(LogEntry.SECOND_FACTOR, user=actor, entity=operator, note=note)
    events.send(events.second_factor_changed, actor, operator=operator, change=change)
