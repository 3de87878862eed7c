"""field-server units commands."""

import click


@click.group("units")
def units() -> None:
    """(to be written)"""
