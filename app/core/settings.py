"""A table of settings (head office's company data, FREEFTP's settings) holds one row, whose id is SETTINGS_ID."""
from app.extensions import db

SETTINGS_ID = 1


def settings_row(model):
    """The settings' row to store into: the stored one, or (never saved) a new one added to the session."""
    row = db.session.get(model, SETTINGS_ID)
    if row is None:
        row = model(id=SETTINGS_ID)
        db.session.add(row)
    return row
