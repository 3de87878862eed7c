"""field-server users commands."""

import click


@click.group("users")
def users() -> None:
    """(to be written)"""
