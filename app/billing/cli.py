"""`flask --app app billing …`: the daily billing cycle."""

import click
from flask.cli import AppGroup
from flask_babel import gettext
from sqlalchemy import func, select

from app.billing.cycle import start_run
from app.billing.models import BillingRun, CycleEffect
from app.core.formatting import format_date, local_today
from app.core.transaction import unit_of_work
from app.core.validators import InvalidValue, parse_day
from app.extensions import db

commands = AppGroup("billing", help="Payments and the daily billing cycle.")


@commands.command("run-cycle")
@click.option("--date", "day", default=None,
              help="the day to run, DD.MM.YYYY or YYYY-MM-DD (default: today in Europe/Sofia)")
@click.option("--allow-future", is_flag=True,
              help="allow a day after today (tests and benchmarks only; the LOG says so)")
def run_cycle(day, allow_future):
    """Run the billing cycle for one day: advances, extra traffic, warnings, suspensions.

    Running a day again does nothing twice. With REDIS_URL the chunks go to
    the workers (`python worker.py`); without it they run here.
    """
    try:
        day = parse_day(day, default=None) or local_today()  # the panel's one reading of a typed day
        with unit_of_work():
            run = start_run(day, gettext("command line"), allow_future=allow_future)
            run_id = run.id
    except InvalidValue as error:
        raise click.BadParameter(str(error.message), param_hint="--date") from None
    with unit_of_work():
        run = db.session.get(BillingRun, run_id)
        counts = dict(db.session.execute(
            select(CycleEffect.kind, func.count()).where(CycleEffect.run_id == run_id).group_by(CycleEffect.kind)).all())
        click.echo(f"run {run.id} for {format_date(run.day)}: {run.status}, {run.done}/{run.total} subscriptions, "
                   f"{run.failures} failed chunks; effects: "
                   + (", ".join(f"{kind} {count}" for kind, count in sorted(counts.items())) or "none"))
