"""Who may log in to the FTP server, and with what: the server's questions to the database.

Two kinds of logins:
- a registered account (FreeFtpAccount): read-only on the public tree
  (settings.ftp_root), while FREEFTP is on, the account is active and (with
  confirmation on) its e-mail confirmed;
- an FTP-type subscription (service.username_type "ftp") with its username
  and password: its own writable home under settings.homes_root, within
  the quota (the service's parameter quota_mb, else the settings'), while
  it is active and not frozen.

`still_allowed` is asked again before every command of an open session, so
disabling an account or suspending a subscription ends a session at its
next command.
"""
import hmac
import os
import re
from dataclasses import dataclass

from sqlalchemy import func, select

from app.billing import usable
from app.catalog.models import Service, ServiceParameter
from app.clients.models import Subscription
from app.core.formatting import local_today
from app.extensions import db
from app.freeftp.models import FreeFtpAccount
from app.freeftp.services import account_may_log_in, check_account_password, current_settings

ACCOUNT, SUBSCRIPTION = "account", "subscription"
READ_ONLY = "elr"
WRITABLE = "elradfmwMT"
# A home folder is named by the username: nothing that could leave homes_root.
QUOTA_PARAMETER = "quota_mb"
HOME_NAME = re.compile(r"^[A-Za-z0-9_@+-][A-Za-z0-9._@+-]{0,99}$")


@dataclass(frozen=True)
class Login:
    kind: str
    record_id: int
    username: str
    home: str
    perm: str
    quota_bytes: int = 0  # 0: no writing, so no quota
    download_limit: int = 0  # bytes per second, 0: unlimited
    max_sessions: int = 0  # 0: unlimited


def _ftp_subscription(username):
    return db.session.scalar(
        select(Subscription).join(Service, Service.id == Subscription.service_id)
        .where(func.lower(Subscription.username) == username.lower(), Service.username_type == "ftp"))


def _subscription_usable(subscription):
    return usable.is_usable(subscription, local_today())


def _quota_mb(subscription, settings):
    """The service's parameter quota_mb (the same one the mailboxes' view reads), else the settings' quota."""
    value = db.session.scalar(select(ServiceParameter.value).where(
        ServiceParameter.service_id == subscription.service_id, ServiceParameter.name == QUOTA_PARAMETER))
    try:
        return max(int(value), 1)
    except (TypeError, ValueError):
        return settings.home_quota_mb


def authenticate(username, password):
    """The Login for a username and password, or None (wrong, disabled, suspended, frozen, FREEFTP off)."""
    if not username or not password or len(username) > 100:
        return None
    settings = current_settings()
    subscription = _ftp_subscription(username)
    if subscription is not None and subscription.password and hmac.compare_digest(
            subscription.password.encode(), password.encode()):
        if not _subscription_usable(subscription) or not settings.homes_root or \
                not HOME_NAME.match(subscription.username):
            return None
        home = os.path.join(settings.homes_root, subscription.username)
        os.makedirs(home, exist_ok=True)
        return Login(SUBSCRIPTION, subscription.id, username, home, WRITABLE,
                     quota_bytes=_quota_mb(subscription, settings) * 1024 * 1024)
    account = db.session.scalar(select(FreeFtpAccount).where(FreeFtpAccount.username == username.lower()))
    if account is None or not check_account_password(account, password):
        return None
    if not account_may_log_in(account, settings) or not settings.ftp_root or not os.path.isdir(settings.ftp_root):
        return None
    return Login(ACCOUNT, account.id, username, settings.ftp_root, READ_ONLY,
                 download_limit=(settings.download_kbps or 0) * 1024, max_sessions=settings.max_sessions or 0)


def still_allowed(login):
    """True while the login's account or subscription may still use the server."""
    if login.kind == SUBSCRIPTION:
        subscription = db.session.get(Subscription, login.record_id)
        return subscription is not None and _subscription_usable(subscription)
    account = db.session.get(FreeFtpAccount, login.record_id)
    return account is not None and account_may_log_in(account, current_settings())
