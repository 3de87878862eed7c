"""The client's address, believing X-Forwarded-For only from configured proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from flask import current_app, request


def client_address() -> str:
    remote = request.remote_addr or "unknown"
    trusted = current_app.config.get("TRUSTED_PROXIES") or ()
    if not trusted or not _is_trusted(remote, trusted):
        return remote
    # Walk the chain from the nearest hop back; the first hop we do not trust is the client.
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return hop[:64]
    return hops[0][:64] if hops else remote


def _is_trusted(
    address: str, networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)
