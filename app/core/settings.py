"""A table of settings (head office's company data, FREEFTP's, ePay.bg's) holds one row, whose id is SETTINGS_ID."""
from flask_babel import gettext

from app.core.errors import FieldErrors
from app.extensions import db

SETTINGS_ID = 1


def settings_row(model):
    """The settings' row to store into: the stored one, or (never saved) a new one added to the session."""
    row = db.session.get(model, SETTINGS_ID)
    if row is None:
        row = model(id=SETTINGS_ID)
        db.session.add(row)
    return row


def row_to_save(model, allowed, field, values, errors_of):
    """The settings' row to store `values` into, once the actor may (`allowed`: the module checks its own right)
    and errors_of(values) finds nothing; else FieldErrors (a missing right shown at `field`), nothing stored."""
    if not allowed:
        raise FieldErrors({field: [gettext("You do not have the right to do this.")]})
    errors = errors_of(values)
    if errors:
        raise FieldErrors(errors)
    return settings_row(model)
