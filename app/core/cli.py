"""Registers every module's `flask --app app <group>` commands."""


def register_cli(app):
    from app.demo.cli import demo_cli
    from app.protection.cli import protection_cli
    from app.security.cli import security_cli

    app.cli.add_command(security_cli)
    app.cli.add_command(protection_cli)
    app.cli.add_command(demo_cli)
