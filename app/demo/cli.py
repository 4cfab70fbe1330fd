import os

import click
from flask.cli import AppGroup

from app.demo import services
from app.demo.scale import seed_clients

commands = AppGroup("demo", help="Demo data.")


@commands.command("seed")
@click.option("--clients", "client_count", type=int, default=0,
              help="also create this many demo clients with subscriptions (bulk, for benchmarks)")
def seed(client_count):
    """Fill demo dealers, operators, services, neighbourhoods, networks and a contract type (safe to run again)."""
    password = os.environ.get("BILLING_DEMO_PASSWORD", "demo12345")
    made = services.seed_everything(password)
    operators = made["operators"]
    click.echo(
        f"demo: {made['dealers']} dealers, {made['catalog']} services, {made['blocks']} blocks, "
        f"{made['networks']} networks, {made['clients']} clients, operators {', '.join(operators) or 'already present'}"
    )
    if operators:
        click.echo(f"demo operators' password: {password}")
    click.echo(f"RADIUS: NAS 127.0.0.1 with the secret {services.DEMO_NAS_SECRET}; demo logins u<client number> "
               f"with the password {services.DEMO_RADIUS_PASSWORD}")
    click.echo(f"Portal /my/: {services.DEMO_PORTAL_CLIENT} logs in with the client number (or u<client number>) "
               f"and the password {services.DEMO_PORTAL_PASSWORD}")
    if client_count:
        clients, subscriptions = seed_clients(client_count)
        click.echo(f"demo: {clients} clients with {subscriptions} subscriptions")
