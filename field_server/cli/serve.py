"""field-server serve commands."""

import click


@click.command("serve")
def serve() -> None:
    """(to be written)"""
