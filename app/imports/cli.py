"""`flask --app app import run FILE --kind clients|subscriptions [--dealer D] [--dry-run] --operator USERNAME`."""
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.core.actors import acting_as
from app.core.errors import FieldErrors
from app.core.transaction import unit_of_work
from app.dealers.models import Dealer
from app.extensions import db
from app.imports.models import KINDS
from app.core.formatting import office_language
from app.imports.services import OUTCOME_LABELS, import_file

commands = AppGroup("import", help="Import clients and subscriptions from another system's CSV or XLSX file.")


@commands.command("run")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(KINDS), required=True, help="what the file holds")
@click.option("--dealer", default=None, help="the dealer (name or number) whose clients these are")
@click.option("--dry-run", is_flag=True, help="only show what would be created, changed and refused")
@click.option("--operator", "username", required=True, help="the operator the import acts as (the LOG names them)")
def run(path, kind, dealer, dry_run, username):
    """Import a file row by row (each row its own transaction) and print the report: row, outcome, reason."""
    with unit_of_work():
        operator = current_app.appbuilder.sm.find_user(username=username)
        if operator is None:
            raise click.BadParameter(f"няма оператор {username}", param_hint="--operator")
        chosen = None
        if dealer:
            chosen = db.session.scalar(select(Dealer).where(
                Dealer.id == int(dealer) if dealer.isdigit() else Dealer.name == dealer))
            if chosen is None:
                raise click.BadParameter(f"няма дилър {dealer}", param_hint="--dealer")
        with acting_as(operator):
            try:
                report = import_file(operator, path.read_bytes(), path.name, kind, dealer=chosen, dry_run=dry_run)
            except FieldErrors as refusal:
                raise click.ClickException(str(refusal)) from None
    click.echo(("Проба (нищо не е записано)" if dry_run else "Внос") + f": {path.name}, {report['format'] or ''}")
    if report["unknown_columns"]:
        click.echo("Непознати колони (не са внесени): " + ", ".join(report["unknown_columns"]))
    if report["error"]:
        raise click.ClickException(report["error"])
    with office_language():
        labels = {outcome: str(label) for outcome, label in OUTCOME_LABELS.items()}
    for row in report["rows"]:
        if row["outcome"] != "unchanged":
            line = f"ред {row['row']}: {labels[row['outcome']]} — {row['label']}"
            click.echo(line + (f": {row['details']}" if row["details"] else ""))
    totals = report["totals"]
    click.echo("Общо: " + ", ".join(f"{labels[outcome]} {totals[outcome]}" for outcome in totals))
