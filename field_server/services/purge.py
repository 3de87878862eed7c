"""`field-server purge --older-than DAYS`: remove the personal data of households whose last
activity is older than DAYS, and of what is kept beside them (docs/operations.md
"Personal data"), leaving every figure as it was.

One write, audited with one row (`personal_data.purge`) holding the counts. The rows it
changes get a new change position, so tablets that still sync pull the purged records and
drop the personal data they hold. Versions do not move: a purge is not an edit, and a tablet
editing such a household later is not told of a conflict with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ..errors import ApiError
from ..store import purge as purge_store
from ..store.engine import begin_read_snapshot
from .context import Caller
from .writes import Write, run_write

MAX_DAYS = 36_500  # a hundred years: any more is a typing mistake (and overflows a date)

Progress = purge_store.Progress


@dataclass(frozen=True)
class PurgeResult:
    """What was purged (or, in a dry run, would be) of the records inactive since
    ``cutoff``; ``counts`` by kind of row (store/purge.py PurgeCounts)."""

    cutoff: datetime
    dry_run: bool
    counts: dict[str, int]


def purge_personal_data(
    caller: Caller,
    *,
    older_than_days: int,
    now: datetime,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> PurgeResult:
    """Purge (or count, with ``dry_run``) the personal data of records whose last activity
    is more than ``older_than_days`` days before ``now``."""
    if (
        isinstance(older_than_days, bool)
        or not isinstance(older_than_days, int)
        or not 1 <= older_than_days <= MAX_DAYS
    ):
        raise ApiError(
            "validation_failed",
            errors={"older_than": [f"A whole number of days from 1 to {MAX_DAYS}."]},
        )
    cutoff = now - timedelta(days=older_than_days)

    def purge(apply: bool) -> purge_store.PurgeCounts:
        counts = purge_store.purge_households(cutoff, apply, progress)
        counts.rejections = purge_store.purge_rejections(cutoff, apply)
        counts.audit_rows = purge_store.purge_audit(cutoff, apply)
        return counts

    if dry_run:
        begin_read_snapshot()
        return PurgeResult(cutoff, True, purge(apply=False).as_dict())

    def work(write: Write) -> dict[str, int]:
        counts = purge(apply=True).as_dict()
        purge_store.stamp_pending()
        write.audit(
            "personal_data.purge",
            None,
            {"older_than_days": older_than_days, "cutoff": cutoff.isoformat(), **counts},
        )
        return counts

    return PurgeResult(cutoff, False, run_write(caller, now, work))
