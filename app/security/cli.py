import os

import click
from flask.cli import AppGroup

from app.core.transaction import in_unit_of_work
from app.security import services

commands = AppGroup("security", help="Operators, roles and permissions.")


@commands.command("init-roles")
@in_unit_of_work
def init_roles():
    """Create the built-in roles and synchronise permissions (after `db upgrade`)."""
    admin = services.init_roles()
    click.echo(f"roles ready; {admin.name}: {len(admin.permissions)} permissions")


@commands.command("create-admin")
@click.option("--username", default="admin", show_default=True)
@click.option(
    "--password",
    default=lambda: os.environ.get("BILLING_ADMIN_PASSWORD"),
    help="defaults to BILLING_ADMIN_PASSWORD, else a random one is printed",
)
@in_unit_of_work
def create_admin(username, password):
    """Create the first administrator unless it exists."""
    operator, password = services.ensure_operator(
        username, password, first_name="Администратор", last_name="Системен"
    )
    if password is None:
        click.echo(f"operator {operator.username} already exists; password unchanged")
    else:
        click.echo(f"login: {operator.username} / {password}")
