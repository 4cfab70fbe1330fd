"""Files a process writes for a later request or another process (exports, the outbox): in the database.

A worker on one machine writes an export; a panel on another, with an empty
instance folder of its own, streams it to the operator. PostgreSQL is the one
store every node shares (docs/architecture.md), so a file is a `stored_file`
row and its content `stored_file_chunk` rows of at most CHUNK bytes: written
and read one chunk at a time, so a large export never sits whole in memory,
and saved by `flask backup` with everything else.

Who may read a file is its owner's business (the export's page checks that
the export is the operator's own); the row keeps the operator and dealer it
was written for, so the LOG and a cleanup can tell.
"""
import io

from flask_appbuilder import Model
from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Integer, LargeBinary, String, delete, insert, select

from app.core.formatting import utcnow
from app.extensions import db

CHUNK = 1024 * 1024
EXPORT, OUTBOX = "export", "outbox"


class StoredFile(Model):
    """One file: its unique name, what it is (an export, a message of the outbox), for whom, how big."""

    __tablename__ = "stored_file"

    id = Column(Integer, primary_key=True)
    name = Column(String(200), nullable=False, unique=True)
    kind = Column(String(20), nullable=False, index=True)
    operator_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)
    dealer_id = Column(Integer, ForeignKey("dealer.id", ondelete="SET NULL"))
    size = Column(BigInteger, nullable=False, default=0)
    created_at = Column(DateTime, nullable=False, default=utcnow)

    def __str__(self):
        return self.name


class StoredFileChunk(Model):
    __tablename__ = "stored_file_chunk"

    file_id = Column(Integer, ForeignKey("stored_file.id", ondelete="CASCADE"), primary_key=True)
    number = Column(Integer, primary_key=True, autoincrement=False)
    data = Column(LargeBinary, nullable=False)

    def __str__(self):
        return f"{self.file_id}/{self.number}"


def save(stream, name, kind, operator_id=None, dealer_id=None):
    """Stores what `stream` (a binary file object) holds under `name`, a chunk at a time. Flushes; the caller's
    unit of work commits it. Returns the StoredFile."""
    stored = StoredFile(name=name, kind=kind, operator_id=operator_id, dealer_id=dealer_id, size=0)
    db.session.add(stored)
    db.session.flush()
    number = 0
    while True:
        data = stream.read(CHUNK)
        if not data:
            break
        db.session.execute(insert(StoredFileChunk).values(file_id=stored.id, number=number, data=data))
        stored.size += len(data)
        number += 1
    db.session.flush()
    return stored


def save_bytes(content, name, kind, operator_id=None, dealer_id=None):
    """Stores `content` (bytes) under `name`. Flushes."""
    return save(io.BytesIO(content), name, kind, operator_id=operator_id, dealer_id=dealer_id)


def find(name):
    """The StoredFile of that name, or None."""
    return db.session.scalar(select(StoredFile).where(StoredFile.name == name))


def chunks(file_id):
    """The file's content, one chunk at a time, each read by a query of its own on a connection of its own:
    a response streams it after its request's unit of work, and its application context, have ended."""
    return _chunks(db.engine, file_id)


def _chunks(engine, file_id):
    number = 0
    with engine.connect() as connection:
        while True:
            data = connection.scalar(select(StoredFileChunk.data).where(StoredFileChunk.file_id == file_id,
                                                                        StoredFileChunk.number == number))
            if data is None:
                return
            yield bytes(data)
            number += 1


def read_bytes(name):
    """The whole content of the file `name` (small files: a message of the outbox, tests), or None."""
    stored = find(name)
    if stored is None:
        return None
    return b"".join(db.session.scalars(select(StoredFileChunk.data).where(StoredFileChunk.file_id == stored.id)
                                       .order_by(StoredFileChunk.number)))


def remove(names):
    """Deletes the files of those names, chunks first (one statement each). Flushes."""
    names = list(names)
    if not names:
        return
    ids = select(StoredFile.id).where(StoredFile.name.in_(names)).scalar_subquery()
    db.session.execute(delete(StoredFileChunk).where(StoredFileChunk.file_id.in_(ids)))
    db.session.execute(delete(StoredFile).where(StoredFile.name.in_(names)))
