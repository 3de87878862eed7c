"""`field-server serve` as real processes: the operator's path from nothing to a login."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import (
    TEST_JWT_KEY,
    TEST_SECRET,
    create_postgres_database,
    drop_postgres_database,
)
from tests.e2e.processes import (
    COMMAND_TIMEOUT,
    FIELD_SERVER,
    field_env,
    free_port,
    http,
    read_credentials,
    run_cli,
)

pytestmark = pytest.mark.e2e


def test_serve_refuses_a_short_jwt_key_with_one_clear_line(tmp_path):
    env = field_env(
        tmp_path / "instance", FIELD_SECRET_KEY=TEST_SECRET, FIELD_JWT_KEY="0123456789abcdef"
    )
    result = subprocess.run(
        [FIELD_SERVER, "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    assert result.returncode != 0
    assert "FIELD_JWT_KEY" in result.stderr
    assert "16 bytes" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Listening" not in result.stderr + result.stdout  # gunicorn never started


def test_make_run_path_then_a_supervisor_lists_their_units(tmp_path, servers):
    """init-secrets, db upgrade, demo --if-empty (twice), serve --workers 2, as `make run`
    does: the keys come from the secrets file, not the environment."""
    instance = tmp_path / "instance"
    env = field_env(instance)
    run_cli(env, "init-secrets")
    assert (instance / "secret-keys.json").exists()
    run_cli(env, "db", "upgrade")
    assert "Demo loaded" in run_cli(env, "demo", "--if-empty").stdout
    assert "Demo not loaded" in run_cli(env, "demo", "--if-empty").stdout
    passwords = read_credentials(instance)
    server = servers(env, "--workers", "2")

    status, _, body = http(
        "POST",
        f"{server.url}/api/v1/auth/login",
        {"username": "sv.vangiang", "password": passwords["sv.vangiang"]},
    )
    assert status == 200, body
    status, _, units = http("GET", f"{server.url}/api/v1/units", token=body["access_token"])
    assert status == 200, units
    shown = {u["code"]: u for u in units["items"]}
    assert shown["12019"]["name"] == "Thị trấn Văn Giang"
    assert shown["12019"]["parent"] == "gso-2020:326"
    assert {"33", "326", "12019-01"} <= set(shown)  # ancestors and the ward's groups
    assert "12049" not in shown  # Mễ Sở is another supervisor's

    status, _, body = http(
        "POST",
        f"{server.url}/api/v1/auth/login",
        {"username": "dt.vangiang", "password": passwords["dt.vangiang"]},
    )
    assert status == 200, body
    status, _, wards = http(
        "GET", f"{server.url}/api/v1/units?level=ward&limit=100", token=body["access_token"]
    )
    assert status == 200, wards
    assert len(wards["items"]) == 11
    assert "GET /api/v1/units" in server.stdout.read_text()  # the access log, on stdout


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_failed_logins_are_limited_across_two_server_processes(
    request, tmp_path, servers, database
):
    chosen = request.config.getoption("backend") or ["sqlite", "postgresql"]
    if database not in chosen:
        pytest.skip(f"--backend excludes {database}")
    keys = {"FIELD_SECRET_KEY": TEST_SECRET, "FIELD_JWT_KEY": TEST_JWT_KEY}
    pg_name = None
    if database == "sqlite":
        url = f"sqlite:///{tmp_path / 'shared.db'}"
    else:
        pg_name, url = create_postgres_database("field_e2e")
    try:
        envs = [
            field_env(tmp_path / f"instance-{i}", FIELD_DATABASE_URL=url, **keys) for i in (1, 2)
        ]
        run_cli(envs[0], "db", "upgrade")
        run_cli(envs[0], "demo")
        first, second = servers(envs[0], "--workers", "1"), servers(envs[1], "--workers", "1")

        answers = []
        for attempt in range(11):
            server = (first, second)[attempt % 2]
            status, headers, body = http(
                "POST",
                f"{server.url}/api/v1/auth/login",
                {"username": "sv.vangiang", "password": f"wrong-password-{attempt}"},
            )
            answers.append((status, body.get("code"), headers.get("Retry-After")))
        assert [a[:2] for a in answers[:10]] == [(401, "invalid_credentials")] * 10
        assert answers[10][:2] == (429, "rate_limited")
        assert int(answers[10][2]) >= 1
    finally:
        servers.stop_all()  # before the drop: no server may hold a connection
        if pg_name is not None:
            drop_postgres_database(pg_name)
