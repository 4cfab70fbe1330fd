"""clients: phone_digits holds each phone's search key (app.core.phones.phone_key)

It held each phone's plain digits: "+359 888 123 456" was stored as
359888123456 and a search for "0888 123 456" missed it. Now a number has one
key however it is written (888123456), and the search turns what is typed
into the same key. Existing clients get theirs here, through the same
function the model and the search use (a pure function of the text, so
the migration and the application cannot disagree about a number).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 21:00:00

"""
from alembic import op
import sqlalchemy as sa

from app.core.phones import phone_keys

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade():
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, phone, phone_digits FROM client WHERE phone IS NOT NULL"))
    changed = [{"id": id_, "keys": keys} for id_, phone, stored in rows
               if (keys := phone_keys(phone)) != (stored or "")]
    update = sa.text("UPDATE client SET phone_digits = :keys WHERE id = :id")
    for start in range(0, len(changed), BATCH):
        connection.execute(update, changed[start:start + BATCH])


def downgrade():
    # The plain digits of each comma-separated phone, as before.
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, phone FROM client WHERE phone IS NOT NULL")).all()
    update = sa.text("UPDATE client SET phone_digits = :digits WHERE id = :id")
    changed = [{"id": id_, "digits": " ".join("".join(ch for ch in part if ch.isdigit())
                                              for part in phone.split(","))} for id_, phone in rows]
    for start in range(0, len(changed), BATCH):
        connection.execute(update, changed[start:start + BATCH])
