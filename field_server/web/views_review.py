"""The review queue (docs/web.md): filters, flagged and priority visits first, and approve
or reject many at once with a comment. The queue and the reviews are the API's operations
(services/visits.py), so the order, the scope and the locks are the same.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _

from domain.records import FLAGS, OUTCOMES, REVIEW_STATES
from domain.review import MAX_BULK_REVIEW, MAX_COMMENT_LENGTH

from ..auth.scope import current_settings
from ..clock import utcnow
from ..errors import ApiError
from ..paging import decode_cursor, encode_cursor
from ..services import visits
from ..services.context import Caller, Page
from . import bp
from .formats import campaign_day
from .session import page
from .views_visits import flag_labels, outcome_labels, review_labels

PAGE_SIZE = 50
FILTERS = ("ward", "group", "canvasser", "outcome", "flag", "review_status", "from", "to")
CHOICES = {"outcome": OUTCOMES, "flag": FLAGS, "review_status": REVIEW_STATES}


def _filters() -> tuple[dict[str, str], dict[str, str]]:
    """The queue's filters from the query string, and an error per filter it could not read
    (shown beside the field; the filter is then left out)."""
    chosen: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name in FILTERS:
        value = request.args.get(name, "").strip()[:100]
        if not value:
            continue
        if name in CHOICES and value not in CHOICES[name]:
            errors[name] = _("Choose one of the listed values.")
        elif name in ("from", "to") and campaign_day(value) is None:
            errors[name] = _("A date such as 2020-08-15.")
        else:
            chosen[name] = value
    return chosen, errors


@bp.get("/review")
@page("admin", "district", "supervisor")
def review(caller: Caller) -> Any:
    chosen, errors = _filters()
    try:
        found = visits.queue_page(
            caller,
            ward=chosen.get("ward"),
            group=chosen.get("group"),
            canvasser=chosen.get("canvasser"),
            outcome=chosen.get("outcome"),
            review_status=chosen.get("review_status"),
            flag=chosen.get("flag"),
            since=date.fromisoformat(chosen["from"]) if "from" in chosen else None,
            until=date.fromisoformat(chosen["to"]) if "to" in chosen else None,
            after=decode_cursor("web-visits", request.args.get("cursor")),
            limit=PAGE_SIZE,
            timezone=current_settings().timezone,
        )
    except ApiError as refused:
        if refused.code not in ("not_found", "validation_failed"):
            raise
        for name in refused.errors or {"ward": None}:
            errors[name] = _("No such unit in your area.")
        found = Page([], None, False)
    after = encode_cursor("web-visits", found.last) if found.has_more else None
    return render_template(
        "review.html",
        visits=found.items,
        chosen=chosen,
        errors=errors,
        choices=CHOICES,
        labels={
            "outcome": outcome_labels(),
            "flag": flag_labels(),
            "review_status": review_labels(),
        },
        next_cursor=after,
        may_review=caller.role in ("admin", "supervisor"),
        max_comment=MAX_COMMENT_LENGTH,
    )


@bp.post("/review")
@page("admin", "supervisor")
def review_post(caller: Caller) -> Any:
    ids = request.form.getlist("visit")[:MAX_BULK_REVIEW]
    action = request.form.get("action", "")
    comment = request.form.get("comment", "").strip()[:MAX_COMMENT_LENGTH] or None
    back = request.form.get("back", "")
    target = back if back.startswith("/review") else url_for("web.review")
    if not ids or action not in ("approve", "reject"):
        return redirect(target)
    visits.review_visits(
        caller,
        ids,
        action=action,
        comment=comment,
        now=utcnow(),
        timezone=current_settings().timezone,
    )
    return redirect(target)
