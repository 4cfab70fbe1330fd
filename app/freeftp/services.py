"""FREEFTP's operations: the settings, registration on the public page, confirmation, password reset, accounts.

The public pages act as the FREEFTP system actor (`PUBLIC_ACTOR`): the LOG
names it as the author of a registration. Every refused attempt is stored
(FreeFtpAttempt) with its reason, and the attempts of an address count
towards the rate limit (FREEFTP_RATE_LIMIT), so every web process sees the
same count.
"""
import fnmatch
import hashlib
import ipaddress
import re
import unicodedata
from datetime import timedelta
from pathlib import Path

from flask import current_app
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from limits import parse
from sqlalchemy import func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from app.clients.models import Client, Subscription
from app.core.actors import SystemActor
from app.core.errors import FieldErrors
from app.core.formatting import utcnow
from app.core import one_time_links
from app.core.links import public_url
from app.core.one_time_links import WRONG, LinkRefused
from app.core.settings import row_to_save
from app.extensions import db
from app.freeftp.models import (
    ACCEPTED,
    CONFIRM,
    NEW_PASSWORD,
    REASON_CLOSED,
    REASON_EMAIL,
    REASON_INVALID,
    REASON_NETWORK,
    REASON_RATE,
    REASON_TAKEN,
    REASON_UNKNOWN_EMAIL,
    REFUSED,
    REGISTER,
    RESET,
    FreeFtpAccount,
    FreeFtpAttempt,
    FreeFtpSettings,
)
from app.networks.models import Network
from app.notifications.services import queue_mail
from app.security.rights import may_access

PUBLIC_ACTOR = SystemActor("FREEFTP")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,31}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 128
TOKEN_LIFETIME = timedelta(hours=48)
# The reasons' words, for the public page and the admin list.
REASON_LABELS = {
    REASON_CLOSED: _l("registration is closed"),
    REASON_NETWORK: _l("address outside the allowed networks"),
    REASON_EMAIL: _l("e-mail not allowed"),
    REASON_INVALID: _l("invalid data"),
    REASON_TAKEN: _l("username or e-mail already registered"),
    REASON_RATE: _l("too many attempts from the address"),
    REASON_UNKNOWN_EMAIL: _l("no account with this e-mail"),
}
SETTINGS_FIELDS = ("enabled", "allowed_networks", "email_pattern", "email_must_be_client", "confirm_email",
                   "download_kbps", "max_sessions", "ftp_root", "homes_root", "home_quota_mb", "page_text")


class Refusal(FieldErrors):
    """A public request refused: its reason (stored with the attempt) and the messages for the form."""

    def __init__(self, reason, errors):
        super().__init__(errors)
        self.reason = reason


def fold(text):
    """Lower case without accents, the same for the index and the searched words ("Щурците" → "щурците")."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()


def search_words(text):
    """The words of a search, folded: letters, digits, `_` and `%` (file names have them: "a_b.txt", "100%.mp3").

    `_` and `%` are part of a word and match only themselves (app.core.like);
    the rest (spaces, dots, dashes, brackets) separates words.
    """
    return [word for word in re.split(r"[^\w%]+", fold(text)) if word]


# --- settings --------------------------------------------------------------------------------------------


def current_settings():
    """The saved settings, or (never saved) the defaults, not added to the session: registration closed."""
    saved = db.session.get(FreeFtpSettings, 1)
    if saved is not None:
        return saved
    return FreeFtpSettings(id=1, enabled=False, email_must_be_client=False, confirm_email=True, max_sessions=2,
                           home_quota_mb=1024)


def parse_networks(text):
    """The CIDRs of the settings' field (one per line or comma separated); raises ValueError naming a bad one."""
    networks = []
    for item in re.split(r"[\s,;]+", text or ""):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(item) from None
    return networks


def settings_errors(values):
    errors = {}
    try:
        parse_networks(values.get("allowed_networks"))
    except ValueError as bad:
        errors["allowed_networks"] = [gettext("Not a network: %(value)s (write e.g. 10.0.0.0/8).", value=str(bad))]
    for field in ("ftp_root", "homes_root"):
        folder = (values.get(field) or "").strip()
        if folder and not Path(folder).is_absolute():
            errors[field] = [gettext("Write the full path of a folder, e.g. /srv/ftp.")]
        elif folder and not Path(folder).is_dir():
            errors[field] = [gettext("There is no such folder on the server.")]
    if values.get("enabled") and not (values.get("ftp_root") or "").strip():
        errors.setdefault("ftp_root", []).append(gettext("FREEFTP needs the folder it serves."))
    for field, lowest in (("download_kbps", 1), ("max_sessions", 1), ("home_quota_mb", 1)):
        value = values.get(field)
        if value not in (None, "") and (not isinstance(value, int) or value < lowest):
            errors[field] = [gettext("A whole number of at least %(number)d.", number=lowest)]
    for field in ("max_sessions", "home_quota_mb"):
        if values.get(field) in (None, ""):
            errors.setdefault(field, []).append(gettext("Required."))
    return errors


def save_settings(actor, values):
    """Stores the settings (one row). Flushes; raises FieldErrors and stores nothing when refused."""
    row = row_to_save(FreeFtpSettings, may_access(actor, "can_edit", "FreeFtpSettings"), "enabled", values,
                      settings_errors)
    for field in SETTINGS_FIELDS:
        value = values.get(field)
        if isinstance(value, str):
            value = value.strip() or None
        setattr(row, field, value if value != "" else None)
    row.enabled = bool(values.get("enabled"))
    row.email_must_be_client = bool(values.get("email_must_be_client"))
    row.confirm_email = bool(values.get("confirm_email"))
    db.session.flush()
    return row


# --- the filters -----------------------------------------------------------------------------------------


def address_may_register(settings, address):
    """True when `address` is in the settings' networks, or (none listed) in one of the Networks module's."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    listed = parse_networks(settings.allowed_networks)
    if listed:
        return any(ip.version == network.version and ip in network for network in listed)
    if ip.version != 4:
        return False
    number = int(ip)
    return db.session.scalar(select(Network.id).where(Network.first_address <= number,
                                                      Network.last_address >= number).limit(1)) is not None


def email_matches_pattern(settings, email):
    """The office's published rule on the e-mail's form (`*@example.bg`): it says nothing about anybody."""
    patterns = [item.strip().lower() for item in re.split(r"[\s,;]+", settings.email_pattern or "") if item.strip()]
    return not patterns or any(fnmatch.fnmatchcase(email, pattern) for pattern in patterns)


def is_clients_email(email):
    return db.session.scalar(select(Client.id).where(func.lower(Client.email) == email).limit(1)) is not None


def _too_many_attempts(kind, address):
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return False
    limit = parse(current_app.config["FREEFTP_RATE_LIMIT"])
    since = utcnow() - timedelta(seconds=limit.get_expiry())
    count = db.session.scalar(select(func.count(FreeFtpAttempt.id)).where(
        FreeFtpAttempt.remote_addr == address, FreeFtpAttempt.kind == kind,
        FreeFtpAttempt.attempted_at >= since, FreeFtpAttempt.reason.is_distinct_from(REASON_RATE)))
    return count >= limit.amount


def rate_limit_message():
    limit = parse(current_app.config["FREEFTP_RATE_LIMIT"])
    minutes = max(limit.get_expiry() // 60, 1)
    return gettext("Too many attempts from your address. Try again in %(minutes)d minutes.", minutes=minutes)


def record_attempt(kind, address, outcome, reason=None, username=None, email=None, account=None):
    """Stores the attempt in the current unit of work (the caller has discarded a refused one's changes)."""
    attempt = FreeFtpAttempt(kind=kind, remote_addr=(address or "")[:45], outcome=outcome, reason=reason,
                             username=(username or "")[:100] or None, email=(email or "")[:200] or None,
                             account=account)
    db.session.add(attempt)
    db.session.flush()
    return attempt


# --- registration ----------------------------------------------------------------------------------------


def _registration_errors(username, password, email):
    errors = {}
    if not USERNAME.match(username):
        errors["username"] = [gettext("3 to 32 small Latin letters, digits, dot, dash or underscore; "
                                      "starting with a letter or digit.")]
    if not (MIN_PASSWORD <= len(password) <= MAX_PASSWORD):
        errors["password"] = [gettext("At least %(number)d characters.", number=MIN_PASSWORD)]
    if not EMAIL.match(email) or len(email) > 200:
        errors["email"] = [gettext("Not an e-mail address.")]
    return errors


def register(actor, *, username, password, email, remote_addr):
    """Asks to register an account from the public page. Flushes; raises Refusal (nothing stored) when refused.

    The page's answer depends only on what anybody may know: the asker's
    address, the username, the e-mail's form and the office's pattern. What
    only the address's owner may learn — it has an account already, it is
    not a client's — goes to that address by e-mail, and the page answers
    the same in every case (`REGISTRATION_ANSWER`). So that nothing else
    tells either (a username taken, an FTP login that works), the account is
    made only when the link in the mail is opened (`confirm_registration`):
    the registration waits inside the link.
    """
    settings = current_settings()
    username = (username or "").strip().lower()
    email = (email or "").strip().lower()
    password = password or ""
    if _too_many_attempts(REGISTER, remote_addr):
        raise Refusal(REASON_RATE, {"username": [rate_limit_message()]})
    if not settings.enabled:
        raise Refusal(REASON_CLOSED, {"username": [gettext("Registration is closed.")]})
    if not address_may_register(settings, remote_addr):
        raise Refusal(REASON_NETWORK, {"username": [gettext(
            "Registration is allowed only from our network; your address (%(address)s) is not in it.",
            address=remote_addr)]})
    errors = _registration_errors(username, password, email)
    if errors:
        raise Refusal(REASON_INVALID, errors)
    if not email_matches_pattern(settings, email):
        raise Refusal(REASON_EMAIL, {"email": [gettext("This e-mail is not accepted for registration.")]})
    if _username_taken(username):
        raise Refusal(REASON_TAKEN, {"username": [gettext("This username is taken.")]})
    password_hash = generate_password_hash(password)  # in every case, so that no answer comes sooner
    account = db.session.scalar(select(FreeFtpAccount).where(FreeFtpAccount.email == email)
                                .order_by(FreeFtpAccount.active.desc(), FreeFtpAccount.id).limit(1))
    if account is not None:
        attempt = record_attempt(REGISTER, remote_addr, REFUSED, REASON_TAKEN, username=username, email=email,
                                 account=account)
        _mail_account_exists(actor, account, attempt)
    elif settings.email_must_be_client and not is_clients_email(email):
        attempt = record_attempt(REGISTER, remote_addr, REFUSED, REASON_EMAIL, username=username, email=email)
        queue_mail(actor, f"freeftp-register-{attempt.id}", email, gettext("Your FTP registration"), gettext(
            "Hello,\n\nsomeone asked to register the FTP account %(username)s with this address on our page. "
            "Registration is open only to the e-mail addresses our clients gave us, and this address is not "
            "among them: register with the e-mail you gave us as a client, or ask our office to add this one."
            "\n\nIf you did not ask for it, ignore this message.\n", username=username))
    else:
        record_attempt(REGISTER, remote_addr, ACCEPTED, username=username, email=email)
        token = one_time_links.issue(CONFIRM, f"freeftp-registration:{email}", TOKEN_LIFETIME, payload={
            "username": username, "password_hash": password_hash, "email": email, "remote_addr": remote_addr})
        link = public_url("freeftp_public.confirm", token=token)
        queue_mail(actor, _link_key(CONFIRM, token), email, gettext("Confirm your FTP registration"), gettext(
            "Hello,\n\nto start using the FTP account %(username)s open this link:\n%(link)s\n\n"
            "The link is valid for 48 hours. If you did not register, ignore this message.\n",
            username=username, link=link))


REGISTRATION_ANSWER = _l("If this address may register, we have sent it a message. Open the link in it within "
                         "48 hours to finish the registration.")


def _username_taken(username):
    return db.session.scalar(select(FreeFtpAccount.id).where(FreeFtpAccount.username == username)) is not None \
        or db.session.scalar(select(Subscription.id).where(func.lower(Subscription.username) == username)
                             .limit(1)) is not None


def _link_key(purpose, token):
    return f"{purpose}-{hashlib.sha256(token.encode()).hexdigest()[:32]}"


def _mail_account_exists(actor, account, attempt):
    """Tells the address that it has an account (with a new-password link, unless the account is disabled)."""
    if not account.active:
        queue_mail(actor, f"freeftp-register-{attempt.id}", account.email, gettext("Your FTP registration"),
                   gettext("Hello,\n\nsomeone asked to register an FTP account with this address, but it has "
                           "one already: %(username)s. That account is disabled: ask our office about it.\n\n"
                           "If you did not ask for it, ignore this message.\n", username=account.username))
        return
    token = one_time_links.issue(NEW_PASSWORD, _account_subject(account), TOKEN_LIFETIME)
    queue_mail(actor, _link_key(NEW_PASSWORD, token), account.email, gettext("Your FTP registration"), gettext(
        "Hello,\n\nsomeone asked to register an FTP account with this address, but it has one already: "
        "%(username)s. Log in with it; if you forgot its password, set a new one with this link:\n%(link)s\n\n"
        "The link is valid for 48 hours. If you did not ask for it, ignore this message: nothing changes.\n",
        username=account.username, link=public_url("freeftp_public.new_password", token=token)))


def confirm_registration(token):
    """The account a working registration link asked for, now made (its address proven).

    Raises LinkRefused for a link that does not work, FieldErrors when the
    username or the address got an account since the link was sent. Flushes.
    """
    link = one_time_links.redeem(CONFIRM, token)
    wanted = link.payload or {}
    if not wanted.get("username"):
        raise LinkRefused(WRONG)
    if _username_taken(wanted["username"]):
        raise FieldErrors({"username": [gettext(
            "The username %(username)s was taken since: register again with another one.",
            username=wanted["username"])]})
    if db.session.scalar(select(FreeFtpAccount.id).where(FreeFtpAccount.email == wanted["email"])) is not None:
        raise FieldErrors({"email": [gettext("This address has an FTP account already.")]})
    account = FreeFtpAccount(username=wanted["username"], password_hash=wanted["password_hash"],
                             email=wanted["email"], active=True, email_confirmed=True,
                             registered_from=wanted.get("remote_addr"))
    db.session.add(account)
    db.session.flush()
    return account


def _account_subject(account):
    return f"freeftp-account:{account.id}"


def _send_password_link(actor, account):
    """Mails the account a new-password link; the ones it was sent before stop working."""
    token = one_time_links.issue(NEW_PASSWORD, _account_subject(account), TOKEN_LIFETIME)
    link = public_url("freeftp_public.new_password", token=token)
    queue_mail(actor, _link_key(NEW_PASSWORD, token), account.email, gettext("New password for your FTP account"),
               gettext("Hello,\n\nto set a new password for the FTP account %(username)s open this link:\n"
                       "%(link)s\n\nThe link is valid for 48 hours. If you did not ask for it, ignore this "
                       "message: your password stays as it is.\n", username=account.username, link=link))


def _account_of(link):
    account = db.session.get(FreeFtpAccount, int(link.subject.rsplit(":", 1)[1]))
    if account is None:  # deleted since
        raise LinkRefused(WRONG)
    return account


def request_password_reset(actor, *, email, remote_addr):
    """Sends the address a new-password link for its account, or tells it why not. Flushes; raises Refusal.

    The page says the same whatever the address (the attempt list and the
    mail to the address say which): nobody learns who is registered from it.
    """
    email = (email or "").strip().lower()
    if _too_many_attempts(RESET, remote_addr):
        raise Refusal(REASON_RATE, {"email": [rate_limit_message()]})
    if not EMAIL.match(email):
        raise Refusal(REASON_INVALID, {"email": [gettext("Not an e-mail address.")]})
    account = db.session.scalar(select(FreeFtpAccount).where(FreeFtpAccount.email == email)
                                .order_by(FreeFtpAccount.active.desc(), FreeFtpAccount.id).limit(1))
    if account is None or not account.active:
        attempt = record_attempt(RESET, remote_addr, REFUSED, REASON_UNKNOWN_EMAIL, email=email, account=account)
        if account is None:
            body = gettext("Hello,\n\nsomeone asked for a new password for an FTP account with this address, "
                           "but no account has it. To register one, open %(link)s\n\n"
                           "If you did not ask for it, ignore this message.\n",
                           link=public_url("freeftp_public.register_page"))
        else:
            body = gettext("Hello,\n\nsomeone asked for a new password for the FTP account %(username)s. That "
                           "account is disabled: ask our office about it.\n\n"
                           "If you did not ask for it, ignore this message.\n", username=account.username)
        queue_mail(actor, f"freeftp-reset-{attempt.id}", email, gettext("New password for your FTP account"), body)
        return None
    record_attempt(RESET, remote_addr, ACCEPTED, username=account.username, email=email, account=account)
    _send_password_link(actor, account)
    return account


def check_password_link(token):
    """Raises LinkRefused unless the new-password link works (it stays unused)."""
    one_time_links.check(NEW_PASSWORD, token)


def set_new_password(token, password):
    """Sets the password of a working new-password link's account (the link then is used).

    Raises FieldErrors for a refused password (the link still works), LinkRefused for a link that does not.
    """
    one_time_links.check(NEW_PASSWORD, token)
    password = password or ""
    if not (MIN_PASSWORD <= len(password) <= MAX_PASSWORD):
        raise FieldErrors({"password": [gettext("At least %(number)d characters.", number=MIN_PASSWORD)]})
    account = _account_of(one_time_links.redeem(NEW_PASSWORD, token))
    account.password_hash = generate_password_hash(password)
    account.email_confirmed = True  # the link reached the address
    db.session.flush()
    return account


# --- the office's operations on accounts -----------------------------------------------------------------


def _refuse_without(actor, permission):
    if not may_access(actor, permission, "FreeFtpAccount"):
        raise FieldErrors({"active": [gettext("You do not have the right to do this.")]})


def set_account_active(actor, account, active):
    """Enables or disables an account; a disabled one's open FTP sessions end at their next command."""
    _refuse_without(actor, "can_edit")
    account.active = bool(active)
    db.session.flush()
    return account


def send_password_reset(actor, account):
    """The office sends the account a new-password link (it never sees or sets the password itself)."""
    _refuse_without(actor, "can_edit")
    _send_password_link(actor, account)
    return account


# --- the FTP server's questions --------------------------------------------------------------------------


def check_account_password(account, password):
    return bool(account) and check_password_hash(account.password_hash, password or "")


def account_may_log_in(account, settings):
    return account.active and settings.enabled and (account.email_confirmed or not settings.confirm_email)


def note_login(account_id, address):
    db.session.execute(update(FreeFtpAccount).where(FreeFtpAccount.id == account_id).values(
        last_login_at=utcnow(), last_login_from=(address or "")[:45], logins=FreeFtpAccount.logins + 1))


def note_download(account_id, size):
    db.session.execute(update(FreeFtpAccount).where(FreeFtpAccount.id == account_id).values(
        bytes_downloaded=FreeFtpAccount.bytes_downloaded + int(size)))
