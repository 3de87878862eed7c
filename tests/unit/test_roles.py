"""Which units each role may hold and whom a supervisor may manage (pure rules)."""

import pytest

from domain.roles import may_manage, password_errors, unit_errors


@pytest.mark.parametrize(
    ("role", "levels", "ok"),
    [
        ("admin", [], True),
        ("admin", ["ward"], False),
        ("district", ["district"], True),
        ("district", ["province"], True),  # a scheme without districts
        ("district", ["ward"], False),
        ("supervisor", ["ward", "ward"], True),
        ("supervisor", ["group"], False),
        ("supervisor", [], False),
        ("canvasser", ["ward"], True),
        ("canvasser", ["group", "ward"], True),
        ("canvasser", ["district"], False),
        ("canvasser", [], False),
    ],
)
def test_unit_levels_by_role(role, levels, ok):
    errors = unit_errors(role, [(f"s:{i}", level) for i, level in enumerate(levels)])
    assert (errors == []) is ok


def test_errors_name_the_unit():
    assert unit_errors("canvasser", [("gso-2020:326", "district")]) == [
        "gso-2020:326 is a district; a canvasser is assigned to a group or ward."
    ]


@pytest.mark.parametrize(
    ("manager", "target", "ok"),
    [
        ("admin", "admin", True),
        ("admin", "canvasser", True),
        ("supervisor", "canvasser", True),
        ("supervisor", "supervisor", False),
        ("supervisor", "admin", False),
        ("district", "canvasser", False),
        ("canvasser", "canvasser", False),
    ],
)
def test_may_manage(manager, target, ok):
    assert may_manage(manager, target) is ok


@pytest.mark.parametrize(
    ("password", "ok"),
    [("short", False), ("long enough pw", True), (" padded-password", False)],
)
def test_password_rules(password, ok):
    assert (password_errors(password) == []) is ok
