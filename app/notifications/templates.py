"""E-mail templates the office edits at /mail-templates/: one per kind of message, filled in the sandbox.

A module that sends a kind of e-mail registers it (`register_kind`) with
its Bulgarian default, the placeholders it fills and a sample to try an
edited template on. The subject and the text are text templates filled in
app.core.sandbox (the same sandbox and limits as contracts' templates,
without HTML escaping). An edited template is a MailTemplate row, in the
LOG; "back to the default" deletes the row.
"""
from dataclasses import dataclass, field

from flask_babel import gettext
from sqlalchemy import select

from app.core.errors import FieldErrors
from app.core.sandbox import TemplateProblem, fill
from app.extensions import db
from app.notifications.models import MailTemplate
from app.security.rights import may_access

MAX_SUBJECT = 300
MAX_BODY = 20_000


@dataclass
class MailKind:
    key: str
    name: object  # a lazy string
    subject: str
    body: str
    sample: callable  # () -> the context of a made-up message
    placeholders: list = field(default_factory=list)  # [(placeholder, what it is)]


KINDS = {}


def register_kind(kind):
    KINDS[kind.key] = kind


def kind_of(key):
    if key not in KINDS:
        raise KeyError(key)
    return KINDS[key]


def edited(key):
    """The office's version of a kind's template, or None (the default is used)."""
    return db.session.scalar(select(MailTemplate).where(MailTemplate.kind == key))


def sources(key):
    """The subject and text templates in use for a kind: edited, or the default."""
    row = edited(key)
    kind = kind_of(key)
    return (row.subject, row.body) if row is not None else (kind.subject, kind.body)


def render(key, context, templates=None):
    """The subject and text of a message of this kind, filled with `context`. Raises TemplateProblem.

    `templates`: the (subject, body) sources when the caller has read them
    already (the billing cycle reads them once per chunk).
    """
    subject_source, body_source = templates or sources(key)
    subject = " ".join(fill(subject_source, context, "text").split())
    return subject[:MAX_SUBJECT], fill(body_source, context, "text")


def check(key, subject, body):
    """{field: [problem]} of an edited template tried on the kind's sample; empty when it fills."""
    errors = {}
    if not (subject or "").strip():
        errors["subject"] = [gettext("Write the subject.")]
    elif len(subject) > MAX_SUBJECT:
        errors["subject"] = [gettext("At most %(max)d characters.", max=MAX_SUBJECT)]
    if not (body or "").strip():
        errors["body"] = [gettext("Write the text.")]
    elif len(body) > MAX_BODY:
        errors["body"] = [gettext("At most %(max)d characters.", max=MAX_BODY)]
    sample = kind_of(key).sample()
    for name, source in (("subject", subject), ("body", body)):
        if name not in errors:
            try:
                fill(source, sample, "text")
            except TemplateProblem as problem:
                errors[name] = [str(problem)]
    return errors


def save(actor, key, subject, body):
    """Stores the office's version of a kind's template (needs the right to edit templates). Flushes.

    Raises FieldErrors, and nothing is stored, when it does not fill or is not allowed.
    """
    _check_right(actor)
    subject, body = (subject or "").strip(), (body or "").replace("\r\n", "\n")
    errors = check(key, subject, body)
    if errors:
        raise FieldErrors(errors)
    row = edited(key)
    if row is None:
        row = MailTemplate(kind=key)
        db.session.add(row)
    row.subject, row.body = subject, body
    db.session.flush()
    return row


def reset(actor, key):
    """Back to the default: the office's version is deleted (the LOG keeps it). Flushes."""
    _check_right(actor)
    kind_of(key)
    row = edited(key)
    if row is not None:
        db.session.delete(row)
        db.session.flush()


def _check_right(actor):
    if not may_access(actor, "can_edit", "MailTemplate"):
        raise FieldErrors({"body": [gettext("You do not have the right to edit e-mail templates.")]})
