"""field-server demo commands."""

import click


@click.command("demo")
def demo() -> None:
    """(to be written)"""
