import os

import click
from flask.cli import AppGroup

from app.demo import services

demo_cli = AppGroup("demo", help="Demo data.")


@demo_cli.command("seed")
def seed():
    """Fill demo dealers, operators, services, neighbourhoods and networks (safe to run again)."""
    dealers = services.seed_dealers()
    password = os.environ.get("BILLING_DEMO_PASSWORD", "demo12345")
    operators = services.seed_operators(password)
    catalog = services.seed_catalog()
    blocks = services.seed_neighbourhoods()
    networks = services.seed_networks()
    click.echo(
        f"demo: {dealers} dealers, {catalog} services, {blocks} blocks, {networks} networks, "
        f"operators {', '.join(operators) or 'already present'}"
    )
    if operators:
        click.echo(f"demo operators' password: {password}")
