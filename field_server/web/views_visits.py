"""One visit (docs/web.md): its evidence, its household's other visits, its versions, the
review of this one visit and the supervisor's correction.

The evidence is what a tablet sent, without photos: the counts, the position and its
accuracy, the distance from the household's position, the flags, the device, the canvasser
and when the server received it. The correction form sends ``base_version`` and the fields
the person changed to the same operation as ``PATCH /api/v1/visits/{id}``
(services/visits.py ``correct_visit``): the same rules refuse the same values, shown beside
their fields, and a visit that moved on since the page was opened is a version conflict,
said plainly, with the person's entries kept.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _

from domain.records import COUNT_FIELDS, GPS_FAR_METRES, OUTCOMES, SyncError
from domain.review import MAX_COMMENT_LENGTH
from domain.rules import distance_m
from domain.validation import MAX_NOTES_LENGTH

from ..auth.scope import current_settings
from ..clock import utcnow
from ..errors import ApiError, from_domain_error, render_message
from ..messages import translate_errors
from ..services import households, units, visits
from ..services.context import Caller
from . import bp
from .formats import local
from .session import page, page_language

EDITABLE = ("outcome", *COUNT_FIELDS, "notes", "come_back_at")
MAX_COUNT_DIGITS = 6
# What a finished action says on the page it redirects to (POST/redirect/GET).
DONE = ("corrected", "unchanged", "approve", "reject")


def outcome_labels() -> dict[str, str]:
    return {
        "installed": _("Installed"),
        "partial": _("Partly installed"),
        "already_installed": _("Already installed"),
        "refused": _("Refused"),
        "not_home": _("Not home"),
        "come_back": _("Come back later"),
        "no_smartphone": _("No smartphone"),
        "vacant": _("Vacant"),
        "language_barrier": _("Language barrier"),
    }


def count_labels() -> dict[str, str]:
    return {
        "adults": _("Adults"),
        "smartphones": _("Smartphones"),
        "installed_before": _("Installed before the visit"),
        "installed_during": _("Installed during the visit"),
        "priority_subjects": _("Priority people"),
        "priority_installed": _("Priority people with the app"),
    }


def flag_labels() -> dict[str, str]:
    return {
        "gps_far_from_household": _("Far from the household"),
        "too_fast": _("Too fast after the previous visit"),
        "clock_suspect": _("Tablet clock suspect"),
        "installed_decreased": _("Installs decreased"),
        "outcome_mismatch": _("Outcome does not match the counts"),
    }


def review_labels() -> dict[str, str]:
    return {
        "pending": _("Pending"),
        "approved": _("Approved"),
        "rejected": _("Rejected"),
        "flagged": _("Flagged"),
    }


def role_labels() -> dict[str, str]:
    return {
        "canvasser": _("Canvasser"),
        "supervisor": _("Supervisor"),
        "district": _("District officer"),
        "admin": _("Administrator"),
    }


def field_labels() -> dict[str, str]:
    return {
        "outcome": _("Outcome"),
        **count_labels(),
        "notes": _("Notes"),
        "come_back_at": _("Come back at"),
    }


def _local_input(value: datetime | None) -> str:
    """A time as a ``datetime-local`` input shows it, campaign-local, to the minute."""
    return local(value).strftime("%Y-%m-%dT%H:%M") if value is not None else ""


def _text(value: int | None) -> str:
    return "" if value is None else str(value)


def form_values(visit: visits.VisitRecord) -> dict[str, str]:
    """The visit's editable fields as the form shows them."""
    values = {name: _text(getattr(visit, name)) for name in COUNT_FIELDS}
    values["outcome"] = visit.outcome
    values["notes"] = visit.notes or ""
    values["come_back_at"] = _local_input(visit.come_back_at)
    return values


def _parse_field(name: str, text: str, timezone: str) -> tuple[Any, str | None]:
    """(the value the operation takes, None) or (None, what is wrong with the text)."""
    if name in COUNT_FIELDS:
        if not text:
            return None, None
        if not (text.isascii() and text.isdigit()) or len(text) > MAX_COUNT_DIGITS:
            return None, _("A whole number, 0 or more.")
        return int(text), None
    if name == "outcome":
        if text not in OUTCOMES:
            return None, _("Choose one of the listed values.")
        return text, None
    if name == "notes":
        return text or None, None
    # come_back_at: a campaign-local time from a datetime-local input.
    if not text:
        return None, None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None, _("A date and time such as 2020-08-16 09:00.")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment.isoformat(), None


def _previous_text(name: str, value: Any) -> str:
    """A revision's stored value before a change (JSON: times as RFC 3339 text) as the
    form shows it."""
    if value is None:
        return ""
    if name == "come_back_at" and isinstance(value, str):
        return _local_input(datetime.fromisoformat(value.replace("Z", "+00:00")))
    return str(value)


def values_at(detail: visits.VisitDetail, version: int) -> dict[str, str]:
    """The form's values as the page showed them at ``version``: the visit now, with the
    changes made after that version undone from its history (the visit now when the
    version is not one of its own)."""
    values = form_values(detail)
    if not 1 <= version <= detail.version:
        return values
    for rev in sorted(detail.history, key=lambda r: r.version, reverse=True):
        if rev.version <= version:
            break
        for name, before in rev.previous.items():
            if name in values:
                values[name] = _previous_text(name, before)
    return values


def changed_fields(
    form: dict[str, str], shown: dict[str, str], timezone: str
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The fields the person changed from what the page ``shown`` them, as the operation
    takes them, and an error per field that could not be read. A field left as it was
    shown is not sent, so a correction names only what the person meant to change."""
    data: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name in EDITABLE:
        if form[name] == shown[name]:
            continue
        value, problem = _parse_field(name, form[name], timezone)
        if problem:
            errors[name] = [problem]
        else:
            data[name] = value
    return data, errors


def _distance(visit: visits.VisitRecord, home: households.HouseholdDetail | None) -> float | None:
    if home is None or home.lat is None or home.lon is None:
        return None
    if visit.lat is None or visit.lon is None:
        return None
    return distance_m(home.lat, home.lon, visit.lat, visit.lon)


def _household(caller: Caller, household_id: str) -> households.HouseholdDetail | None:
    try:
        return households.household_detail(caller, household_id)
    except ApiError as missing:  # a household outside the caller's units: the visit alone
        if missing.code != "not_found":
            raise
        return None


def _place(caller: Caller, ref: str | None) -> str | None:
    """The visit's group (or ward) by its name; its ``scheme:code`` when out of reach."""
    if ref is None:
        return None
    try:
        return units.get_unit(caller, ref).name
    except ApiError as missing:
        if missing.code != "not_found":
            raise
        return ref


def _page(
    caller: Caller,
    visit_id: str,
    *,
    form: dict[str, str] | None = None,
    base_version: int | None = None,
    errors: dict[str, Any] | None = None,
    alert: str | None = None,
    notice: str | None = None,
) -> str:
    detail = visits.visit_detail(caller, visit_id)
    home = _household(caller, detail.household_id)
    labels = field_labels()
    errors = errors or {}
    return render_template(
        "visit.html",
        visit=detail,
        place=_place(caller, detail.group or detail.ward),
        home=home,
        distance=_distance(detail, home),
        far_metres=GPS_FAR_METRES,
        form=form or form_values(detail),
        base_version=base_version or detail.version,
        errors={k: v for k, v in errors.items() if k in labels},
        other_errors=[
            f"{k}: {m}" for k, v in errors.items() if k not in labels for m in _messages(v)
        ],
        alert=alert,
        notice=notice,
        may_edit=caller.role in ("admin", "supervisor"),
        outcomes=outcome_labels(),
        counts=count_labels(),
        flags=flag_labels(),
        reviews=review_labels(),
        roles=role_labels(),
        labels=labels,
        count_fields=COUNT_FIELDS,
        max_comment=MAX_COMMENT_LENGTH,
        max_notes=MAX_NOTES_LENGTH,
    )


def _messages(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [m for v in value.values() for m in _messages(v)]
    if isinstance(value, list | tuple):
        return [m for v in value for m in _messages(v)]
    return [str(value)]


def _notice(done: str | None, version: int) -> str | None:
    if done == "corrected":
        return _("The correction is saved: the visit is now at version %(n)s.", n=version)
    if done == "unchanged":
        return _("Nothing was changed.")
    if done == "approve":
        return _("The visit is approved.")
    if done == "reject":
        return _("The visit is rejected.")
    return None


@bp.get("/visits/<visit_id>")
@page("admin", "district", "supervisor")
def visit(caller: Caller, visit_id: str) -> Any:
    done = request.args.get("done")
    version = visits.visit_detail(caller, visit_id).version if done in DONE else 0
    return _page(caller, visit_id, notice=_notice(done, version))


def _refusal(exc: ApiError | SyncError) -> ApiError:
    return exc if isinstance(exc, ApiError) else from_domain_error(exc)


@bp.post("/visits/<visit_id>")
@page("admin", "supervisor")
def visit_correct(caller: Caller, visit_id: str) -> Any:
    current = visits.visit_detail(caller, visit_id)  # 404 before reading anything else
    timezone = current_settings().timezone
    form = {name: request.form.get(name, "").strip() for name in EDITABLE}
    form["notes"] = request.form.get("notes", "")[: MAX_NOTES_LENGTH + 1].strip()
    raw_base = request.form.get("base_version", "")
    base = int(raw_base) if raw_base.isascii() and raw_base.isdigit() and len(raw_base) < 10 else 0
    data, errors = changed_fields(form, values_at(current, base), timezone)
    if errors:
        return _page(caller, visit_id, form=form, base_version=base, errors=errors)
    try:
        visits.correct_visit(
            caller, visit_id, base_version=base, data=data, now=utcnow(), timezone=timezone
        )
    except (ApiError, SyncError) as exc:
        refused = _refusal(exc)
        language = page_language()
        if refused.code == "version_conflict":
            message = render_message(refused.code, {"base_version": base}, language)
            explain = _(
                "Someone changed this visit while you were editing it. The page shows its "
                "values now; your entries are kept in the form: check them and save again."
            )
            # The visit as it is now, with only the person's own changes on top: saving
            # again applies those, and nothing of the other person's change is undone.
            now = visits.visit_detail(caller, visit_id)
            kept = {**form_values(now), **{name: form[name] for name in data}}
            return _page(
                caller, visit_id, form=kept, base_version=now.version, alert=f"{message} {explain}"
            )
        if refused.code == "validation_failed":
            return _page(
                caller,
                visit_id,
                form=form,
                base_version=base,
                errors=translate_errors(refused.errors, language),
                alert=_("The correction was not saved: check the fields marked below."),
            )
        raise
    done = "corrected" if data else "unchanged"
    return redirect(url_for("web.visit", visit_id=visit_id, done=done))


@bp.post("/visits/<visit_id>/review")
@page("admin", "supervisor")
def visit_review(caller: Caller, visit_id: str) -> Any:
    action = request.form.get("action", "")
    comment = request.form.get("comment", "").strip()[:MAX_COMMENT_LENGTH] or None
    if action not in ("approve", "reject"):
        return redirect(url_for("web.visit", visit_id=visit_id))
    try:
        visits.review_visit(
            caller,
            visit_id,
            action=action,
            comment=comment,
            now=utcnow(),
            timezone=current_settings().timezone,
        )
    except (ApiError, SyncError) as exc:
        refused = _refusal(exc)
        if refused.code != "visit_voided":
            raise
        return _page(
            caller, visit_id, alert=render_message(refused.code, refused.details, page_language())
        )
    return redirect(url_for("web.visit", visit_id=visit_id, done=action))
