"""Sequential numbers kept in the database (client numbers, later invoices).

`next_number` increments a counter row with one UPDATE, which the database
serialises: two concurrent requests never get the same number, and a
rolled-back transaction gives its number back (no gaps).
"""
from flask_appbuilder import Model
from sqlalchemy import BigInteger, Column, String, update
from sqlalchemy.exc import IntegrityError

from app.extensions import db


class Counter(Model):
    __tablename__ = "counter"

    name = Column(String(100), primary_key=True)
    value = Column(BigInteger, nullable=False)

    def __str__(self):
        return f"{self.name}: {self.value}"


def next_number(name, first=1):
    """The next value of counter `name` (the first call gives `first`). Flushes."""
    result = db.session.execute(
        update(Counter).where(Counter.name == name).values(value=Counter.value + 1).returning(Counter.value)
    ).scalar()
    if result is not None:
        return result
    try:
        with db.session.begin_nested():
            db.session.add(Counter(name=name, value=first))
        return first
    except IntegrityError:  # another transaction created it first
        return db.session.scalar(
            update(Counter).where(Counter.name == name).values(value=Counter.value + 1).returning(Counter.value)
        )


