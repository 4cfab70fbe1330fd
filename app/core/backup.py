"""One consistent copy of everything the installation keeps, and its restore into an empty database.

Everything is in the database: the records, the LOG, and the files a
later request reads (exports, the outbox: app.core.files). So a backup is
the database's own dump, taken in one snapshot:

- PostgreSQL: `pg_dump --format=custom` (one transaction, no lock on the
  writers), restored by `pg_restore` into an empty database;
- SQLite: the sqlite3 backup API (a page-by-page copy that sees one state
  of the file), restored the same way into an empty file.

Not in it: the FREEFTP trees (the FTP server's own folders, backed up as
files), a MAIL_OUTBOX folder when one is configured, and instance/secret_key
(or SECRET_KEY): keep them with the backup, or sessions and two-factor
secrets do not survive a move to a new machine.
"""
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

PG_MAGIC, SQLITE_MAGIC = b"PGDMP", b"SQLite format 3\x00"


class BackupError(Exception):
    """What went wrong, in words for the administrator (Bulgarian)."""


def create(database_uri, target):
    """Writes the backup of the database at `database_uri` to the file `target`. Returns its size."""
    target = Path(target)
    url = make_url(database_uri)
    if target.exists():
        raise BackupError(f"Файлът {target} вече съществува: изберете ново име.")
    if url.get_backend_name() == "postgresql":
        try:
            _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", str(target)], url)
        except BackupError:
            target.unlink(missing_ok=True)  # never a half archive that looks like a backup
            raise
    elif url.get_backend_name() == "sqlite":
        source = sqlite3.connect(_sqlite_path(url))
        copy = sqlite3.connect(target)
        try:
            with copy:
                source.backup(copy)
        finally:
            copy.close()
            source.close()
    else:
        raise BackupError(f"Архивиране на база {url.get_backend_name()} не се поддържа.")
    return target.stat().st_size


def restore(database_uri, source):
    """Restores the backup file `source` into the database at `database_uri`, which must be empty."""
    source = Path(source)
    url = make_url(database_uri)
    if not source.is_file():
        raise BackupError(f"Няма файл {source}.")
    with open(source, "rb") as stream:
        head = stream.read(len(SQLITE_MAGIC))
    backend = url.get_backend_name()
    if backend == "postgresql" and not head.startswith(PG_MAGIC):
        raise BackupError(f"{source} не е архив на PostgreSQL (pg_dump --format=custom).")
    if backend == "sqlite" and head != SQLITE_MAGIC:
        raise BackupError(f"{source} не е архив на SQLite.")
    if backend not in ("postgresql", "sqlite"):
        raise BackupError(f"Възстановяване в база {backend} не се поддържа.")
    if _has_tables(database_uri):
        raise BackupError("Базата данни не е празна: архивът се възстановява само в празна база.")
    if backend == "postgresql":
        _run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
              str(source)], url, database_flag=True)
        return
    copy = sqlite3.connect(source)
    target = sqlite3.connect(_sqlite_path(url))
    try:
        with target:
            copy.backup(target)
    finally:
        target.close()
        copy.close()


def _has_tables(database_uri):
    engine = create_engine(database_uri)
    try:
        return bool(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _sqlite_path(url):
    if not url.database or url.database == ":memory:":
        raise BackupError("Базата SQLite трябва да е файл.")
    return url.database


def _run(command, url, database_flag=False):
    """Runs pg_dump/pg_restore against `url`; the password goes in the environment, not the command line."""
    if shutil.which(command[0]) is None:
        raise BackupError(f"Няма програма {command[0]} (пакетът postgresql-client).")
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    plain = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    command = command + (["--dbname", plain] if database_flag else [plain])
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{command[0]} спря с грешка: {result.stderr.strip()[-1000:]}")
