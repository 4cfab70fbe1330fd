"""One-time links: a secret token sent to someone (by e-mail, or handed over by an administrator) that works once.

Every link has a purpose ("freeftp-password", "freeftp-registration",
"second-factor-enrolment") and a subject (whom or what it is for:
"freeftp-account:12", an e-mail address, "operator:7"):

    token = issue("freeftp-password", f"freeftp-account:{account.id}", timedelta(hours=48))
    link = check("freeftp-password", token)    # valid: the OneTimeLink; else raises LinkRefused
    link = redeem("freeftp-password", token)   # the same, and used: a second redeem is refused

The rules, decided here only:
- only the SHA-256 of a token is stored (the database never holds a working link);
- a link works until it expires, and once: `redeem` marks it used in one
  UPDATE that only an unused, current link matches, so two requests at once
  cannot both use it;
- issuing a new link for a purpose and subject replaces every earlier
  unused one (a mail sent twice leaves only the newest working), and
  `revoke` ends them all (an account disabled, an enrolment cancelled);
- a refused link says why, in the reader's words (`LinkRefused.message`):
  wrong, used, replaced by a newer one (or revoked), or expired.

`payload` keeps what the link will do when opened (a registration waiting
for its address to be proven), so nothing else is stored before it is.
Effects of a redeemed link belong to the caller's unit of work: a unit
rolled back leaves the link unused.
"""
import hashlib
import secrets

from flask_appbuilder import Model
from flask_babel import gettext
from sqlalchemy import JSON, Column, DateTime, Index, Integer, String, select, update

from app.core.formatting import utcnow
from app.extensions import db

MAX_TOKEN = 100
WRONG, USED, REVOKED, EXPIRED = "wrong", "used", "revoked", "expired"


class OneTimeLink(Model):
    """A link issued for a purpose and a subject; only its token's SHA-256 is kept."""

    __tablename__ = "one_time_link"

    id = Column(Integer, primary_key=True)
    purpose = Column(String(40), nullable=False)
    subject = Column(String(200), nullable=False)
    digest = Column(String(64), nullable=False, unique=True)
    payload = Column(JSON)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    expires_at = Column(DateTime, nullable=False)
    used_at = Column(DateTime)
    revoked_at = Column(DateTime)

    __table_args__ = (
        Index("ix_one_time_link_purpose_subject", "purpose", "subject"),
        {"extend_existing": True},
    )

    def __str__(self):
        return f"№ {self.id}"


class LinkRefused(Exception):
    """A link that does not work (`reason`: WRONG, USED, REVOKED — replaced or cancelled — or EXPIRED), and what
    to tell its holder."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason

    @property
    def message(self):
        return {
            WRONG: gettext("The link is wrong. Ask for a new one."),
            USED: gettext("The link was used already: it works only once. Ask for a new one if you need it."),
            REVOKED: gettext("A newer link was sent after this one, and only the newest works (or the link "
                             "was cancelled): open the latest message or ask for a new one."),
            EXPIRED: gettext("The link has expired. Ask for a new one."),
        }[self.reason]


def _digest(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue(purpose, subject, lifetime, payload=None):
    """A new link's token (to put in the link; it is not stored). Earlier unused links of purpose+subject stop
    working. Flushes."""
    now = utcnow()
    db.session.execute(
        update(OneTimeLink)
        .where(OneTimeLink.purpose == purpose, OneTimeLink.subject == subject,
               OneTimeLink.used_at.is_(None), OneTimeLink.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    token = secrets.token_urlsafe(32)
    db.session.add(OneTimeLink(purpose=purpose, subject=subject, digest=_digest(token), payload=payload,
                               created_at=now, expires_at=now + lifetime))
    db.session.flush()
    return token


def _refusal(link, now):
    if link.used_at is not None:
        return LinkRefused(USED)
    if link.revoked_at is not None:
        return LinkRefused(REVOKED)
    if link.expires_at <= now:
        return LinkRefused(EXPIRED)
    return None


def check(purpose, token):
    """The working link of this purpose with this token; raises LinkRefused. Leaves it unused."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN:
        raise LinkRefused(WRONG)
    link = db.session.scalar(select(OneTimeLink).where(OneTimeLink.digest == _digest(token),
                                                       OneTimeLink.purpose == purpose))
    if link is None:
        raise LinkRefused(WRONG)
    refusal = _refusal(link, utcnow())
    if refusal is not None:
        raise refusal
    return link


def current(purpose, subject):
    """The link of purpose+subject that works now (the newest unused, unexpired one), or None."""
    return db.session.scalar(
        select(OneTimeLink)
        .where(OneTimeLink.purpose == purpose, OneTimeLink.subject == subject, OneTimeLink.used_at.is_(None),
               OneTimeLink.revoked_at.is_(None), OneTimeLink.expires_at > utcnow())
        .order_by(OneTimeLink.id.desc()).limit(1)
    )


def redeem(purpose, token):
    """The working link of this purpose with this token, now used; raises LinkRefused. Flushes.

    The UPDATE matches only an unused, unreplaced, unexpired link: of two
    requests redeeming it at once, the second waits for the first's row lock
    and then matches nothing.
    """
    link = check(purpose, token)
    now = utcnow()
    taken = db.session.execute(
        update(OneTimeLink)
        .where(OneTimeLink.id == link.id, OneTimeLink.used_at.is_(None), OneTimeLink.revoked_at.is_(None),
               OneTimeLink.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(link)
    if taken != 1:
        raise _refusal(link, now) or LinkRefused(USED)
    return link


def revoke(purpose, subject):
    """Every unused link of purpose+subject stops working (e.g. an account disabled). Flushes."""
    db.session.execute(
        update(OneTimeLink)
        .where(OneTimeLink.purpose == purpose, OneTimeLink.subject == subject,
               OneTimeLink.used_at.is_(None), OneTimeLink.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
