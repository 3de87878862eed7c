"""field-server users ...: the operator's commands, with the same rules as the API."""

import json

import pytest
from sqlalchemy import select

from field_server.extensions import db
from field_server.models import Assignment, AuditEntry, LoginFailure, User, utcnow
from tests.conftest import device_secret_for


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
            "device_secret": device_secret_for("5b0c6f1e-0000-4000-8000-000000000050"),
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


def traces(app, username):
    """What creating a user left behind, minus what differs between any two users: the
    user row, their assignments (stamped for tablets to pull) and their audit rows."""
    with app.app_context():
        user = db.session.execute(select(User).where(User.username == username)).scalar_one()
        assignments = db.session.execute(
            select(Assignment).where(Assignment.user_id == user.id).order_by(Assignment.id)
        ).scalars()
        audits = db.session.execute(
            select(AuditEntry).where(AuditEntry.target == username).order_by(AuditEntry.id)
        ).scalars()
        found = {
            "user": {
                "role": user.role,
                "full_name": user.full_name,
                "active": user.active,
                "token_version": user.token_version,
                "argon2id": user.password_hash.startswith("$argon2id$"),
                "created_is_updated": user.created_at == user.updated_at,
            },
            "assignments": [
                {
                    "unit": a.unit.ref,
                    "open": a.ends_at is None,
                    "version": a.version,
                    "stamped": a.change_seq > 0,
                    "starts_with_the_user": a.starts_at == user.created_at,
                }
                for a in assignments
            ],
            "audit": [
                {
                    "action": row.action,
                    "at_creation": row.at == user.created_at,
                    "details": json.loads(row.details),
                    "actor": row.actor,
                    "client_address": row.client_address,
                }
                for row in audits
            ],
        }
        db.session.rollback()
    return found


def test_the_api_and_the_command_line_create_a_user_alike(world, runner, client):
    units = ["gso-2020:12019-01", "gso-2020:12019"]
    response = client.post(
        "/api/v1/users",
        json={"username": "cv.api.001", "role": "canvasser", "units": units, "full_name": "A"},
        headers=world.headers(client, "admin"),
    )
    assert response.status_code == 201, response.get_json()
    unit_args = [arg for ref in units for arg in ("--unit", ref)]
    result = runner.invoke(
        args=[
            "users",
            "create",
            "cv.cli.001",
            "--role",
            "canvasser",
            *unit_args,
            "--full-name",
            "A",
        ]
    )
    assert result.exit_code == 0, result.output

    by_api, by_cli = traces(world.app, "cv.api.001"), traces(world.app, "cv.cli.001")
    assert by_api["user"] == by_cli["user"]
    assert by_api["assignments"] == by_cli["assignments"]
    assert [a["unit"] for a in by_cli["assignments"]] == units
    assert all(a["stamped"] and a["starts_with_the_user"] for a in by_cli["assignments"])
    # One audit row each: same action, target (the username), time and details, apart from
    # who did it and from where.
    (api_row,), (cli_row,) = by_api["audit"], by_cli["audit"]
    assert api_row.pop("actor") == "admin" and api_row.pop("client_address")
    assert cli_row.pop("actor").startswith("cli") and cli_row.pop("client_address") is None
    assert api_row == cli_row
    assert cli_row == {
        "action": "user.create",
        "at_creation": True,
        "details": {"role": "canvasser", "units": units},
    }
