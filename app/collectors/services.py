"""The payment-collector protocol (ePay/EasyPay "billing" style) and the collectors' settings.

A collector speaks this, our own protocol ("собствен протокол", protocol "own"), or ePay.bg's published
billing protocol (protocol "epay_billing", app.collectors.epay_billing). Each is refused on the other's
addresses.

A collector (ePay, EasyPay, a bank) asks what a client owes and reports the
payments it took, by form-encoded POST (init also by GET):

    POST /collect/<code>/init     IDN, CHECKSUM
    POST /collect/<code>/confirm  IDN, TID, AMOUNT, DATE (optional), CHECKSUM

IDN is the client number; TID the collector's own transaction id (at most
64 characters); AMOUNT whole euro cents (1290 = 12,90 EUR); DATE is free
text, kept only in the LOG. Further parameters are allowed and signed too.

CHECKSUM is the lowercase or uppercase hex HMAC-SHA256, keyed with the
collector's secret, of every other parameter sorted by name and joined as
NAME=value with "&", values as sent (not URL-encoded), in UTF-8:

    hmac_sha256(secret, "AMOUNT=1290&DATE=20260301120000&IDN=100234&TID=T-1")

Every answer is HTTP 200 with a JSON object whose STATUS says what happened
(collectors treat any other HTTP status as "try again later"):

    00  done. init: IDN, NAME, AMOUNT (cents due), SHORTDESC, LONGDESC;
        confirm: TID, PAYMENT (our payment number)
    13  bad AMOUNT: zero, negative, not whole cents, malformed or too large
    14  unknown client number (IDN)
    62  nothing due (init only)
    94  not a collector's request: an unknown or inactive code, a source
        address not among the collector's, a parameter repeated, CHECKSUM
        missing or wrong — one answer for all, so that nobody learns from
        it which codes exist or where they are called from (the LOG entry
        says which it was)
    96  malformed request from the collector: a parameter missing, TID too
        long; or billing refused it (the LOG entry says why: e.g. the
        collector's payment method is inactive, an exchange rate is missing)

A confirm with a TID the collector already used gets the first answer to
that TID again, byte for byte, and nothing is stored twice. Error answers
store nothing but their LOG entry; every call, answered or refused, is one
LOG entry. The payments are recorded by the collector's system actor
(`collector_actor`), which holds only the right to record payments.
"""
import hashlib
import hmac
import ipaddress
import json
import re
import secrets
from decimal import Decimal

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from app.audit.models import LogEntry
from app.audit.services import record_event
from app.billing.charges import client_due, due_lines
from app.billing.models import Payment
from app.billing.services import record_payment
from app.clients.models import Client
from app.collectors.models import OWN_PROTOCOL, PROTOCOLS, CollectorTransaction, PaymentCollector
from app.core.actors import acting_as, named_actor
from app.core.errors import FieldErrors
from app.core.money import MAX_AMOUNT
from app.core.validators import InvalidValue
from app.extensions import db
from app.core.transaction import discard
from app.protection.services import normalise_network
from app.security.permissions import RECORD_PAYMENT
from app.security.rights import may_access

OK = "00"
BAD_AMOUNT = "13"
UNKNOWN_CLIENT = "14"
NOTHING_DUE = "62"
NOT_A_COLLECTOR = "94"
MALFORMED = "96"

CHECKSUM = "CHECKSUM"
INIT_FIELDS = ("IDN",)
CONFIRM_FIELDS = ("IDN", "TID", "AMOUNT")
MAX_TID = 64
MAX_CENTS = int(MAX_AMOUNT * 100)
CENTS = re.compile(r"[0-9]{1,12}")
CODE = re.compile(r"[A-Za-z0-9_-]{1,30}")
MIN_SECRET = 16


class Refused(Exception):
    """A protocol error: the answer's STATUS code, and for the LOG why, when the code does not say it."""

    def __init__(self, status, detail=None):
        super().__init__(status)
        self.status = status
        self.detail = detail


# --- the collectors' settings -------------------------------------------------

def check_code(value):
    """The collector's code: it is part of its URLs, so letters, digits, - and _ only."""
    text = (value or "").strip()
    if not CODE.fullmatch(text):
        raise InvalidValue(gettext("Latin letters, digits, - and _ only (up to 30): the code is part of the address."))
    return text


def normalise_addresses(value):
    """"10.0.0.5, 192.168.1.0/24" → each entry checked and normalised, comma separated."""
    entries = [entry for entry in re.split(r"[\s,]+", value or "") if entry]
    normalised = []
    for entry in entries:
        try:
            normalised.append(normalise_network(entry))
        except InvalidValue as error:
            raise InvalidValue(f"{entry}: {error.message}") from None
    return ", ".join(normalised)


def check_secret(value):
    if value and len(value) < MIN_SECRET:
        raise InvalidValue(gettext("At least %(count)d characters, or leave empty to generate one.",
                                   count=MIN_SECRET))
    return value


def check_merchant_id(value):
    """ePay.bg's MERCHANTID: up to 8 digits."""
    text = (value or "").strip()
    if text and not re.fullmatch(r"[0-9]{1,8}", text):
        raise InvalidValue(gettext("Up to 8 digits, as ePay.bg gave it."))
    return text or None


def check_protocol(value):
    if value not in PROTOCOLS:
        raise InvalidValue(gettext("Choose the collector's protocol."))
    return value


def complete_collector(collector):
    """Before saving: an empty secret gets a random one (it is shown on the collector's page)."""
    if not (collector.secret or "").strip():
        collector.secret = secrets.token_urlsafe(32)
    collector.protocol = collector.protocol or OWN_PROTOCOL
    collector.merchant_id = collector.merchant_id or None


COLLECTOR_FIELDS = ("name", "code", "protocol", "merchant_id", "method", "allowed_addresses", "secret", "active")
COLLECTOR_CHECKS = {"code": check_code, "allowed_addresses": normalise_addresses, "secret": check_secret,
                    "protocol": check_protocol, "merchant_id": check_merchant_id}


def _store_collector(collector, values):
    unknown = set(values) - set(COLLECTOR_FIELDS)
    if unknown:
        raise FieldErrors({name: [gettext("This field cannot be changed here.")] for name in unknown})
    errors = {}
    for name, check in COLLECTOR_CHECKS.items():
        if values.get(name) not in (None, ""):
            try:
                values[name] = check(values[name])
            except InvalidValue as error:
                errors[name] = [str(error.message)]
    if errors:
        raise FieldErrors(errors)
    with db.session.no_autoflush:
        for name, value in values.items():
            setattr(collector, name, value)
        complete_collector(collector)
    db.session.add(collector)
    db.session.flush()
    return collector


def create_collector(actor, **values):
    """A new payment collector (the "add" permission of collectors); an empty secret gets a random one.
    Flushes; FieldErrors."""
    if not may_access(actor, "can_add", "PaymentCollector"):
        raise FieldErrors({"name": [gettext("You do not have the right to change payment collectors.")]})
    return _store_collector(PaymentCollector(), values)


def update_collector(actor, collector, **values):
    """A collector's settings changed (the "edit" permission); an emptied secret gets a new random one.
    Flushes; FieldErrors."""
    if not may_access(actor, "can_edit", "PaymentCollector"):
        raise FieldErrors({"name": [gettext("You do not have the right to change payment collectors.")]})
    return _store_collector(collector, values)


def address_allowed(collector, address):
    """True when `address` is inside one of the collector's addresses; an empty list allows none."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for entry in (collector.allowed_addresses or "").split(","):
        try:
            network = ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            continue  # an empty or damaged entry matches nothing
        if ip.version == network.version and ip in network:
            return True
    return False


def collector_actor(collector):
    """The system actor a collector's payments are recorded by ("Колектор ePay" in the LOG): it may record
    payments, nothing else."""
    return named_actor(_l("Collector %(name)s"), collector.name or collector.code, rights={RECORD_PAYMENT},
                       collector_id=collector.id)


# --- the protocol --------------------------------------------------------------

def signature(secret, params):
    """The CHECKSUM of `params` (the module docstring gives the rule)."""
    message = "&".join(f"{name}={value}" for name, value in sorted(params.items()) if name != CHECKSUM)
    return hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def answer_text(answer):
    """The JSON body of an answer; stored as is for repeated TIDs."""
    return json.dumps(answer, ensure_ascii=False)


def _single_values(values, status=NOT_A_COLLECTOR):
    """The request's parameters as {name: value}; a repeated name makes the signature meaningless (refused with
    the protocol's `status` for a caller not yet authenticated)."""
    params = {}
    for name, items in values.lists():
        if len(items) != 1:
            raise Refused(status, gettext("a parameter repeated"))
        params[name] = items[0]
    return params


def _authenticated(code, values, address, required):
    """The active collector the request comes from, and its checked parameters.

    Until the signature is checked the caller is anyone: every refusal up to
    there is the same NOT_A_COLLECTOR, its reason only in the LOG.
    """
    collector = db.session.scalar(db.select(PaymentCollector).where(PaymentCollector.code == code))
    if collector is None or not collector.active or collector.protocol not in (None, OWN_PROTOCOL):
        raise Refused(NOT_A_COLLECTOR, gettext("unknown or inactive code"))
    if not address_allowed(collector, address):
        raise Refused(NOT_A_COLLECTOR, gettext("address not among the collector's"))
    params = _single_values(values)
    expected = signature(collector.secret, params).encode("ascii")
    if not hmac.compare_digest(expected, (params.get(CHECKSUM) or "").lower().encode("utf-8")):
        raise Refused(NOT_A_COLLECTOR, gettext("CHECKSUM missing or wrong"))
    if any(not params.get(name) for name in required):
        raise Refused(MALFORMED)
    return collector, params


def _client(number):
    """The client of the IDN; both protocols answer an unknown one 14."""
    client = db.session.scalar(db.select(Client).where(Client.client_number == number))
    if client is None:
        raise Refused(UNKNOWN_CLIENT)
    return client


def parse_cents(text):
    """AMOUNT: a whole positive number of cents, as Decimal euro."""
    if not CENTS.fullmatch(text) or not 0 < int(text) <= MAX_CENTS:
        raise Refused(BAD_AMOUNT)
    return Decimal(int(text)) / 100


def _cents(amount_eur):
    return int(amount_eur * 100)


def _describe(due):
    """What the due consists of, one line per charge or subscription, then the advance."""
    return "\n".join(due_lines(due))


def _log(code, note, entity=None):
    record_event(LogEntry.COLLECTOR, username=code, note=note, entity=entity)


def _refused(code, call, refusal):
    """An error answer: nothing of the request is kept but its LOG entry."""
    discard()
    detail = f": {refusal.detail}" if refusal.detail else ""
    _log(code, f"{call} → {refusal.status}{detail}")
    return answer_text({"STATUS": refusal.status})


def answer_init(code, values, address):
    """The answer to an init call (what the client owes), with its LOG entry. Flushes."""
    call = f"init IDN={values.get('IDN', '')}"
    try:
        _collector, params = _authenticated(code, values, address, INIT_FIELDS)
        client = _client(params["IDN"])
        try:
            due = client_due(client)
        except FieldErrors as error:  # e.g. no exchange rate for a service priced in USD
            raise Refused(MALFORMED, str(error)) from None
        if due.payable_eur <= 0:
            raise Refused(NOTHING_DUE)
    except Refused as refusal:
        return _refused(code, call, refusal)
    text = answer_text({
        "STATUS": OK, "IDN": client.client_number, "NAME": client.name, "AMOUNT": _cents(due.payable_eur),
        "SHORTDESC": gettext("Payment for client no. %(number)s", number=client.client_number),
        "LONGDESC": _describe(due),
    })
    _log(code, f"{call} → {OK}", entity=client)
    return text


def answer_confirm(code, values, address):
    """The answer to a confirm call: records the payment once per TID. Flushes; the request commits.

    The TID's uniqueness is the lock: the transaction row is inserted first,
    so a concurrent confirm with the same TID waits on the unique index and,
    once the first commits, fails with IntegrityError; then everything is
    discarded (no savepoint: Continuum's versioning does not survive a
    rolled-back savepoint) and the stored first answer is given again.
    """
    call = f"confirm IDN={values.get('IDN', '')} TID={values.get('TID', '')} AMOUNT={values.get('AMOUNT', '')}" \
           f" DATE={values.get('DATE', '')}"
    return _confirm(code, call, lambda: _authenticated(code, values, address, CONFIRM_FIELDS), _own_tid,
                   lambda collector, tid, params: (parse_cents(params["AMOUNT"]), f"{collector.name} TID {tid}"),
                   lambda client, tid, payment: answer_text({"STATUS": OK, "TID": tid, "PAYMENT": payment.id}))


def _own_tid(params):
    tid = params["TID"]
    if len(tid) > MAX_TID:
        raise Refused(MALFORMED)
    return tid


def _confirm(code, call, authenticate, tid_of, amount_and_note, answer):
    """A confirm of either protocol: authenticate() gives the collector and the request's parameters; done as
    the collector's actor, so the LOG names it ("Колектор ePay"). tid_of(params) checks the TID;
    amount_and_note(collector, tid, params) the amount (Decimal euro) and the payment's note;
    answer(client, tid, payment) is the answer's text, stored for a repeated TID. Refusals raise Refused.
    Flushes; the request commits."""
    try:
        collector, params = authenticate()
    except Refused as refusal:
        return _refused(code, call, refusal)
    actor = collector_actor(collector)
    with acting_as(actor):
        return _confirmed(actor, code, call, collector, params, tid_of, amount_and_note, answer)


def _confirmed(actor, code, call, collector, params, tid_of, amount_and_note, answer):
    try:
        tid = tid_of(params)
        collector_id = collector.id  # kept: discard() below expires the collector
        stored = _stored(collector_id, tid)
        if stored is not None:
            return _repeated(code, call, stored)
        client = _client(params["IDN"])
        amount, note = amount_and_note(collector, tid, params)
        transaction = CollectorTransaction(collector_id=collector_id, transaction_id=tid, response="")
        db.session.add(transaction)
        try:
            db.session.flush()
        except IntegrityError:
            discard()
            return _repeated(code, call, _stored(collector_id, tid))
        try:
            result = record_payment(actor, client, method=collector.method, amount=amount,
                                    currency="EUR", note=note)
        except FieldErrors as error:  # e.g. the collector's payment method was deactivated
            raise Refused(MALFORMED, str(error)) from None
    except Refused as refusal:
        return _refused(code, call, refusal)
    payment = result.payment
    transaction.payment_id = payment.id
    transaction.response = answer(client, tid, payment)
    _log(code, f"{call} → {OK}", entity=payment)
    db.session.flush()  # the LOG rows of this flush name the collector too
    return transaction.response


def _stored(collector_id, tid):
    return db.session.scalar(db.select(CollectorTransaction).where(
        CollectorTransaction.collector_id == collector_id, CollectorTransaction.transaction_id == tid))


def _repeated(code, call, stored):
    """The first answer to this TID again; only the LOG entry is new."""
    payment = db.session.get(Payment, stored.payment_id) if stored.payment_id else None
    _log(code, f"{call} → {json.loads(stored.response)['STATUS']} (repeated TID)", entity=payment)
    return stored.response
