"""Unknown user against wrong password: how long each failed login takes (`make bench`).

The contract says both answer the same 401 ``invalid_credentials`` in about the same time, so
that timing cannot tell which usernames exist. A timing is not asserted in the test suite (a
busy machine makes any bound flaky); it is measured here, against a real server process
with the production argon2 settings (the defaults), both kinds of attempt interleaved in the
same run so that a change of machine load hits both alike, and reported as two medians and
their ratio. The failed-login limits are raised for the measuring server only, so that every
attempt reaches the password check instead of a 429.
Results go to docs/benchmarks.md (the section between the login-timing markers).

    python -m tests.benchmarks.bench_login_timing [--rounds 40] [--write]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

from tests.benchmarks.bench_sync import machine
from tests.benchmarks.doc import write_section
from tests.e2e.processes import CHEAP_ARGON2, ServerPool, field_env, run_cli

USERNAME = "sv.timing"
PASSWORD = "the-right-password-1"
UNITS_CSV = """scheme,code,name,level,parent_code,adult_population,target_rate
gso-2020,33,Tỉnh Hưng Yên,province,,,
gso-2020,326,Huyện Văn Giang,district,33,,
gso-2020,12019,Thị trấn Văn Giang,ward,326,9200,0.6
"""


def failed_login(url: str, username: str) -> float:
    """Seconds for one login with a wrong password; it must be refused as invalid_credentials."""
    body = json.dumps({"username": username, "password": "a-wrong-password"}).encode()
    request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310 (loopback)
    request.add_header("Content-Type", "application/json")
    start = time.perf_counter()
    try:
        urllib.request.urlopen(request, timeout=60)  # noqa: S310 (loopback)
    except urllib.error.HTTPError as error:
        elapsed = time.perf_counter() - start
        answer = json.loads(error.read())
        assert (error.code, answer["code"]) == (401, "invalid_credentials"), answer
        return elapsed
    raise AssertionError("a wrong password was accepted")


def production_env(instance: Path) -> dict[str, str]:
    """The test processes' environment without their cheap argon2 settings, and with the
    failed-login limits out of the way."""
    env = field_env(
        instance,
        FIELD_LOGIN_MAX_FAILURES_PER_USER="1000000",
        FIELD_LOGIN_MAX_FAILURES_PER_ADDRESS="1000000",
    )
    for name in CHEAP_ARGON2:
        env.pop(name)
    return env


def run(rounds: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = production_env(folder / "instance")
        run_cli(env, "init-secrets")
        run_cli(env, "db", "upgrade")
        (folder / "units.csv").write_text(UNITS_CSV)
        run_cli(env, "units", "import", str(folder / "units.csv"))
        subprocess.run(
            [
                str(Path(sys.executable).with_name("field-server")),
                "users",
                "create",
                USERNAME,
                "--role",
                "supervisor",
                "--unit",
                "gso-2020:12019",
                "--password-stdin",
            ],
            env=env,
            input=PASSWORD + "\n",
            text=True,
            check=True,
            capture_output=True,
        )
        pool = ServerPool(folder)
        try:
            server = pool(env, "--workers", "1")
            url = f"{server.url}/api/v1/auth/login"
            for _ in range(3):  # warm up: the worker's hasher and its dummy hash
                failed_login(url, USERNAME)
                failed_login(url, f"nobody.{uuid.uuid4().hex[:8]}")
            unknown, wrong = [], []
            for _ in range(rounds):
                unknown.append(failed_login(url, f"nobody.{uuid.uuid4().hex[:8]}"))
                wrong.append(failed_login(url, USERNAME))
        finally:
            pool.stop_all()
    return {
        "rounds": rounds,
        "unknown_median": statistics.median(unknown),
        "wrong_median": statistics.median(wrong),
    }


def report(result: dict) -> str:
    ratio = result["unknown_median"] / result["wrong_median"]
    return "\n".join(
        [
            "<!-- bench:login-timing -->",
            f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()}; SQLite, one server process "
            "(`field-server serve --workers 1`), HTTP on 127.0.0.1, argon2id with the default "
            f"settings; {result['rounds']} attempts of each kind, interleaved.",
            "",
            "| failed login | median |",
            "| --- | --- |",
            f"| unknown username | {result['unknown_median'] * 1000:,.1f} ms |",
            f"| known username, wrong password | {result['wrong_median'] * 1000:,.1f} ms |",
            f"| ratio (unknown / wrong password) | {ratio:.2f} |",
            "<!-- /bench:login-timing -->",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    section = report(run(args.rounds))
    print(section)
    if args.write:
        write_section("login-timing", "Failed logins: unknown user against wrong password", section)


if __name__ == "__main__":
    main()
