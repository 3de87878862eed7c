"""field-server users ...: the operator's commands, with the same rules as the API."""

import pytest

from field_server.extensions import db
from field_server.models import AuditEntry, LoginFailure, User, utcnow


def user_row(app, username):
    with app.app_context():
        user = db.session.query(User).filter_by(username=username).one_or_none()
        if user is None:
            return None
        from field_server.store.people import current_units

        units = [u.ref for u in current_units([user.id], utcnow())[user.id]]
        return {"role": user.role, "active": user.active, "units": units, "ver": user.token_version}


def test_create_prints_a_password_once_that_logs_in(world, runner, client):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "cv.vg.050",
            "--role",
            "canvasser",
            "--unit",
            "gso-2020:12019",
            "--full-name",
            "Lê Văn C",
        ]
    )
    assert result.exit_code == 0, result.output
    password = result.output.split("Password (shown once): ")[1].strip()
    assert user_row(world.app, "cv.vg.050")["units"] == ["gso-2020:12019"]
    login = client.post(
        "/api/v1/auth/login",
        json={
            "username": "cv.vg.050",
            "password": password,
            "device_id": "5b0c6f1e-0000-4000-8000-000000000050",
        },
    )
    assert login.status_code == 200


def test_create_with_password_from_stdin(world, runner, client):
    result = runner.invoke(
        args=["users", "create", "ops", "--role", "admin", "--password-stdin"],
        input="correct horse battery\n",
    )
    assert result.exit_code == 0, result.output
    assert "Password" not in result.output
    login = client.post(
        "/api/v1/auth/login", json={"username": "ops", "password": "correct horse battery"}
    )
    assert login.status_code == 200


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["cv.x.01", "--role", "canvasser"], None, "needs at least one unit"),
        (["cv.x.01", "--role", "canvasser", "--unit", "gso-2020:404"], None, "unknown unit"),
        (["cv.x.01", "--role", "canvasser", "--unit", "gso-2020:326"], None, "is a district"),
        (["Bad Name", "--role", "admin"], None, "username"),
        (["admin", "--role", "admin"], None, "already taken"),
        (["ops2", "--role", "admin", "--password-stdin"], "short\n", "at least 10"),
    ],
)
def test_create_refuses_bad_input(world, runner, args, stdin, message):
    before = user_row(world.app, "admin")
    result = runner.invoke(args=["users", "create", *args], input=stdin)
    assert result.exit_code == 1
    assert message in result.output
    assert user_row(world.app, "cv.x.01") is None and user_row(world.app, "ops2") is None
    assert user_row(world.app, "admin") == before


def test_assign_unassign_and_list(world, runner):
    result = runner.invoke(args=["users", "assign", "cv.vg.001", "--unit", "gso-2020:12022"])
    assert result.exit_code == 0, result.output
    row = user_row(world.app, "cv.vg.001")
    assert sorted(row["units"]) == ["gso-2020:12019", "gso-2020:12022"]
    again = runner.invoke(args=["users", "assign", "cv.vg.001", "--unit", "gso-2020:12022"])
    assert "Nothing changed" in again.output
    assert user_row(world.app, "cv.vg.001")["ver"] == row["ver"]
    result = runner.invoke(args=["users", "unassign", "cv.vg.001", "--unit", "gso-2020:12019"])
    assert result.exit_code == 0
    assert user_row(world.app, "cv.vg.001")["units"] == ["gso-2020:12022"]
    listing = runner.invoke(
        args=["users", "list", "--role", "canvasser", "--unit", "gso-2020:12022"]
    )
    assert listing.output.splitlines() == [
        "cv.vg.001\tcanvasser\tactive\tgso-2020:12022",
        "cv.xq.001\tcanvasser\tactive\tgso-2020:12022",
    ]
    wrong_level = runner.invoke(
        args=["users", "assign", "sv.vangiang", "--unit", "gso-2020:12019-01"]
    )
    assert wrong_level.exit_code == 1 and "is a group" in wrong_level.output


def test_deactivate_and_set_password(world, runner, client):
    result = runner.invoke(args=["users", "deactivate", "cv.vg.002"])
    assert result.exit_code == 0
    assert user_row(world.app, "cv.vg.002")["active"] is False
    result = runner.invoke(
        args=["users", "set-password", "sv.vangiang", "--password-stdin"],
        input="a brand new password\n",
    )
    assert result.exit_code == 0
    ok = client.post(
        "/api/v1/auth/login", json={"username": "sv.vangiang", "password": "a brand new password"}
    )
    assert ok.status_code == 200
    unknown = runner.invoke(args=["users", "deactivate", "nobody"])
    assert unknown.exit_code == 1 and "no user named 'nobody'" in unknown.output


def test_unlock_clears_the_failed_login_counter(world, runner, client):
    for _ in range(10):
        client.post("/api/v1/auth/login", json={"username": "admin", "password": "wrong!"})
    locked = client.post(
        "/api/v1/auth/login", json={"username": "admin", "password": world.passwords["admin"]}
    )
    assert locked.status_code == 429
    result = runner.invoke(args=["users", "unlock", "admin"])
    assert result.exit_code == 0 and "Cleared 10" in result.output
    with world.app.app_context():
        assert db.session.query(LoginFailure).filter_by(username="admin").count() == 0
    ok = client.post(
        "/api/v1/auth/login", json={"username": "admin", "password": world.passwords["admin"]}
    )
    assert ok.status_code == 200


def test_changes_are_audited_as_the_command_line(world, runner):
    runner.invoke(args=["users", "deactivate", "cv.vg.002"])
    with world.app.app_context():
        row = db.session.query(AuditEntry).filter_by(target="cv.vg.002").one()
        assert row.action == "user.update" and row.actor.startswith("cli")
