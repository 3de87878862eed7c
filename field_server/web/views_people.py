"""Devices and canvassers (docs/web.md): the tablets of the caller's canvassers, revoked
after a confirmation; the canvassers a supervisor manages, added, deactivated, given other
units, given a new password. Every action is the API's operation (services/devices.py,
services/users.py), so the scope rules and the audit are the same. A generated password is
shown once, on the page that answers the action, and never again.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError

from schemas.users import USERNAME

from ..auth.scope import current_settings
from ..clock import utcnow
from ..errors import ApiError
from ..paging import decode_cursor, encode_cursor
from ..services import devices, rejections, units, users
from ..services.context import Caller
from . import bp
from .session import page

PAGE_SIZE = 50
# Pending rejections are counted among the newest this many (a page of the API's list).
REJECTIONS_COUNTED = 1000
# A canvasser is looked up by reading the caller's list, this many at a time.
MAX_NAME = 200
MAX_FIELD = 1024


# ---------------------------------------------------------------------------- devices


@bp.get("/devices")
@page("admin", "district", "supervisor")
def devices_page(caller: Caller) -> Any:
    now = utcnow()
    found = devices.list_devices(
        caller,
        ward=None,
        after=decode_cursor("web-devices", request.args.get("cursor")),
        limit=PAGE_SIZE,
        now=now,
    )
    pending = rejections.list_rejections(
        caller, ward=None, after=None, limit=REJECTIONS_COUNTED, now=now
    )
    counts = Counter(r.device_id for r in pending.items)
    return render_template(
        "devices.html",
        devices=found.items,
        pending=counts,
        pending_partial=pending.has_more,
        counted=REJECTIONS_COUNTED,
        next_cursor=encode_cursor("web-devices", found.last) if found.has_more else None,
        may_revoke=caller.role in ("admin", "supervisor"),
        revoked=request.args.get("revoked", "")[:MAX_FIELD],
    )


@bp.get("/devices/<device_id>/revoke")
@page("admin", "supervisor")
def device_revoke_confirm(caller: Caller, device_id: str) -> Any:
    return render_template(
        "device_revoke.html", device=devices.get_device(caller, device_id, now=utcnow())
    )


@bp.post("/devices/<device_id>/revoke")
@page("admin", "supervisor")
def device_revoke(caller: Caller, device_id: str) -> Any:
    devices.revoke_device(caller, device_id, now=utcnow())
    return redirect(url_for("web.devices_page", revoked=device_id))


# ---------------------------------------------------------------------------- canvassers


def _unit_choices(caller: Caller) -> list[tuple[units.UnitInfo, list[units.UnitInfo]]]:
    """The wards a supervisor may give a canvasser, each with its residential groups; empty
    for an admin (who may give any unit, typed by its code)."""
    if caller.scope.everything:
        return []

    def at(level: str) -> list[units.UnitInfo]:
        found = units.list_units(
            caller, scheme=None, parent=None, level=level, after=None, limit=1000
        ).items
        return [u for u in found if u.level == level]

    groups = at("group")
    return [
        (ward, [g for g in groups if g.parent == f"{ward.scheme}:{ward.code}"])
        for ward in at("ward")
    ]


def _chosen_units() -> list[str]:
    """The units a form names: ticked boxes (``unit``) and typed codes (``units``)."""
    ticked = [v.strip() for v in request.form.getlist("unit") if v.strip()]
    typed = re.split(r"[\s,;]+", request.form.get("units", "")[:MAX_FIELD].strip())
    return list(dict.fromkeys([*ticked, *(v for v in typed if v)]))[:100]


def _unit_error(refused: ApiError) -> str:
    if refused.code == "not_found":
        return _("One of these units is outside your area.")
    problems = " ".join(str(p) for p in (refused.errors or {}).get("units", []))
    if "Unknown unit" in problems:
        return _("One of these units does not exist.")
    return _("Choose at least one ward or residential group.")


def _canvassers_page(caller: Caller, **extra: Any) -> Any:
    found = users.list_users(
        caller,
        role="canvasser",
        unit=None,
        after=decode_cursor("web-users", request.args.get("cursor")),
        limit=PAGE_SIZE,
        now=utcnow(),
        settings=current_settings(),
    )
    extra.setdefault("form", {})
    extra.setdefault("errors", {})
    return render_template(
        "canvassers.html",
        canvassers=found.items,
        next_cursor=encode_cursor("web-users", found.last) if found.has_more else None,
        choices=_unit_choices(caller),
        **extra,
    )


@bp.get("/canvassers")
@page("admin", "supervisor")
def canvassers(caller: Caller) -> Any:
    return _canvassers_page(caller)


@bp.post("/canvassers")
@page("admin", "supervisor")
def canvasser_add(caller: Caller) -> Any:
    username = request.form.get("username", "")[:MAX_FIELD].strip()
    full_name = request.form.get("full_name", "")[:MAX_FIELD].strip()
    chosen = _chosen_units()
    form = {"username": username, "full_name": full_name, "units": chosen}
    errors: dict[str, str] = {}
    try:
        USERNAME(username)
    except ValidationError:
        errors["username"] = _("3 to 64 characters: lowercase letters, digits, '.', '_' or '-'.")
    if len(full_name) > MAX_NAME:
        errors["full_name"] = _("At most 200 characters.")
    if not chosen:
        errors["units"] = _("Choose at least one ward or residential group.")
    if not errors:
        try:
            created = users.create_user(
                caller,
                username=username,
                role="canvasser",
                units=chosen,
                full_name=full_name or None,
                now=utcnow(),
                settings=current_settings(),
            )
        except users.UsernameTaken:
            errors["username"] = _("This username is already taken.")
        except ApiError as refused:
            if refused.code not in ("not_found", "validation_failed"):
                raise
            errors["units"] = _unit_error(refused)
        else:
            return render_template(
                "password.html",
                username=created.user.username,
                password=created.password,
                created=True,
            )
    return _canvassers_page(caller, form=form, errors=errors)


def _canvasser(caller: Caller, username: str) -> users.UserInfo:
    """One canvasser the caller manages, or 404."""
    found = users.get_user(caller, username, now=utcnow(), settings=current_settings())
    if found.role != "canvasser":
        raise ApiError("not_found")
    return found


def _canvasser_page(caller: Caller, username: str, **extra: Any) -> Any:
    person = _canvasser(caller, username)
    return render_template(
        "canvasser.html",
        person=person,
        mine={u.ref for u in person.units},
        typed=" ".join(u.ref for u in person.units),
        choices=_unit_choices(caller),
        **extra,
    )


@bp.get("/canvassers/<username>")
@page("admin", "supervisor")
def canvasser(caller: Caller, username: str) -> Any:
    return _canvasser_page(caller, username, saved=request.args.get("saved") == "1")


@bp.post("/canvassers/<username>/units")
@page("admin", "supervisor")
def canvasser_units(caller: Caller, username: str) -> Any:
    chosen = _chosen_units()
    if not chosen:
        message = _("Choose at least one ward or residential group.")
        return _canvasser_page(caller, username, units_error=message)
    try:
        users.update_user(caller, username, units=chosen, now=utcnow(), settings=current_settings())
    except ApiError as refused:
        # A unit outside the area is a 404 naming the unit; an unknown canvasser names none.
        unit_refused = refused.code == "validation_failed" or "unit" in refused.details
        if not unit_refused:
            raise
        return _canvasser_page(caller, username, units_error=_unit_error(refused))
    return redirect(url_for("web.canvasser", username=username, saved=1))


def _set_active(caller: Caller, username: str, active: bool) -> Any:
    users.update_user(caller, username, active=active, now=utcnow(), settings=current_settings())
    return redirect(url_for("web.canvasser", username=username, saved=1))


@bp.post("/canvassers/<username>/deactivate")
@page("admin", "supervisor")
def canvasser_deactivate(caller: Caller, username: str) -> Any:
    return _set_active(caller, username, False)


@bp.post("/canvassers/<username>/activate")
@page("admin", "supervisor")
def canvasser_activate(caller: Caller, username: str) -> Any:
    return _set_active(caller, username, True)


@bp.post("/canvassers/<username>/password")
@page("admin", "supervisor")
def canvasser_password(caller: Caller, username: str) -> Any:
    # Only a canvasser: an admin's other users are managed through the API.
    _canvasser(caller, username)
    reset = users.reset_password(caller, username, now=utcnow(), settings=current_settings())
    return render_template(
        "password.html", username=reset.username, password=reset.password, created=False
    )
