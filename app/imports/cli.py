"""`flask --app app import run FILE --kind clients|subscriptions|balances|payments [--dealer D] [--dry-run]
--operator U` and `flask --app app import ubilling --mysql-url mysql+pymysql://… [--tariff OLD=NEW] [--currency BGN]
[--dry-run] --operator U`."""
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
from app.imports.models import BALANCES, CLIENTS, KINDS, PAYMENTS, SUBSCRIPTIONS
from app.core.formatting import office_language
from app.imports.services import OUTCOME_LABELS, import_file
from app.imports.ubilling import import_ubilling

commands = AppGroup("import", help="Import clients, subscriptions, balances and payments from another system's "
                                   "CSV or XLSX file, or from a Ubilling database.")


def _operator_and_dealer(username, dealer):
    operator = current_app.appbuilder.sm.find_user(username=username)
    if operator is None:
        raise click.BadParameter(f"няма оператор {username}", param_hint="--operator")
    chosen = None
    if dealer:
        chosen = db.session.scalar(select(Dealer).where(
            Dealer.id == int(dealer) if dealer.isdigit() else Dealer.name == dealer))
        if chosen is None:
            raise click.BadParameter(f"няма дилър {dealer}", param_hint="--dealer")
    return operator, chosen


def _echo_rows(report, title=None):
    with office_language():
        labels = {outcome: str(label) for outcome, label in OUTCOME_LABELS.items()}
    prefix = f"{title}, " if title else ""
    for row in report["rows"]:
        if row["outcome"] != "unchanged":
            line = f"{prefix}ред {row['row']} ({row['key']}): {labels[row['outcome']]} — {row['label']}" if title \
                else f"ред {row['row']}: {labels[row['outcome']]} — {row['label']}"
            click.echo(line + (f": {row['details']}" if row["details"] else ""))
    for number, address in report.get("unmatched_addresses", []):
        click.echo(f"{prefix}ред {number}: адресът не съвпада с блок от кварталите (остава като текст): {address}")
    totals = report["totals"]
    click.echo((f"{title} — общо: " if title else "Общо: ")
               + ", ".join(f"{labels[outcome]} {totals[outcome]}" for outcome in totals))


@commands.command("run")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(KINDS), required=True, help="what the file holds")
@click.option("--dealer", default=None, help="the dealer (name or number) whose clients these are")
@click.option("--dry-run", is_flag=True, help="only show what would be created, changed and refused")
@click.option("--operator", "username", required=True, help="the operator the import acts as (the LOG names them)")
def run(path, kind, dealer, dry_run, username):
    """Import a file row by row (each row its own transaction) and print the report: row, outcome, reason."""
    with unit_of_work():
        operator, chosen = _operator_and_dealer(username, dealer)
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
    _echo_rows(report)


UBILLING_TITLES = {CLIENTS: "Клиенти", SUBSCRIPTIONS: "Абонаменти", BALANCES: "Салда", PAYMENTS: "Плащания"}


@commands.command("ubilling")
@click.option("--mysql-url", required=True, help="mysql+pymysql://user:password@host/database of Ubilling")
@click.option("--dealer", default=None, help="the dealer (name or number) whose clients these are")
@click.option("--dry-run", is_flag=True, help="only show what would be created, changed and refused")
@click.option("--operator", "username", required=True, help="the operator the import acts as (the LOG names them)")
@click.option("--tariff", "tariffs", multiple=True, metavar="TARIFF=SERVICE",
              help="the catalog's service a Ubilling tariff maps to (else the service of the same name)")
@click.option("--currency", type=click.Choice(["EUR", "BGN", "USD"]), default="EUR",
              help="the currency of Ubilling's amounts (Cash, payments)")
def ubilling(mysql_url, dealer, dry_run, username, tariffs, currency):
    """Import a Ubilling/Stargazer database: users as clients and subscriptions, Cash as the opening balance,
    the payments log as the payment history. Each user its own transaction; prints the report."""
    chosen_tariffs = {}
    for pair in tariffs:
        old, separator, new = pair.partition("=")
        if not separator or not old.strip() or not new.strip():
            raise click.BadParameter(f"„{pair}“: тарифа=услуга", param_hint="--tariff")
        chosen_tariffs[old.strip()] = new.strip()
    with unit_of_work():
        operator, chosen = _operator_and_dealer(username, dealer)
        with acting_as(operator):
            try:
                report = import_ubilling(operator, mysql_url, dealer=chosen, dry_run=dry_run, tariffs=chosen_tariffs,
                                         currency=currency)
            except FieldErrors as refusal:
                raise click.ClickException(str(refusal)) from None
    click.echo(("Проба (нищо не е записано)" if dry_run else "Внос") + " от Ubilling")
    if report["missing_tables"]:
        click.echo("Липсващи таблици (пропуснати): " + ", ".join(report["missing_tables"]))
    click.echo("Тарифи → услуги:")
    for tariff in report["tariffs"]:
        service = (f"{tariff['service']} ({tariff['service_fee']})" if tariff["service"]
                   else "НЯМА УСЛУГА — потребителите ѝ се отказват")
        click.echo(f"  {tariff['tariff'] or '—'} (такса {tariff['fee'] or '—'}, потребители {tariff['users']}) → "
                   f"{service}")
    for network in report["uncovered_networks"]:
        click.echo(f"Мрежа от Ubilling без мрежа в модула „Мрежи“ (адресите ѝ се отказват): {network}")
    for kind, title in UBILLING_TITLES.items():
        _echo_rows(report["reports"][kind], title)
