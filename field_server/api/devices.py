"""Devices (API §2, §5): revoke a lost tablet."""

from . import bp  # noqa: F401
