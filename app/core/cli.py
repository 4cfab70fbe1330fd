"""`flask --app app backup …` and `flask --app app files …`: the installation's backup, and the stored files."""
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.core import backup as backups
from app.core import files
from app.core.formatting import format_datetime
from app.extensions import db

backup = AppGroup("backup", help="Backup of the database, the LOG and the stored files, and its restore.")
stored_files = AppGroup("files", help="Files kept in the database: exports, the outbox without MAIL_SERVER.")


@backup.command("create")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
def create_backup(target):
    """Write one consistent backup of the whole database to TARGET (a new file)."""
    db.session.remove()
    try:
        size = backups.create(current_app.config["SQLALCHEMY_DATABASE_URI"], target)
    except backups.BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Архивът е записан в {target} ({size} байта).")


@backup.command("restore")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
def restore_backup(source):
    """Restore the backup SOURCE into the configured database, which must be empty."""
    db.session.remove()
    db.engine.dispose()
    try:
        backups.restore(current_app.config["SQLALCHEMY_DATABASE_URI"], source)
    except backups.BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Архивът {source} е възстановен.")


@stored_files.command("list")
@click.option("--kind", type=click.Choice([files.EXPORT, files.OUTBOX]), help="only exports, or only the outbox")
def list_files(kind):
    """List the stored files, newest first."""
    query = select(files.StoredFile).order_by(files.StoredFile.created_at.desc())
    if kind:
        query = query.where(files.StoredFile.kind == kind)
    for stored in db.session.scalars(query):
        click.echo(f"{stored.name}\t{stored.kind}\t{stored.size}\t{format_datetime(stored.created_at)}")


@stored_files.command("get")
@click.argument("name")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
def get_file(name, target):
    """Copy the stored file NAME to TARGET."""
    stored = files.find(name)
    if stored is None:
        raise click.ClickException(f"Няма съхранен файл {name}.")
    with open(target, "wb") as stream:
        for chunk in files.chunks(stored.id):
            stream.write(chunk)
    click.echo(f"{name} → {target} ({stored.size} байта)")
