"""The portal's pages under /my/: a plain Flask blueprint with its own layout (never FAB's panel).

A portal session is one key of the session cookie (PORTAL_SESSION: the client's id and the session
generation of its access), which FAB never reads: a subscriber logged in here is no operator, and an
operator's login (FAB's `_user_id`) is no subscriber's here. Every page finds the logged-in client again,
and every record by that client's id: another client's id in an address is a 404. Each action runs as
the subscriber's own actor (app.portal.services.subscriber_actor), inside `acting_as`, so the LOG names it.

The protection list of the operators does not apply (`public_route`): the portal has its own limits.
"""
from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, g, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_wtf.csrf import CSRFError

from app.core.sandbox import TemplateProblem
from app.contracts.services import contract_pdf
from app.core.actors import acting_as
from app.core.headers import CONTENT_SECURITY_POLICY
from app.core.errors import FieldErrors
from app.core.money import format_money
from app.core.one_time_links import LinkRefused
from app.core.pdf import PdfError
from app.core.transaction import discard
from app.core.validators import InvalidValue, parse_day
from app.extensions import db
from app.clients.models import ACTIVE, Client
from app.invoices.documents import invoice_response, receipt_response
from app.portal import services
from app.epay.services import PAGES as EPAY_PAGES, easypay_code, start_online_payment, valid_easypay_codes
from app.core.forms import NewPasswordForm
from app.portal.forms import (ChangePasswordForm, ContactsForm, EmptyForm, FaultForm, FreezeForm, GardenPayForm,
                              LinkForm, LoginForm, PayForm)
from app.protection.guard import public_route
from app.radius.services import format_bytes

portal = Blueprint("portal", __name__, url_prefix="/my")
PORTAL_SESSION = "portal"


def _page(template, status=200, **values):
    return render_template(f"portal/{template}", format_bytes=format_bytes, format_money=format_money,
                           format_speed=services.format_speed, status_labels=services.STATUS_LABELS,
                           **values), status


def _show_errors(form, errors):
    for name, messages in errors.items():
        target = getattr(form, name, None)
        if target is None:
            form.form_errors = list(getattr(form, "form_errors", []) or []) + list(messages)
        else:
            target.errors = list(target.errors or []) + list(messages)


def _expired(form):
    if form.csrf_token.errors:
        form.csrf_token.errors = [gettext("The form expired. Fill it in again.")]


def _logged_in_client():
    state = session.get(PORTAL_SESSION)
    if not isinstance(state, dict):
        return None
    client_id, generation = state.get("client"), state.get("generation")
    if not isinstance(client_id, int) or not isinstance(generation, int):
        return None
    client = db.session.get(Client, client_id)
    if client is None or not services.session_is_current(client, generation):
        session.pop(PORTAL_SESSION, None)
        return None
    return client


def subscriber_page(view=None, *, visitor=None):
    """A page of a logged-in subscriber: g.client and g.actor; anyone else goes to the login (and a change
    they sent is not made) — unless `visitor()` answers for them (the walled garden's page)."""
    if view is None:
        return lambda view: subscriber_page(view, visitor=visitor)

    @wraps(view)
    def wrapper(*args, **kwargs):
        client = _logged_in_client()
        if client is None:
            answer = visitor() if visitor is not None else None
            if answer is not None:
                return answer
            return redirect(url_for("portal.login", next=request.path if request.method == "GET" else None))
        g.client, g.actor = client, services.subscriber_actor(client)
        with acting_as(g.actor):
            return view(*args, **kwargs)
    return public_route(wrapper)


def _safe_next(target):
    return target if isinstance(target, str) and target.startswith("/my/") and "//" not in target else None


# --- logging in -----------------------------------------------------------------------------------------------

@portal.route("/login", methods=["GET", "POST"])
@public_route
def login():
    form = LoginForm()
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            _expired(form)
            return _page("login.html", form=form)
        try:
            client = services.log_in(form.login.data, form.password.data, request.remote_addr)
        except services.TooManyAttempts as refusal:
            discard()
            form.form_errors = [refusal.message]
            return _page("login.html", 429, form=form)
        if client is not None:
            access = services.access_of(client)
            session[PORTAL_SESSION] = {"client": client.id, "generation": access.session_generation}
            return redirect(_safe_next(request.args.get("next")) or url_for("portal.home"))
        form.form_errors = [gettext("Wrong client number, username or password.")]
    return _page("login.html", status, form=form)


@portal.route("/logout", methods=["POST"])
@subscriber_page
def logout():
    if EmptyForm().validate_on_submit():
        services.end_sessions(g.client)
        session.pop(PORTAL_SESSION, None)
    return redirect(url_for("portal.login"))


@portal.route("/access", methods=["GET", "POST"])
@public_route
def ask_link():
    """First password or a forgotten one: the same page, the same answer for anyone."""
    form = LinkForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            _expired(form)
            return _page("ask_link.html", form=form)
        try:
            services.request_link(form.login.data, request.remote_addr)
        except services.TooManyAttempts as refusal:
            discard()
            form.form_errors = [refusal.message]
            return _page("ask_link.html", 429, form=form)
        return _page("message.html", title=gettext("Check your e-mail"), message=gettext(
            "If the number or username is a client's with an e-mail on record, we sent a link to set the "
            "password to that e-mail. It works once and for 48 hours."))
    return _page("ask_link.html", form=form)


@portal.route("/password/<token>", methods=["GET", "POST"])
@public_route
def set_password(token):
    try:
        client = services.check_link(token)
    except LinkRefused as refusal:
        return _page("message.html", 404, title=gettext("The link is not valid"), message=refusal.message,
                     ask_again=True)
    form = NewPasswordForm()
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                client = services.set_password_by_link(token, form.password.data, form.repeated.data)
            except LinkRefused as refusal:
                discard()
                return _page("message.html", 404, title=gettext("The link is not valid"),
                             message=refusal.message, ask_again=True)
            except FieldErrors as refusal:
                discard()
                _show_errors(form, refusal.errors)
            else:
                return _page("message.html", title=gettext("Password set"), message=gettext(
                    "Log in with your client number %(number)s and the new password.",
                    number=client.client_number), to_login=True)
        else:
            _expired(form)
    return _page("set_password.html", form=form, client=client)


# --- the walled garden ----------------------------------------------------------------------------------------

def _walled_garden_page(form=None, status=200):
    """Who opens the portal from an address of the walled garden, not logged in: that session's subscriber's
    initials, what is due today and the button to pay it (app.portal.services.garden_visit); None elsewhere."""
    visit = services.garden_visit(request.remote_addr)
    if visit is None:
        return None
    return _page("garden.html", status, visit=visit, form=form or GardenPayForm(), result=request.args.get("result"))


@portal.route("/garden/pay", methods=["POST"])
@public_route
def garden_pay():
    """The walled garden's "Плати": the ePay.bg request for what the address's subscriber owes today."""
    form = GardenPayForm()
    if not form.validate_on_submit():
        _expired(form)
        return _walled_garden_page(form, 400) or redirect(url_for("portal.login"))
    if form.page.data not in EPAY_PAGES:
        form.page.errors = [gettext("Choose how to pay.")]
        return _walled_garden_page(form, 422) or redirect(url_for("portal.login"))
    try:
        payment = services.start_garden_payment(
            request.remote_addr, page=form.page.data,
            url_ok=url_for("portal.home", result="ok", _external=True),
            url_cancel=url_for("portal.home", result="cancel", _external=True))
    except FieldErrors as refusal:
        discard()
        form.form_errors = [message for messages in refusal.errors.values() for message in messages]
        return _walled_garden_page(form, 422) or _page("message.html", 422, title=gettext("Pay"),
                                                         message=" ".join(form.form_errors), to_login=True)
    return _page("pay_redirect.html", payment=payment)


# --- what the subscriber sees ---------------------------------------------------------------------------------

@portal.route("/", methods=["GET"])
@subscriber_page(visitor=_walled_garden_page)
def home():
    return _page("home.html", view=services.overview(g.actor, g.client), active="home")


@portal.route("/payments", methods=["GET"])
@subscriber_page
def payments():
    return _page("payments.html", payments=services.own_payments(g.client), active="payments")


@portal.route("/documents", methods=["GET"])
@subscriber_page
def documents():
    return _page("documents.html", invoices=services.own_invoices(g.client),
                 contracts=services.own_contracts(g.client), notices=services.own_notices(g.client),
                 notice_body_shown=services.notice_body_shown, notice_statuses=services.NOTICE_STATUSES,
                 active="documents")


def _own_document(record, respond):
    """The subscriber's own document (None: not theirs, or none such — the same 404 either way) as a PDF, or a page
    saying it cannot be made now when the PDF engine or the document's template fails."""
    if record is None:
        abort(404)
    try:
        return respond(record)
    except (PdfError, TemplateProblem):
        return _page("message.html", 503, title=gettext("The document cannot be made now"), message=gettext(
            "Please try again later, or ask our office for it."))


@portal.route("/invoices/<int:invoice_id>.pdf", methods=["GET"])
@subscriber_page
def invoice(invoice_id):
    return _own_document(services.own_invoice(g.client, invoice_id), invoice_response)


@portal.route("/receipts/<int:payment_id>.pdf", methods=["GET"])
@subscriber_page
def receipt(payment_id):
    return _own_document(services.own_payment(g.client, payment_id), receipt_response)


def _contract_response(record):
    # The ЕГН masked, as for an operator without the right to personal data: a PDF travels.
    data = contract_pdf(record, None, False)
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="dogovor-{record.number}.pdf"'})


@portal.route("/contracts/<int:contract_id>.pdf", methods=["GET"])
@subscriber_page
def contract(contract_id):
    return _own_document(services.own_contract(g.client, contract_id), _contract_response)


def _pay_form():
    """The overview, what may be paid ({key: (amount, label)}) and the form offering it."""
    view = services.overview(g.actor, g.client)
    choices = services.payable_amounts(view.money)
    form = PayForm()
    form.what.choices = [(key, label) for key, (_amount, label) in choices.items()]
    return view, choices, form


def _chosen_amount(form, choices):
    """The amount of the choice sent, or None with the form's errors set."""
    if not form.validate_on_submit():
        _expired(form)
        return None
    if form.what.data not in choices or form.page.data not in EPAY_PAGES:
        form.what.errors = [gettext("Choose what to pay.")]
        return None
    return choices[form.what.data][0]


def _epay_origin(url):
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _pay_page(status, view, form, **values):
    return _page("pay.html", status, view=view, form=form, result=request.args.get("result"),
                 codes=valid_easypay_codes(g.client), active="pay", **values)


@portal.route("/pay", methods=["GET", "POST"])
@subscriber_page
def pay():
    """The amount due and the way to ePay.bg: a POST makes the payment request (app.epay) and answers with the
    form the browser sends on to ePay.bg; ePay.bg's notification records the payment, not this page."""
    view, choices, form = _pay_form()
    status = 200
    if request.method == "POST":
        amount = _chosen_amount(form, choices)
        status = 422
        if amount is not None:
            try:
                payment = start_online_payment(
                    g.actor, g.client, amount, page=form.page.data,
                    url_ok=url_for("portal.pay", result="ok", _external=True),
                    url_cancel=url_for("portal.pay", result="cancel", _external=True))
            except FieldErrors as refusal:
                discard()
                form.what.errors = [message for messages in refusal.errors.values() for message in messages]
            else:
                body, status = _page("pay_redirect.html", payment=payment, active="pay")
                # The one form that leaves the site: the policy lets it go to ePay.bg (and nowhere else).
                return body, status, {"Content-Security-Policy": CONTENT_SECURITY_POLICY.replace(
                    "form-action 'self'", f"form-action 'self' {_epay_origin(payment.url)}")}
    return _pay_page(status, view, form)


@portal.route("/pay/easypay", methods=["POST"])
@subscriber_page
def easypay():
    """EasyPay's 10-digit payment code for the amount chosen, registered with ePay.bg once (a second click gives
    the same code); paid in cash at an EasyPay desk, it arrives as ePay.bg's notification."""
    view, choices, form = _pay_form()
    amount = _chosen_amount(form, choices)
    if amount is None:
        return _pay_page(422, view, form)
    try:
        code = easypay_code(g.actor, g.client, amount)
    except FieldErrors as refusal:
        discard()
        return _pay_page(503, view, form, easypay_errors=[
            message for messages in refusal.errors.values() for message in messages])
    return _page("easypay.html", code=code, active="pay")


# --- what the subscriber does ---------------------------------------------------------------------------------

def _day(form, name):
    try:
        return parse_day(getattr(form, name).data)
    except InvalidValue as error:
        getattr(form, name).errors = list(getattr(form, name).errors or []) + [str(error.message)]
        return None


def _unless_refused(form, operation, *args, **kwargs):
    """What the service operation returns, or None when it refuses: its transaction dropped and its reasons shown
    on the form's fields."""
    try:
        return operation(*args, **kwargs)
    except FieldErrors as refusal:
        discard()
        _show_errors(form, refusal.errors)
        return None


@portal.route("/freeze/<int:subscription_id>", methods=["GET", "POST"])
@subscriber_page
def freeze(subscription_id):
    subscription = services.own_subscription(g.client, subscription_id)
    if subscription is None:
        abort(404)
    form = FreezeForm()
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            _expired(form)
        else:
            starts_on, ends_on = _day(form, "starts_on"), _day(form, "ends_on")
            record = None if starts_on is None or ends_on is None else _unless_refused(
                form, services.book_freeze, g.actor, g.client, subscription, starts_on=starts_on, ends_on=ends_on,
                reason=form.reason.data)
            if record is not None:
                return _page("message.html", title=gettext("Vacation booked"), message=gettext(
                    "%(service)s is frozen from %(start)s to %(end)s. It is paid until %(paid)s now.",
                    service=subscription.service.name, start=record.starts_on.strftime("%d.%m.%Y"),
                    end=record.ends_on.strftime("%d.%m.%Y"),
                    paid=subscription.paid_until.strftime("%d.%m.%Y")), to_home=True)
            status = 422
    return _page("freeze.html", status, form=form, subscription=subscription, active="home")


@portal.route("/fault", methods=["GET", "POST"])
@subscriber_page
def fault():
    subscriptions = [item for item in services.own_subscriptions(g.client) if item.status == ACTIVE] or \
        services.own_subscriptions(g.client)
    form = FaultForm()
    form.subscription.choices = [("", gettext("— any / I don't know —"))] + [
        (str(item.id), item.service.name) for item in subscriptions]
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            _expired(form)
        else:
            subscription = None
            if form.subscription.data:
                try:
                    subscription = services.own_subscription(g.client, int(form.subscription.data))
                except ValueError:
                    subscription = None
                if subscription is None:
                    abort(404)
            task = _unless_refused(form, services.report_fault, g.actor, g.client, subscription, form.note.data)
            if task is not None:
                return _page("message.html", title=gettext("Fault reported"), message=gettext(
                    "Our technicians have it as task No. %(number)d and will call you.", number=task.id),
                    to_home=True)
            status = 422
    return _page("fault.html", status, form=form, active="fault")


@portal.route("/profile", methods=["GET", "POST"])
@subscriber_page
def profile():
    contacts = ContactsForm(prefix="contacts", data={"phone": g.client.phone, "email": g.client.email})
    password = ChangePasswordForm(prefix="password")
    status, saved = 200, None
    if request.method == "POST":
        chosen = contacts if request.form.get("which") == "contacts" else password
        if not chosen.validate_on_submit():
            _expired(chosen)
        else:
            try:
                if chosen is contacts:
                    services.change_contacts(g.actor, g.client, phone=contacts.phone.data, email=contacts.email.data)
                    saved = gettext("Your phone and e-mail are saved.")
                else:
                    access = services.change_password(g.actor, g.client, password.current.data,
                                                      password.password.data, password.repeated.data)
                    # The change ended every other session: this one goes on.
                    session[PORTAL_SESSION] = {"client": g.client.id, "generation": access.session_generation}
                    saved = gettext("Your password is changed.")
                    password = ChangePasswordForm(prefix="password", formdata=None)
            except FieldErrors as refusal:
                discard()
                _show_errors(chosen, refusal.errors)
                status = 422
    return _page("profile.html", status, contacts=contacts, password=password, saved=saved, active="profile")


@portal.errorhandler(CSRFError)
def _form_expired(_error):
    # A form kept open past its session (or sent from elsewhere): said in the portal's words, nothing done.
    return _page("message.html", 400, title=gettext("The form expired. Fill it in again."), message=gettext(
        "Open the page again and send the form from there."), to_home=True)


@portal.errorhandler(404)
def _not_found(_error):
    return _page("message.html", 404, title=gettext("Page not found"), message=gettext(
        "There is nothing at this address."))
