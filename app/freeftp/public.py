"""FREEFTP's public pages under /freeftp/: registration, confirmation, password reset, search.

No operator logs in here, and the protection list does not apply
(`public_route`): the pages have their own filters (source networks,
e-mail rule, rate limit per address). They are in Bulgarian (the default
language) and read on a phone.
"""
from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import gettext
from sqlalchemy import insert

from app.core.actors import acting_as
from app.core.errors import FieldErrors
from app.core.formatting import utcnow
from app.core.forms import NewPasswordForm
from app.core.links import public_host
from app.core.one_time_links import LinkRefused
from app.core.transaction import discard
from app.extensions import db
from app.freeftp import search as file_search
from app.freeftp.forms import RegistrationForm, ResetRequestForm
from app.freeftp.models import REASON_RATE, REFUSED, REGISTER, RESET, FreeFtpAttempt
from app.freeftp.services import (
    PUBLIC_ACTOR,
    REGISTRATION_ANSWER,
    Refusal,
    check_password_link,
    confirm_registration,
    current_settings,
    record_attempt,
    register,
    request_password_reset,
    set_new_password,
)
from app.protection.guard import public_route
from app.radius.services import format_bytes

public = Blueprint("freeftp_public", __name__, url_prefix="/freeftp")
PER_PAGE = 50


@public.app_template_filter("file_size")
def _file_size(count):
    return format_bytes(count)


def _page(template, status=200, **values):
    return render_template(f"freeftp/{template}", settings=current_settings(), **values), status


def _show_errors(form, errors):
    for field, messages in errors.items():
        target = getattr(form, field, None)
        if target is not None:
            target.errors = list(target.errors or []) + list(messages)


def _refused(kind, refusal, **attempt):
    """A refused attempt: the unit's changes dropped, the attempt kept with its reason."""
    discard()
    address = request.remote_addr
    if refusal.reason == REASON_RATE:
        # Answered with 429, which keeps nothing of the unit: on a connection of its own, like a refused login.
        with db.engine.begin() as connection:
            connection.execute(insert(FreeFtpAttempt).values(
                kind=kind, remote_addr=(address or "")[:45], outcome=REFUSED, reason=REASON_RATE,
                username=(attempt.get("username") or "")[:100] or None,
                email=(attempt.get("email") or "")[:200] or None,
                attempted_at=utcnow()))
        return 429
    record_attempt(kind, address, REFUSED, refusal.reason, **attempt)
    return 200


@public.route("/", methods=["GET"])
@public_route
def index():
    return _page("index.html")


@public.route("/register", methods=["GET", "POST"])
@public_route
def register_page():
    form = RegistrationForm()
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            if form.csrf_token.errors:
                form.csrf_token.errors = [gettext("The form expired. Fill it in again.")]
            return _page("register.html", form=form)
        values = {"username": form.username.data, "email": form.email.data}
        try:
            with acting_as(PUBLIC_ACTOR):
                register(PUBLIC_ACTOR, password=form.password.data, remote_addr=request.remote_addr, **values)
        except Refusal as refusal:
            status = _refused(REGISTER, refusal, **values)
            _show_errors(form, refusal.errors)
        else:
            return _page("message.html", title=gettext("Check your e-mail"), message=REGISTRATION_ANSWER)
    return _page("register.html", form=form, status=status)


def _link_refused(refusal):
    return _page("message.html", 404, title=gettext("The link is not valid"), message=refusal.message)


@public.route("/confirm/<token>", methods=["GET"])
@public_route
def confirm(token):
    try:
        with acting_as(PUBLIC_ACTOR):
            account = confirm_registration(token)
    except LinkRefused as refusal:
        return _link_refused(refusal)
    except FieldErrors as refusal:
        discard()
        return _page("message.html", 409, title=gettext("Registration not finished"),
                     message=str(refusal))
    return _page("message.html", title=gettext("E-mail confirmed"),
                 message=gettext("The account %(username)s is ready: log in to the FTP server with it.",
                                 username=account.username))


@public.route("/reset", methods=["GET", "POST"])
@public_route
def reset():
    form = ResetRequestForm()
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            if form.csrf_token.errors:
                form.csrf_token.errors = [gettext("The form expired. Fill it in again.")]
            return _page("reset.html", form=form)
        try:
            with acting_as(PUBLIC_ACTOR):
                request_password_reset(PUBLIC_ACTOR, email=form.email.data, remote_addr=request.remote_addr)
        except Refusal as refusal:
            status = _refused(RESET, refusal, email=form.email.data)
            _show_errors(form, refusal.errors)
        else:
            return _page("message.html", title=gettext("Check your e-mail"), message=gettext(
                "If an account has this e-mail, we sent it a link to set a new password."))
    return _page("reset.html", form=form, status=status)


@public.route("/reset/<token>", methods=["GET", "POST"])
@public_route
def new_password(token):
    try:
        check_password_link(token)
    except LinkRefused as refusal:
        return _link_refused(refusal)
    form = NewPasswordForm()
    if request.method == "POST" and form.validate_on_submit():
        if form.password.data != form.repeated.data:
            form.repeated.errors = [gettext("The two passwords differ.")]
        else:
            try:
                with acting_as(PUBLIC_ACTOR):
                    account = set_new_password(token, form.password.data)
            except LinkRefused as refusal:  # used by another request meanwhile
                discard()
                return _link_refused(refusal)
            except FieldErrors as refusal:
                discard()
                _show_errors(form, refusal.errors)
            else:
                return _page("message.html", title=gettext("Password changed"), message=gettext(
                    "The account %(username)s logs in with the new password.", username=account.username))
    return _page("new_password.html", form=form)


@public.route("/search", methods=["GET"])
@public_route
def search():
    text = (request.args.get("q") or "").strip()[:200]
    try:
        page = max(int(request.args.get("page", "1")), 1)
    except ValueError:
        page = 1
    if page > 1000:
        abort(404)
    results = file_search.find(text, page=page, per_page=PER_PAGE) if text else None
    host = current_app.config.get("FREEFTP_PUBLIC_HOST") or public_host()
    port = current_app.config["FREEFTP_PORT"]
    base = f"ftp://{host}" + ("" if port == 21 else f":{port}")
    return _page("search.html", text=text, results=results, page=page, per_page=PER_PAGE, ftp_base=base)
