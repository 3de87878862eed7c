"""Conflicts, possible duplicates and rejected records (docs/web.md): what the sync rules leave
to a ward supervisor, settled from a page with the API's own operations
(services/conflicts.py, services/merges.py, services/rejections.py; docs/api-conflicts.md).

- ``/conflicts``: the open conflicts of the caller's units, the base, server and tablet
  values side by side per field; one choice per field, then resolve (or dismiss).
- ``/duplicates``: a ward's possible duplicate households side by side with their visits;
  merge one into the other, or dismiss the pair's possible_duplicate conflict.
- ``/rejections``: what tablets sent that was refused, with the reason in the page's
  language; re-apply it as sent or with its data corrected in a form.

Admins and supervisors act; district officers read. Every action is a form post that
redirects back to its page (POST/redirect/GET), or shows the page again with the refusal.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from domain.conflicts import VOID
from domain.records import COUNT_FIELDS, OUTCOMES

from ..auth.scope import current_settings
from ..clock import utcnow
from ..errors import ApiError
from ..messages import translate, translate_errors, translate_result
from ..paging import decode_cursor, encode_cursor
from ..services import conflicts, households, merges, rejections, units
from ..services.context import Caller, Page
from . import bp
from .formats import moment
from .session import page, page_language
from .views_visits import outcome_labels

PAGE_SIZE = 50
DUPLICATES_PAGE_SIZE = 20
ACTORS = ("admin", "supervisor")
READERS = ("admin", "district", "supervisor")
SIDES = ("server", "client", "base")
FLOAT_FIELDS = ("lat", "lon", "accuracy_m")
TIMES = ("visited_at", "come_back_at", "received_at")
UNIT_FIELDS = ("ward", "group")
AREA_PAGES = ("/conflicts", "/duplicates", "/rejections")
KINDS = ("field_conflict", "possible_duplicate", "visit_locked", "void_vs_edit")


def field_label(name: str) -> str:
    labels = {
        "ward": _("Ward"),
        "group": _("Residential group"),
        "address": _("Address"),
        "lat": _("Latitude"),
        "lon": _("Longitude"),
        "head_name": _("Head of household"),
        "phone": _("Phone"),
        "household_id": _("Household"),
        "visited_at": _("Visited"),
        "outcome": _("Outcome"),
        "adults": _("Adults"),
        "smartphones": _("Smartphones"),
        "installed_before": _("Installed before the visit"),
        "installed_during": _("Installed during the visit"),
        "priority_subjects": _("Priority people"),
        "priority_installed": _("Priority people with the app"),
        "accuracy_m": _("GPS accuracy (m)"),
        "notes": _("Notes"),
        "come_back_at": _("Come back at"),
        "voided": _("Voided"),
        "reason": _("Reason"),
    }
    return labels.get(name, name)


def kind_label(kind: str) -> str:
    return {
        "field_conflict": _("Same field changed twice"),
        "possible_duplicate": _("Possible duplicate household"),
        "visit_locked": _("Edit of a reviewed visit"),
        "void_vs_edit": _("Void and edit of one visit"),
    }.get(kind, kind)


def reason_label(reason: str) -> str:
    return {
        "same_address": _("same address"),
        "similar_address": _("similar address"),
        "near": _("close together"),
        "same_head_name": _("same head of household"),
    }.get(reason, reason)


def type_label(kind: str) -> str:
    return {
        "household.upsert": _("Household"),
        "visit.create": _("New visit"),
        "visit.update": _("Visit edit"),
        "visit.void": _("Visit voided"),
    }.get(kind, kind or "–")


def shown_value(value: Any, name: str = "", unit_names: dict[str, str] | None = None) -> str:
    """A value as a person reads it: empty, yes/no, voided, an outcome in words, a time in
    the campaign's zone, a unit by its name (``unit_names``: ``scheme:code`` -> name), or
    the value itself."""
    if value is None:
        return "–"
    if value is True:
        return _("Yes")
    if value is False:
        return _("No")
    if value == VOID:
        return _("Voided")
    if isinstance(value, str):
        if name == "outcome":
            return outcome_labels().get(value, value)
        if name in TIMES:
            try:
                return moment(value)
            except ValueError:
                return value
        if name in UNIT_FIELDS and unit_names:
            return unit_names.get(value, value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def visit_link(visit_id: str) -> str | None:
    """The visit's page, when the site has one."""
    if "web.visit" not in current_app.view_functions:
        return None
    return url_for("web.visit", visit_id=visit_id)


@bp.context_processor
def code_words() -> dict[str, Any]:
    """The words for the API's codes, in every page of the blueprint (the visit page's
    versions name fields and values too)."""
    return {
        "visit_link": visit_link,
        "field_label": field_label,
        "kind_label": kind_label,
        "reason_label": reason_label,
        "type_label": type_label,
        "shown_value": shown_value,
    }


def unit_names(units_shown: list[units.UnitInfo]) -> dict[str, str]:
    return {f"{u.scheme}:{u.code}": u.name for u in units_shown}


def _units_at(caller: Caller, level: str, parent: str | None = None) -> list[units.UnitInfo]:
    """The caller's units of a level (the first thousand: enough for a ward's or a
    district's pages; a unit beyond them is shown by its code)."""
    found = units.list_units(
        caller, scheme=None, parent=parent, level=level, after=None, limit=1000
    ).items
    return [u for u in found if u.level == level]


def _wards(caller: Caller) -> list[units.UnitInfo]:
    return _units_at(caller, "ward")


def _ward_filter(caller: Caller) -> tuple[str | None, str | None]:
    """The ``ward`` filter of the query string and an error to show beside it."""
    ward = request.args.get("ward", "").strip()[:100] or None
    if ward is None:
        return None, None
    if ward not in {f"{u.scheme}:{u.code}" for u in _wards(caller)}:
        return None, _("No such unit in your area.")
    return ward, None


def _back(default: str) -> str:
    """Where a form goes back to: one of this area's pages, never another site."""
    back = request.form.get("back", "")
    parts = urlsplit(back)
    if not parts.scheme and not parts.netloc and parts.path in AREA_PAGES:
        return back
    return url_for(default)


# --- conflicts -------------------------------------------------------------------------------


@bp.get("/conflicts")
@page(*READERS)
def conflict_list(caller: Caller) -> Any:
    ward, ward_error = _ward_filter(caller)
    kind = request.args.get("kind", "")
    if kind not in KINDS:
        kind = ""
    found = conflicts.list_conflicts(
        caller,
        ward=ward,
        status="open",
        kind=kind or None,
        after=decode_cursor("web-conflicts", request.args.get("cursor")),
        limit=PAGE_SIZE,
    )
    after = encode_cursor("web-conflicts", found.last) if found.has_more else None
    wards = _wards(caller)
    return render_template(
        "conflicts.html",
        items=found.items,
        wards=wards,
        unit_names=unit_names(wards + _units_at(caller, "group")),
        ward=ward,
        ward_error=ward_error,
        kind=kind,
        kinds=KINDS,
        next_cursor=after,
        may_act=caller.role in ACTORS,
        sides=SIDES,
    )


def _find_open(caller: Caller, conflict_id: str) -> conflicts.ConflictInfo | None:
    """The open conflict among the caller's (none when closed, unknown or not theirs)."""
    try:
        found = conflicts.get_conflict(caller, conflict_id)
    except ApiError as refused:
        if refused.code != "not_found":
            raise
        return None
    return found if found.status == "open" else None


@bp.post("/conflicts/<conflict_id>/resolve")
@page(*ACTORS)
def conflict_resolve(caller: Caller, conflict_id: str) -> Any:
    back = _back("web.conflict_list")
    conflict = _find_open(caller, conflict_id)
    if conflict is None:
        flash(_("This conflict is not open any more."), "error")
        return redirect(back)
    action = request.form.get("action", "")
    values: dict[str, Any] | None = None
    if action == "choose" and conflict.kind == "field_conflict":
        chosen = {name: request.form.get(f"pick-{name}", "server") for name in conflict.fields}
        if any(side not in SIDES for side in chosen.values()):
            flash(_("Choose one of the listed values."), "error")
            return redirect(back)
        if all(side == "server" for side in chosen.values()):
            resolution = "keep_server"
        elif all(side == "client" for side in chosen.values()):
            resolution = "take_client"
        else:
            resolution = "set"
            values = {name: conflict.fields[name].get(side) for name, side in chosen.items()}
    elif action in ("keep_server", "take_client"):
        resolution = action
    else:
        flash(_("Choose one of the listed values."), "error")
        return redirect(back)
    if resolution == "take_client" and conflict.kind == "possible_duplicate":
        flash(_("Choose one of the listed values."), "error")
        return redirect(back)
    try:
        conflicts.resolve_conflict(
            caller,
            conflict_id,
            resolution=resolution,
            values=values,
            now=utcnow(),
            timezone=current_settings().timezone,
        )
    except ApiError as refused:
        if refused.code not in ("validation_failed", "conflict_closed"):
            raise
        flash(_refusal_text(refused), "error")
        return redirect(back)
    flash(_("Conflict resolved."), "done")
    return redirect(back)


@bp.post("/conflicts/<conflict_id>/dismiss")
@page(*ACTORS)
def conflict_dismiss(caller: Caller, conflict_id: str) -> Any:
    back = _back("web.conflict_list")
    try:
        conflicts.dismiss_conflict(caller, conflict_id, now=utcnow())
    except ApiError as refused:
        if refused.code != "conflict_closed":
            raise
        flash(_("This conflict is not open any more."), "error")
        return redirect(back)
    flash(_("Conflict dismissed."), "done")
    return redirect(back)


def _refusal_text(refused: ApiError) -> str:
    """A refusal's field errors (or its code's message) in the page's language."""
    if refused.code == "conflict_closed":
        return _("This conflict is not open any more.")
    errors = translate_errors(refused.errors, page_language())
    named = errors.get("values") if isinstance(errors.get("values"), dict) else errors
    parts = [f"{field_label(str(name))}: {_joined(found)}" for name, found in named.items()]
    return "; ".join(parts) or _("The values were refused.")


def _joined(messages: Any) -> str:
    if isinstance(messages, list | tuple):
        return " ".join(str(m) for m in messages)
    return str(messages)


# --- duplicates ------------------------------------------------------------------------------


@bp.get("/duplicates")
@page(*READERS)
def duplicate_list(caller: Caller) -> Any:
    wards = _wards(caller)
    ward, ward_error = _ward_filter(caller)
    if ward is None and ward_error is None and wards:
        ward = f"{wards[0].scheme}:{wards[0].code}"
    found = Page([], None, False)
    if ward is not None:
        found = merges.list_duplicates(
            caller,
            ward=ward,
            after=decode_cursor("web-duplicates", request.args.get("cursor")),
            limit=DUPLICATES_PAGE_SIZE,
        )
    pairs = [
        {
            "suggestion": item,
            "sides": [households.household_detail(caller, h.id) for h in item.households],
        }
        for item in found.items
    ]
    after = encode_cursor("web-duplicates", found.last) if found.has_more else None
    groups = _units_at(caller, "group", parent=ward) if pairs else []
    return render_template(
        "duplicates.html",
        unit_names=unit_names(wards + groups),
        pairs=pairs,
        wards=wards,
        ward=ward,
        ward_error=ward_error,
        next_cursor=after,
        may_act=caller.role in ACTORS,
    )


@bp.post("/duplicates/merge")
@page(*ACTORS)
def duplicate_merge(caller: Caller) -> Any:
    back = _back("web.duplicate_list")
    pair = [request.form.get("first", ""), request.form.get("second", "")]
    into = request.form.get("into", "")
    if into not in pair or not all(pair):
        flash(_("Choose the household to keep."), "error")
        return redirect(back)
    merged_away = pair[1] if into == pair[0] else pair[0]
    try:
        merges.merge_household(
            caller, merged_away, into=into, now=utcnow(), timezone=current_settings().timezone
        )
    except ApiError as refused:
        if refused.code != "validation_failed":
            raise
        flash(_("These households cannot be merged any more."), "error")
        return redirect(back)
    flash(_("Households merged."), "done")
    return redirect(back)


# --- rejections ------------------------------------------------------------------------------


@bp.get("/rejections")
@page(*READERS)
def rejection_list(caller: Caller) -> Any:
    return _rejections_page(caller, failed={})


def _rejections_page(caller: Caller, failed: dict[str, Any]) -> Any:
    ward, ward_error = _ward_filter(caller)
    found = rejections.list_rejections(
        caller,
        ward=ward,
        after=decode_cursor("web-rejections", request.args.get("cursor")),
        limit=PAGE_SIZE,
        now=utcnow(),
    )
    language = page_language()
    items = [translate_result(item, language) for item in found.items]
    after = encode_cursor("web-rejections", found.last) if found.has_more else None
    wards = _wards(caller)
    return render_template(
        "rejections.html",
        items=[{"rejection": item, "fields": _form_fields(item)} for item in items],
        wards=wards,
        unit_names=unit_names(wards + _units_at(caller, "group")),
        outcome_names=outcome_labels(),
        ward=ward,
        ward_error=ward_error,
        next_cursor=after,
        may_act=caller.role in ACTORS,
        failed=failed,
        back=request.full_path.rstrip("?")
        if request.method == "GET"
        else url_for("web.rejection_list"),
        outcomes=OUTCOMES,
    )


def _form_fields(item: rejections.Rejection) -> list[dict[str, Any]]:
    """The correction form's fields: each key of the stored data (and each key an error
    names), its value as text, and its error in the page's language."""
    data = (item.payload or {}).get("data")
    data = data if isinstance(data, dict) else {}
    names = list(data) + [name for name in item.errors if name not in data]
    return [
        {
            "name": name,
            "value": data.get(name),
            "text": _as_text(data.get(name)),
            "json": isinstance(data.get(name), bool | dict | list),
            "error": _joined(item.errors.get(name, "")),
        }
        for name in names
        if isinstance(name, str)
    ]


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool | dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _from_text(name: str, text: str, *, as_json: bool) -> Any:
    """A form field back to the mutation's type: counts as whole numbers, positions as
    numbers, empty as null; text the rules cannot read is sent as typed, so that they
    refuse it with the field's own message."""
    text = text.strip()
    if text == "":
        return None
    try:
        if name in COUNT_FIELDS:
            return int(text)
        if name in FLOAT_FIELDS:
            return float(text)
        if as_json:
            return json.loads(text)
    except ValueError:
        return text
    return text


@bp.post("/rejections/<rejection_id>/apply")
@page(*ACTORS)
def rejection_apply(caller: Caller, rejection_id: str) -> Any:
    data: dict[str, Any] | None = None
    if request.form.get("action") == "corrected":
        names = [n for n in request.form.getlist("field") if n][:50]
        data = {
            name: _from_text(
                name,
                request.form.get(f"value-{name}", ""),
                as_json=request.form.get(f"json-{name}") == "1",
            )
            for name in names
        }
    try:
        rejections.apply_rejection(
            caller, rejection_id, data, now=utcnow(), settings=current_settings()
        )
    except ApiError as refused:
        if refused.code == "rejection_resolved":
            flash(_("This record was re-applied already."), "error")
            return redirect(_back("web.rejection_list"))
        if refused.code not in ("mutation_rejected", "not_found", "validation_failed"):
            raise
        return _rejections_page(caller, failed={rejection_id: _failure(refused, data)})
    flash(_("Record re-applied."), "done")
    return redirect(_back("web.rejection_list"))


def _failure(refused: ApiError, data: dict[str, Any] | None) -> dict[str, Any]:
    """What the page shows under a refused re-apply: why, each field's error, and the
    values as they were typed (kept in the form)."""
    language = page_language()
    if refused.code == "not_found":
        message = _("A record this names is not in your units.")
    elif refused.code == "validation_failed":
        message = _("The values were refused.")
    else:
        reason = refused.details.get("reason_message")
        message = translate(reason, language) if isinstance(reason, str) else ""
    errors = translate_errors(refused.errors, language)
    return {
        "message": message or _("The values were refused."),
        "errors": {str(k): _joined(v) for k, v in errors.items()},
        "values": {k: _as_text(v) for k, v in (data or {}).items()},
    }
