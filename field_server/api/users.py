"""Users (API §2): list, create, change, reset a password."""

from . import bp  # noqa: F401
