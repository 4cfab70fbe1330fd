"""ePay.bg's billing protocol, for a collector of that type (docs/epay.md; kb.epay.bg/en/billing/protocol).

ePay.bg (and EasyPay, B-Pay through it) asks by the subscriber's number what is owed, and reports what was
paid, by HTTP GET under the collector's address:

    GET /collect/<code>/pay/init     IDN, MERCHANTID, TYPE, [TID, DATE], CHECKSUM
    GET /collect/<code>/pay/confirm  IDN, MERCHANTID, TYPE, TID, TOTAL, [DATE, INVOICE(S)], CHECKSUM

IDN is our client number; MERCHANTID the id ePay.bg gave the ISP (the collector's); TYPE is CHECK (does
the subscriber exist), BILLING (what is owed, paid whole), PARTIAL (what is owed, may be paid in part) or
DEPOSIT (any amount, kept as an advance once what is owed is paid); TID is ePay.bg's transaction,
DATE(14) + STAN(6) + AID(6); TOTAL and AMOUNT are whole euro cents.

CHECKSUM is the hex HMAC-SHA1, keyed with the collector's secret, of every other parameter sorted by name,
each written as its name, its value and "\\n": "IDN100234\\nMERCHANTID1234\\nTYPEBILLING\\n".

Every answer is HTTP 200 with a JSON object (`answer_body`), STATUS first:

    00  done. init: IDN, SHORTDESC (≤ 40), and for BILLING/PARTIAL/DEPOSIT also LONGDESC (≤ 4000, one
        line: a line break written \\n, lines of at most 110 characters), AMOUNT (cents), VALIDTO
        (YYYYMMDD) and INVOICE (the obligation's number); confirm: IDN, TID
    14  unknown IDN
    62  nothing owed (init of BILLING or PARTIAL)
    93  not this collector's request: unknown or inactive code, a collector of the other protocol, a source
        address not among the collector's, a MERCHANTID not the collector's, a parameter repeated, CHECKSUM
        missing or wrong — one answer for all (the LOG entry says which)
    96  malformed: a parameter missing, TYPE unknown, TID not 26 digits or fewer, TOTAL not whole cents above
        zero; or billing refused the payment (the LOG says why)

A confirm of a TID already confirmed gets the first answer again, byte for byte, and nothing more is stored.
Which codes the protocol uses and the answer's layout are not shown by the pages of ePay.bg's knowledge base
we could read: they are the codes widely used with this protocol, kept here in one place to be corrected
in one place (docs/epay.md).
"""
import hashlib
import hmac
import json
import re
import textwrap
from decimal import Decimal

from flask_babel import gettext

from app.billing.charges import client_due, due_lines
from app.collectors.models import EPAY_BILLING, PaymentCollector
from app.collectors.services import (MAX_CENTS, Refused, _client, _confirm, _log, _refused, _single_values,
                                      address_allowed)
from app.core.errors import FieldErrors
from app.core.formatting import local_today
from app.extensions import db

OK = "00"
UNKNOWN_IDN = "14"  # as the own protocol's: services._client answers it for both
NO_OBLIGATION = "62"
BAD_CHECKSUM = "93"
GENERAL_ERROR = "96"

CHECK, BILLING, PARTIAL, DEPOSIT = "CHECK", "BILLING", "PARTIAL", "DEPOSIT"
TYPES = (CHECK, BILLING, PARTIAL, DEPOSIT)
CHECKSUM = "CHECKSUM"
INIT_FIELDS = ("IDN", "MERCHANTID", "TYPE")
CONFIRM_FIELDS = ("IDN", "MERCHANTID", "TYPE", "TID", "TOTAL")
TID = re.compile(r"[0-9]{1,26}")
CENTS = re.compile(r"[0-9]{1,12}")
SHORTDESC_LENGTH = 40
LONGDESC_LENGTH = 4000
LONGDESC_LINE = 110
# The order of an answer's keys (JSON objects are unordered; collectors' logs read better in one order).
ANSWER_ORDER = ("STATUS", "IDN", "TID", "SHORTDESC", "LONGDESC", "AMOUNT", "VALIDTO", "INVOICE", "INVOICES")


def checksum(secret, params):
    """The CHECKSUM of `params`: HMAC-SHA1 of "KEYvalue\\n" for each parameter but CHECKSUM, sorted by key."""
    message = "".join(f"{name}{value}\n" for name, value in sorted(params.items()) if name != CHECKSUM)
    return hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha1).hexdigest()


def answer_body(fields):
    """The one place an answer's layout is decided: a JSON object, STATUS first."""
    ordered = {name: fields[name] for name in ANSWER_ORDER if name in fields}
    ordered.update({name: value for name, value in fields.items() if name not in ordered})
    return json.dumps(ordered, ensure_ascii=False)


def short_description(text):
    """SHORTDESC: one line of at most 40 characters."""
    return " ".join(text.split())[:SHORTDESC_LENGTH]


def long_description(lines):
    """LONGDESC: one line; each line break written as \\n, a tab as \\t, lines wrapped at 110 characters,
    at most 4000 characters in all. A backslash has no escape in the protocol: it is written as "/"."""
    wrapped = []
    for line in lines:
        line = line.replace("\\", "/").replace("\t", "\\t").replace("\r", "")
        wrapped += textwrap.wrap(line, LONGDESC_LINE) or [""]
    text = ""
    for line in wrapped:
        candidate = f"{text}\\n{line}" if text else line
        if len(candidate) > LONGDESC_LENGTH:
            break
        text = candidate
    return text


def _authenticated(code, values, address, required):
    """The active ePay.bg billing collector the request comes from, and its parameters; until the signature
    is checked the caller is anyone, so every refusal up to there is the same BAD_CHECKSUM."""
    collector = db.session.scalar(db.select(PaymentCollector).where(PaymentCollector.code == code))
    if collector is None or not collector.active or collector.protocol != EPAY_BILLING:
        raise Refused(BAD_CHECKSUM, gettext("unknown or inactive code"))
    if not address_allowed(collector, address):
        raise Refused(BAD_CHECKSUM, gettext("address not among the collector's"))
    params = _single_values(values, BAD_CHECKSUM)
    expected = checksum(collector.secret, params).encode("ascii")
    if not hmac.compare_digest(expected, (params.get(CHECKSUM) or "").lower().encode("utf-8")):
        raise Refused(BAD_CHECKSUM, gettext("CHECKSUM missing or wrong"))
    if collector.merchant_id and params.get("MERCHANTID") != collector.merchant_id:
        raise Refused(BAD_CHECKSUM, gettext("MERCHANTID not the collector's"))
    if any(not params.get(name) for name in required) or params["TYPE"] not in TYPES:
        raise Refused(GENERAL_ERROR)
    return collector, params


def _call(name, values):
    shown = " ".join(f"{key}={values.get(key, '')}" for key in ("IDN", "TYPE", "TID", "TOTAL", "INVOICE")
                     if key in values or key in ("IDN", "TYPE"))
    return f"{name} {shown}"


def answer_pay_init(code, values, address):
    """The answer to /pay/init: does the subscriber exist (CHECK), what do they owe (the rest). Flushes."""
    call = _call("pay/init", values)
    try:
        _collector, params = _authenticated(code, values, address, INIT_FIELDS)
        client = _client(params["IDN"])
        kind = params["TYPE"]
        fields = {"STATUS": OK, "IDN": client.client_number}
        if kind == CHECK:
            fields["SHORTDESC"] = short_description(client.name or client.client_number)
        else:
            try:
                due = client_due(client)
            except FieldErrors as error:  # e.g. no exchange rate for a service priced in USD
                raise Refused(GENERAL_ERROR, str(error)) from None
            if due.payable_eur <= 0 and kind != DEPOSIT:
                raise Refused(NO_OBLIGATION)
            today = local_today()
            fields.update({
                "SHORTDESC": short_description(gettext("Payment for client no. %(number)s",
                                                       number=client.client_number)),
                "LONGDESC": long_description(due_lines(due)),
                "AMOUNT": int(due.payable_eur * 100),
                "VALIDTO": f"{today:%Y%m%d}",
                "INVOICE": f"{client.client_number}-{today:%Y%m%d}",
            })
    except Refused as refusal:
        return _refused(code, call, refusal)
    _log(code, f"{call} → {OK}", entity=client)
    return answer_body(fields)


def answer_pay_confirm(code, values, address):
    """The answer to /pay/confirm: records TOTAL as a payment once per TID. Flushes; the request commits.

    As the own protocol's confirm: the transaction row is inserted first, so a concurrent confirm of the same
    TID waits on the unique index and then gives the stored first answer.
    """
    call = _call("pay/confirm", values)
    return _confirm(code, call, lambda: _authenticated(code, values, address, CONFIRM_FIELDS), _tid, _total,
                   lambda client, tid, payment: answer_body({"STATUS": OK, "IDN": client.client_number, "TID": tid}))


def _tid(params):
    tid = params["TID"]
    if not TID.fullmatch(tid):
        raise Refused(GENERAL_ERROR, gettext("TID is not 26 digits or fewer"))
    return tid


def _total(collector, tid, params):
    """TOTAL as euro, and the payment's note: the TID and the invoices ePay.bg names."""
    total = params["TOTAL"]
    if not CENTS.fullmatch(total) or not 0 < int(total) <= MAX_CENTS:
        raise Refused(GENERAL_ERROR, gettext("TOTAL is not a whole number of cents above zero"))
    invoices = params.get("INVOICES") or params.get("INVOICE") or ""
    note = f"{collector.name} TID {tid}" + (f" INVOICE {invoices}" if invoices else "")
    return Decimal(int(total)) / 100, note[:500]
