"""One conflict and one device read by id (services/conflicts.py ``get_conflict``,
services/devices.py ``get_device``), as the pages read them: in the caller's scope, an item
the caller's list would not show is ``not_found``, the same as an unknown id.

The conflicts and devices are made the way the API tests make them: a tablet's pushes and
logins through the API.
"""

from __future__ import annotations

from typing import Any

import pytest

from field_server.auth.scope import scope_of
from field_server.clock import utcnow
from field_server.errors import ApiError
from field_server.services import conflicts, devices
from field_server.services.context import Caller
from field_server.store.people import get_user

from .sync_helpers import Tablet
from .test_conflicts import duplicate_conflict, visit_field_conflict


def caller(username: str) -> Caller:
    """The user as a request of theirs would call services (inside an app context)."""
    user = get_user(username)
    assert user is not None
    return Caller(user.id, user.username, user.role, scope_of(user.id, user.role))


def refused(read: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ApiError) as caught:
        read(*args, **kwargs)
    return caught.value.code


@pytest.fixture
def tablet(client: Any, world: Any) -> Tablet:
    return Tablet(world, client, "cv.vg.001")


# --- conflicts -------------------------------------------------------------------------------


def listed_conflicts(who: Caller, status: str) -> dict[str, conflicts.ConflictInfo]:
    page = conflicts.list_conflicts(who, ward=None, status=status, kind=None, after=None, limit=500)
    return {item.id: item for item in page.items}


def test_a_conflict_read_by_id_is_the_one_the_list_shows(app, client, world, tablet):
    _, visit_id, conflict_id = visit_field_conflict(
        client, tablet, world.headers(client, "sv.vangiang")
    )
    with app.app_context():
        for username in ("sv.vangiang", "dt.vangiang", "admin"):
            who = caller(username)
            found = conflicts.get_conflict(who, conflict_id)
            assert found == listed_conflicts(who, "open")[conflict_id]
        assert found.kind == "field_conflict" and found.entity_id == visit_id
        assert found.status == "open" and found.ward == "gso-2020:12019"
        assert found.fields["installed_during"]["server"] == 1
        assert found.fields["installed_during"]["client"] == 0


def test_a_conflict_outside_the_callers_wards_is_not_found(app, client, world, tablet):
    _, _, conflict_id = duplicate_conflict(tablet)
    with app.app_context():
        for username in ("sv.xuanquan", "sv.hiennam"):
            who = caller(username)
            assert conflict_id not in listed_conflicts(who, "open")
            assert refused(conflicts.get_conflict, who, conflict_id) == "not_found"


def test_an_unknown_conflict_is_not_found(app, world):
    with app.app_context():
        for username in ("sv.vangiang", "admin"):
            assert refused(conflicts.get_conflict, caller(username), "no-such-id") == "not_found"


def test_a_closed_conflict_is_read_with_its_status(app, client, world, tablet):
    _, _, conflict_id = duplicate_conflict(tablet)
    with app.app_context():
        who = caller("sv.vangiang")
        conflicts.dismiss_conflict(who, conflict_id, now=utcnow())
        found = conflicts.get_conflict(who, conflict_id)
        assert found.status == "dismissed" and found.resolved_by == "sv.vangiang"
        assert found == listed_conflicts(who, "dismissed")[conflict_id]


# --- devices ---------------------------------------------------------------------------------


def listed_devices(who: Caller) -> dict[str, devices.DeviceInfo]:
    page = devices.list_devices(who, ward=None, after=None, limit=500, now=utcnow())
    return {item.device_id: item for item in page.items}


def test_a_device_read_by_id_is_the_one_the_list_shows(app, client, world):
    tablet = Tablet(world, client, "cv.vg.002")  # works in a group of ward A
    with app.app_context():
        for username in ("sv.vangiang", "dt.vangiang", "admin"):
            who = caller(username)
            found = devices.get_device(who, tablet.device_id, now=utcnow())
            assert found == listed_devices(who)[tablet.device_id]
        assert found.owner == "cv.vg.002" and not found.revoked


def test_a_device_outside_the_callers_units_is_not_found(app, client, world):
    ward_b = Tablet(world, client, "cv.xq.001")
    with app.app_context():
        who = caller("sv.vangiang")
        assert ward_b.device_id not in listed_devices(who)
        assert refused(devices.get_device, who, ward_b.device_id, now=utcnow()) == "not_found"
        # Its own ward's supervisor reads it.
        assert devices.get_device(caller("sv.xuanquan"), ward_b.device_id, now=utcnow())


def test_an_unknown_device_is_not_found(app, world):
    with app.app_context():
        for username in ("sv.vangiang", "admin"):
            who = caller(username)
            assert refused(devices.get_device, who, "no-such-device", now=utcnow()) == "not_found"


def test_a_revoked_device_is_read_as_revoked(app, client, world):
    tablet = Tablet(world, client, "cv.vg.001")
    with app.app_context():
        who = caller("sv.vangiang")
        devices.revoke_device(who, tablet.device_id, now=utcnow())
        found = devices.get_device(who, tablet.device_id, now=utcnow())
        assert found.revoked and found.revoked_at is not None
        assert found == listed_devices(who)[tablet.device_id]


# --- users ----------------------------------------------------------------------------------


def test_a_user_read_by_name_is_the_one_the_list_shows(app, world):
    """services/users.py ``get_user``: the canvasser's page reads one user, not the list."""
    from field_server.services import users
    from field_server.services.context import Settings

    now = utcnow()
    with app.app_context():
        for username in ("sv.vangiang", "admin"):
            who = caller(username)
            listed = users.list_users(
                who, role="canvasser", unit=None, after=None, limit=500, now=now,
                settings=Settings(),
            )  # fmt: skip
            shown = {u.username: u for u in listed.items}
            assert "cv.vg.001" in shown
            for name, info in shown.items():
                assert users.get_user(who, name, now=now, settings=Settings()) == info
        # Another ward's supervisor does not reach them; an unknown name is the same answer.
        other = caller("sv.xuanquan")
        assert refused(users.get_user, other, "cv.vg.001", now=now, settings=Settings()) == (
            "not_found"
        )
        assert refused(users.get_user, other, "nobody", now=now, settings=Settings()) == (
            "not_found"
        )
