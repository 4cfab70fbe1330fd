import click
from flask.cli import AppGroup

from app.core.transaction import in_unit_of_work
from app.protection import services

commands = AppGroup("protection", help="The panel's list of allowed addresses.")


@commands.command("clear")
@in_unit_of_work
def clear():
    """Empty the list: the panel becomes reachable from every address."""
    removed = services.clear()
    click.echo(f"protection list cleared ({removed} entries removed)")
