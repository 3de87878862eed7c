"""The reference tablet client for the sync protocol (docs/sync-protocol.md).

``LocalStore`` keeps the outbox and the local replica in one SQLite file, ``SyncClient``
pushes and pulls through an injected ``Transport`` (``HttpTransport`` over urllib for real
use), and ``cli`` is the ``field-sync`` command that acts as a tablet.
"""

from .client import (
    LoginRequired,
    LoginResult,
    MutationGapError,
    PullReport,
    PushReport,
    RefusedError,
    SyncClient,
    SyncClientError,
)
from .store import LocalStore, OutboxEntry
from .transport import HttpTransport, Response, Transport, TransportError

__all__ = [
    "HttpTransport",
    "LocalStore",
    "LoginRequired",
    "LoginResult",
    "MutationGapError",
    "OutboxEntry",
    "PullReport",
    "PushReport",
    "RefusedError",
    "Response",
    "SyncClient",
    "SyncClientError",
    "Transport",
    "TransportError",
]
