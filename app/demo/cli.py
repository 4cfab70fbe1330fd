import os

import click
from flask.cli import AppGroup

from app.demo import services

demo_cli = AppGroup("demo", help="Demo data.")


@demo_cli.command("seed")
def seed():
    """Fill demo dealers and operators (safe to run again)."""
    dealers = services.seed_dealers()
    password = os.environ.get("BILLING_DEMO_PASSWORD", "demo12345")
    operators = services.seed_operators(password)
    click.echo(f"demo: {dealers} dealers, operators {', '.join(operators) or 'already present'}")
    if operators:
        click.echo(f"demo operators' password: {password}")
