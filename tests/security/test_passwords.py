"""Passwords are kept only as argon2id hashes, with the configured cost (docs/security.md).

Checked where passwords enter: a user created through the API (generated password), a
password reset, and ``users set-password`` from the command line. The stored value must be
an argon2id hash carrying the app's memory, time and parallelism settings, verify against
the password, and contain no trace of it.

How the defence was checked: with ``Settings.hasher`` built as argon2i instead of
argon2id, every test here fails on the prefix.
"""

from __future__ import annotations

from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import select

from field_server.extensions import db
from field_server.models import User


def stored_hash(app: Any, username: str) -> str:
    with app.app_context():
        value = db.session.execute(
            select(User.password_hash).where(User.username == username)
        ).scalar_one()
        db.session.rollback()
    return value


def assert_argon2id_of(app: Any, value: str, password: str) -> None:
    settings = app.config
    expected = (
        f"$argon2id$v=19$m={settings['ARGON2_MEMORY_KIB']},"
        f"t={settings['ARGON2_TIME_COST']},p={settings['ARGON2_PARALLELISM']}$"
    )
    assert value.startswith(expected), value
    assert password not in value
    assert PasswordHasher().verify(value, password)


def test_a_created_users_password_is_an_argon2id_hash(app, world, client):
    response = client.post(
        "/api/v1/users",
        json={"username": "cv.vg.070", "role": "canvasser", "units": ["gso-2020:12019"]},
        headers=world.headers(client, "admin"),
    )
    assert response.status_code == 201
    assert_argon2id_of(app, stored_hash(app, "cv.vg.070"), response.get_json()["password"])


def test_a_reset_password_is_an_argon2id_hash(app, world, client):
    response = client.post(
        "/api/v1/users/cv.vg.001/password", headers=world.headers(client, "sv.vangiang")
    )
    assert response.status_code == 200
    assert_argon2id_of(app, stored_hash(app, "cv.vg.001"), response.get_json()["password"])


def test_a_password_set_from_the_command_line_is_an_argon2id_hash(app, world, runner):
    chosen = "một-mật-khẩu-dài-42"
    result = runner.invoke(
        args=["users", "set-password", "cv.vg.002", "--password-stdin"], input=chosen + "\n"
    )
    assert result.exit_code == 0, result.output
    assert chosen not in result.output
    assert_argon2id_of(app, stored_hash(app, "cv.vg.002"), chosen)
