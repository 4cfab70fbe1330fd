"""ePay.bg's WEB-merchant protocol: the payment request a subscriber is sent to ePay.bg with, and ePay.bg's
notification of what became of it (docs/epay.md; ePay.bg's knowledge base, summarised there).

The request: the browser POSTs PAGE, ENCODED, CHECKSUM, URL_OK, URL_CANCEL to ePay.bg. ENCODED is base64 of
lines "MIN=…", "INVOICE=…", "AMOUNT=…", "EXP_TIME=…", "DESCR=…", "CURRENCY=EUR", "ENCODING=utf-8"; CHECKSUM is
the hex HMAC-SHA1 of ENCODED (the base64 text) keyed with the merchant's secret word.

The notification: ePay.bg POSTs ENCODED and CHECKSUM to our notification URL; ENCODED holds one line per
invoice, "INVOICE=123:STATUS=PAID:PAY_TIME=…:STAN=…:BCODE=…" (or STATUS=DENIED / EXPIRED). We answer in the
same HTTP session, one line per invoice: "INVOICE=123:STATUS=OK" (done), "…:STATUS=ERR" (ePay.bg sends it
again later), "…:STATUS=NO" (unknown invoice: ePay.bg stops); a wrong CHECKSUM is answered
"ERR=Not valid CHECKSUM" alone. An invoice's first answer is stored and given again to a repeated
notification, which records nothing new.
"""
import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode
from urllib.request import urlopen

from flask import current_app
from flask_babel import gettext
from sqlalchemy import select, update

from app.audit.models import LogEntry
from app.audit.services import record_event
from app.billing.charges import payment_method
from app.billing.models import EPAY
from app.billing.services import record_payment
from app.clients.models import Client
from app.core.actors import acting_as, named_actor
from app.core.counters import next_number
from app.core.errors import FieldErrors
from app.core.settings import row_to_save
from app.core.formatting import local_time, office_language, utcnow
from app.core.money import check_amount
from app.core.scoping import in_scope
from app.core.transaction import discard
from app.core.validators import InvalidValue
from app.epay.models import DEMO, DENIED, EPAY_URLS, EXPIRED, PAID, PENDING, EpayRequest, EpaySettings
from app.extensions import db
from app.security.permissions import RECORD_PAYMENT
from app.security.rights import may, may_access

# PAGE: the subscriber pays from an ePay.bg account or by card through ePay.bg's login page; or directly by card.
PAY_LOGIN, PAY_DIRECT = "paylogin", "credit_paydirect"
PAGES = (PAY_LOGIN, PAY_DIRECT)
CURRENCY = "EUR"
MAX_DESCRIPTION = 100
BAD_CHECKSUM = "ERR=Not valid CHECKSUM"
OK, ERR, NO = "OK", "ERR", "NO"
NOTIFIED_STATUSES = {"PAID": PAID, "DENIED": DENIED, "EXPIRED": EXPIRED}
INVOICE = re.compile(r"[0-9]{1,20}")
KIN = re.compile(r"[0-9A-Za-z]{1,20}")
MIN_SECRET = 16
# The LOG's name of everything ePay.bg's notifications do, the payments they record included.
EPAY_NAME = "ePay.bg"


def epay_actor():
    """The system actor of ePay.bg's notifications ("ePay.bg" in the LOG): it may record payments, nothing else."""
    return named_actor("%(name)s", EPAY_NAME, rights={RECORD_PAYMENT})


# --- the merchant's settings ------------------------------------------------------------------------------

def current_settings():
    """The saved settings, or (never saved) empty ones on ePay.bg's demo, not added to the session."""
    saved = db.session.get(EpaySettings, 1)
    if saved is not None:
        return saved
    return EpaySettings(id=1, environment=DEMO, valid_hours=72)


def settings_errors(values):
    errors = {}
    kin = (values.get("kin") or "").strip()
    if kin and not KIN.fullmatch(kin):
        errors["kin"] = [gettext("The KIN has letters and digits only, as ePay.bg gave it.")]
    secret = (values.get("secret") or "").strip()
    if secret and len(secret) < MIN_SECRET:
        errors["secret"] = [gettext("At least %(count)d characters, or leave empty to keep the current one.",
                                    count=MIN_SECRET)]
    if values.get("environment") not in EPAY_URLS:
        errors["environment"] = [gettext("Choose ePay.bg's demo or production.")]
    hours = values.get("valid_hours")
    if not isinstance(hours, int) or not 1 <= hours <= 24 * 30:
        errors["valid_hours"] = [gettext("A whole number of hours from 1 to 720.")]
    return errors


def save_settings(actor, values):
    """Stores the merchant's settings (one row); an empty secret keeps the saved one. Flushes; FieldErrors."""
    row = row_to_save(EpaySettings, may_access(actor, "can_edit", "EpaySettings"), "kin", values, settings_errors)
    row.kin = (values.get("kin") or "").strip() or None
    secret = (values.get("secret") or "").strip()
    if secret:
        row.secret = secret
    row.environment = values["environment"]
    row.valid_hours = values["valid_hours"]
    db.session.flush()
    return row


# --- the protocol's pieces ---------------------------------------------------------------------------------

def checksum(secret, encoded):
    """CHECKSUM: hex HMAC-SHA1 of the ENCODED text (base64, as sent) keyed with the secret word."""
    return hmac.new(secret.encode("utf-8"), encoded.encode("utf-8"), hashlib.sha1).hexdigest()


def encode(lines):
    """ENCODED: base64 (no line breaks) of the "KEY=value" lines joined by "\\n", in UTF-8."""
    return base64.b64encode("\n".join(lines).encode("utf-8")).decode("ascii")


def format_amount(amount):
    """AMOUNT with a decimal point, as ePay.bg reads it: 22.80."""
    return f"{Decimal(amount):.2f}"


def format_expiry(moment):
    """EXP_TIME: dd.mm.yyyy hh:mm on the office's (Bulgarian) clock, from a stored UTC moment."""
    return local_time(moment).strftime("%d.%m.%Y %H:%M")


def _description(text):
    # One line: a line break would start another "KEY=value" line of ENCODED.
    return " ".join((text or "").split())[:MAX_DESCRIPTION]


# --- the payment request -------------------------------------------------------------------------------------

@dataclass
class PaymentForm:
    """What the subscriber's browser POSTs to ePay.bg (`url`): the form's hidden fields, in order."""

    request: EpayRequest
    url: str
    fields: dict


def may_start_online_payment(actor, client):
    """Who may send a client to ePay.bg: one acting for a single client (the portal's subscriber: `client_id`)
    for that client only — a request records nothing, the payment is ePay.bg's notification's —; an office
    actor recording payments, within its reach."""
    own_client = getattr(actor, "client_id", None)
    if own_client is not None:
        return getattr(actor, "is_active", False) and own_client == client.id
    return may(actor, RECORD_PAYMENT) and in_scope(client, actor)


def _check_request(actor, client, amount):
    """The amount (EUR) of a request this actor may make for this client with the merchant's settings, or
    FieldErrors."""
    if not may_start_online_payment(actor, client):
        raise FieldErrors({"amount": [gettext("You do not have the right to record payments.")]})
    settings = current_settings()
    if not settings.ready:
        raise FieldErrors({"amount": [gettext("Online payment through ePay.bg is not set up: the KIN and the "
                                              "secret word are set under ePay.bg settings.")]})
    try:
        amount = check_amount(amount)
        if amount <= 0:
            raise InvalidValue(gettext("The amount must be more than zero."))
    except InvalidValue as error:
        raise FieldErrors({"amount": [str(error)]}) from None
    return settings, amount


def _new_request(actor, client, settings, amount, description):
    """A pending EpayRequest with a new INVOICE number, and its ENCODED text and CHECKSUM. Flushes."""
    now = utcnow()
    with office_language():  # stored, and shown on ePay.bg's page: the office's language whoever asks
        description = _description(description or gettext("Payment for client no. %(number)s",
                                                           number=client.client_number))
    # Digits only, unique: the day it was made and a counter (a demo database started again does not
    # repeat the numbers ePay.bg's demo has seen already).
    invoice = f"{local_time(now):%y%m%d}{next_number('epay_invoice'):06d}"
    request = EpayRequest(invoice=invoice, client=client, amount=amount, currency=CURRENCY,
                          description=description, status=PENDING, created_at=now,
                          expires_at=now + timedelta(hours=settings.valid_hours), started_by=str(actor)[:256])
    db.session.add(request)
    db.session.flush()
    encoded = encode([f"MIN={settings.kin}", f"INVOICE={invoice}", f"AMOUNT={format_amount(amount)}",
                      f"EXP_TIME={format_expiry(request.expires_at)}", f"DESCR={description}",
                      f"CURRENCY={CURRENCY}", "ENCODING=utf-8"])
    return request, encoded, checksum(settings.secret, encoded)


def start_online_payment(actor, client, amount, *, description=None, page=PAY_LOGIN, url_ok=None,
                         url_cancel=None, lang="bg"):
    """A payment request for ePay.bg: an EpayRequest (our INVOICE number, pending until ePay.bg's notification)
    and the form the subscriber's browser posts to ePay.bg. `amount` in EUR. Flushes; FieldErrors."""
    settings, amount = _check_request(actor, client, amount)
    if page not in PAGES:
        raise FieldErrors({"page": [gettext("Unknown ePay.bg page.")]})
    request, encoded, signature = _new_request(actor, client, settings, amount, description)
    fields = {"PAGE": page, "LANG": lang if lang in ("bg", "en") else "bg", "ENCODED": encoded,
              "CHECKSUM": signature}
    if url_ok:
        fields["URL_OK"] = url_ok
    if url_cancel:
        fields["URL_CANCEL"] = url_cancel
    record_event(LogEntry.COLLECTOR, username=EPAY_NAME, entity=client,
                 note=f"request INVOICE={request.invoice} AMOUNT={format_amount(amount)} {CURRENCY}")
    return PaymentForm(request, settings.url, fields)


# --- EasyPay's payment code ------------------------------------------------------------------------------------

EASYPAY_PATH = "ezp/reg_bill.cgi"
IDN_ANSWER = re.compile(r"IDN=([0-9]{10})")


def easypay_url(settings):
    """reg_bill.cgi of the settings' ePay.bg system, or EASYPAY_URL (tests point it at a local server)."""
    return current_app.config.get("EASYPAY_URL") or settings.url + EASYPAY_PATH


def _reg_bill(settings, encoded, signature):
    """ePay.bg's answer to the registration: the IDN, or None with ePay.bg's words (or the network's) for the
    LOG. A server-side GET, ENCODED and CHECKSUM as in the WEB-merchant request."""
    url = f"{easypay_url(settings)}?{urlencode({'ENCODED': encoded, 'CHECKSUM': signature})}"
    try:
        with urlopen(url, timeout=current_app.config.get("EASYPAY_TIMEOUT", 10)) as answer:
            raw = answer.read(2000)
    except (OSError, ValueError) as error:  # refused, timed out, HTTP error status, a bad URL
        return None, f"no answer: {error}"[:200]
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        text = raw.decode("cp1251", "replace").strip()
    found = IDN_ANSWER.fullmatch(text)
    return (found.group(1), text) if found else (None, text[:200] or "empty answer")


def _valid_code(client, amount, settings):
    """A code already registered for this client and amount, unpaid and with more than half its time left."""
    left = utcnow() + timedelta(hours=settings.valid_hours) / 2
    return db.session.scalar(
        select(EpayRequest).where(EpayRequest.client_id == client.id, EpayRequest.idn.is_not(None),
                                  EpayRequest.amount == amount, EpayRequest.status == PENDING,
                                  EpayRequest.answer.is_(None), EpayRequest.expires_at > left)
        .order_by(EpayRequest.id.desc()).limit(1))


def valid_easypay_codes(client):
    """The client's EasyPay codes still waiting for a payment, newest first (the portal lists them)."""
    return db.session.scalars(
        select(EpayRequest).where(EpayRequest.client_id == client.id, EpayRequest.idn.is_not(None),
                                  EpayRequest.status == PENDING, EpayRequest.answer.is_(None),
                                  EpayRequest.expires_at > utcnow())
        .order_by(EpayRequest.id.desc()).limit(10)).all()


def easypay_code(actor, client, amount, *, description=None):
    """The 10-digit EasyPay code (IDN) for paying `amount` (EUR) in cash at an EasyPay desk: registered with
    ePay.bg's reg_bill.cgi once — a code for the same amount still valid is given again, with no second
    registration. ePay.bg then notifies the payment as any WEB-merchant one (answer_notification). Returns the
    EpayRequest (its `idn`). Flushes; FieldErrors (ePay.bg refused or did not answer: the caller discards, and
    nothing is kept)."""
    settings, amount = _check_request(actor, client, amount)
    # One registration per client at a time: a double click waits here for the first (PostgreSQL's row lock;
    # SQLite has one writer).
    db.session.execute(select(Client.id).where(Client.id == client.id).with_for_update())
    existing = _valid_code(client, amount, settings)
    if existing is not None:
        return existing
    request, encoded, signature = _new_request(actor, client, settings, amount, description)
    idn, said = _reg_bill(settings, encoded, signature)
    if idn is None:
        current_app.logger.warning("EasyPay reg_bill INVOICE=%s refused: %s", request.invoice, said)
        raise FieldErrors({"amount": [gettext("ePay.bg did not give a payment code now. Please try again later, "
                                              "or pay online by card.")]})
    request.idn = idn
    db.session.flush()
    record_event(LogEntry.COLLECTOR, username=EPAY_NAME, entity=client,
                 note=f"EasyPay INVOICE={request.invoice} AMOUNT={format_amount(amount)} {CURRENCY} → IDN={idn}")
    return request


# --- the notification ------------------------------------------------------------------------------------------

def parse_line(line):
    """"INVOICE=1:STATUS=PAID:…" → {"INVOICE": "1", "STATUS": "PAID", …}; None for a line that is none."""
    fields = {}
    for part in line.strip().split(":"):
        name, sep, value = part.partition("=")
        if not sep or not name or name in fields:
            return None
        fields[name] = value
    return fields if "INVOICE" in fields else None


def answer_notification(encoded, given_checksum):
    """The text/plain answer to ePay.bg's notification (ENCODED, CHECKSUM), each PAID invoice recorded as a
    payment once. Flushes; the request commits. Every notification is one LOG entry per invoice."""
    settings = current_settings()
    encoded = (encoded or "").strip()
    given = (given_checksum or "").strip().lower().encode("utf-8")
    if not settings.secret or not hmac.compare_digest(checksum(settings.secret, encoded).encode("ascii"), given):
        record_event(LogEntry.COLLECTOR, username=EPAY_NAME, note=f"notification → {BAD_CHECKSUM}")
        return BAD_CHECKSUM + "\n"
    try:
        text = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        record_event(LogEntry.COLLECTOR, username=EPAY_NAME, note="notification → ERR (not base64)")
        return "ERR=Not valid ENCODED\n"
    actor = epay_actor()
    answers, fresh, failed = [], [], False
    with acting_as(actor):
        for line in text.splitlines():
            fields = parse_line(line) if line.strip() else None
            if fields is None:
                if line.strip():
                    record_event(LogEntry.COLLECTOR, username=EPAY_NAME,
                                 note=f"notification {line[:200]} → ignored")
                continue
            answer, new = _answer_invoice(actor, fields)
            answers.append(answer)
            if new:
                fresh.append((len(answers) - 1, fields["INVOICE"]))
                failed = failed or answer.endswith(f"STATUS={ERR}")
        if failed:
            # An invoice could not be recorded: nothing of this notification is kept, and every invoice it
            # changed is answered ERR, so that ePay.bg sends them again.
            discard()
            for index, invoice in fresh:
                answers[index] = f"INVOICE={invoice}:STATUS={ERR}"
            record_event(LogEntry.COLLECTOR, username=EPAY_NAME, note="notification → " + "; ".join(answers))
        db.session.flush()  # the LOG rows of this flush name ePay.bg
    return "".join(f"{answer}\n" for answer in answers)


def _answer_invoice(actor, fields):
    """One invoice's line: its answer, and whether this notification changed anything (first answer)."""
    invoice, status = fields["INVOICE"], fields.get("STATUS", "")
    call = f"notification INVOICE={invoice} STATUS={status}"
    request = db.session.scalar(db.select(EpayRequest).where(EpayRequest.invoice == invoice)) \
        if INVOICE.fullmatch(invoice) else None
    if request is None:
        record_event(LogEntry.COLLECTOR, username=EPAY_NAME, note=f"{call} → {NO}")
        return f"INVOICE={invoice}:STATUS={NO}", False
    if request.answer is not None:
        return _repeated(call, request), False
    new_status = NOTIFIED_STATUSES.get(status)
    if new_status is None or (new_status == PAID and not all(fields.get(name) for name in ("PAY_TIME", "STAN"))):
        record_event(LogEntry.COLLECTOR, username=EPAY_NAME, entity=request, note=f"{call} → {ERR} (malformed)")
        return f"INVOICE={invoice}:STATUS={ERR}", False
    answer = f"INVOICE={invoice}:STATUS={OK}"
    # The claim: one UPDATE from "not answered" to answered. Concurrent notifications of the invoice wait on
    # the row (PostgreSQL) or on the database's write lock (SQLite) and then claim nothing: they give the
    # stored answer.
    claimed = db.session.execute(
        update(EpayRequest).where(EpayRequest.id == request.id, EpayRequest.answer.is_(None))
        .values(answer=answer, status=new_status, notified_at=utcnow(), pay_time=fields.get("PAY_TIME", "")[:14],
                stan=fields.get("STAN", "")[:20] or None, bcode=fields.get("BCODE", "")[:20] or None)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(request)
    if not claimed:
        return _repeated(call, request), False
    if new_status != PAID:
        record_event(LogEntry.COLLECTOR, username=EPAY_NAME, entity=request, note=f"{call} → {OK}")
        return answer, True
    try:
        result = record_payment(
            actor, request.client, method=payment_method(EPAY), amount=request.amount, currency=request.currency,
            note=f"ePay.bg INVOICE {invoice} STAN {request.stan or ''} BCODE {request.bcode or ''}".strip(),
            request_key=f"epay:{invoice}")
    except FieldErrors as error:  # e.g. the ePay method deactivated: ePay.bg is told to send it again
        record_event(LogEntry.COLLECTOR, username=EPAY_NAME, entity=request, note=f"{call} → {ERR}: {error}")
        return f"INVOICE={invoice}:STATUS={ERR}", True
    request.payment_id = result.payment.id
    record_event(LogEntry.COLLECTOR, username=EPAY_NAME, entity=result.payment, note=f"{call} → {OK}")
    return answer, True


# ePay.bg may still notify a payment made in the last minutes before EXP_TIME: a request is marked expired only
# this long after it.
EXPIRY_GRACE = timedelta(hours=1)


def expire_abandoned_requests(now=None):
    """Pending requests past their expiry (and a grace) are marked expired: a subscriber who never reached
    ePay.bg's page leaves a request ePay.bg never notifies. No answer is stored, so a late notification of
    one is still honoured. Returns how many. Flushes."""
    moment = (now or utcnow()) - EXPIRY_GRACE
    return db.session.execute(
        update(EpayRequest).where(EpayRequest.status == PENDING, EpayRequest.answer.is_(None),
                                  EpayRequest.expires_at < moment)
        .values(status=EXPIRED).execution_options(synchronize_session=False)
    ).rowcount


def _repeated(call, request):
    record_event(LogEntry.COLLECTOR, username=EPAY_NAME, entity=request, note=f"{call} → {request.answer} (repeated)")
    return request.answer
