"""The README's curl tour works as written, against a server set up as `make run` does."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.processes import field_env, run_cli

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"


def tour_blocks() -> list[str]:
    text = README.read_text()
    section = text.split("## A short tour with curl", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


def test_readme_tour(tmp_path, servers):
    assert shutil.which("curl"), "the tour needs curl"
    instance = tmp_path / "checkout" / "instance"
    env = field_env(instance)
    run_cli(env, "init-secrets")
    run_cli(env, "db", "upgrade")
    run_cli(env, "demo", "--if-empty")
    server = servers(env, "--workers", "2")

    tour, errors = tour_blocks()
    # The README talks to 127.0.0.1:5000 from the checkout; point it at this test's server.
    script = tour.replace("127.0.0.1:5000", f"127.0.0.1:{server.port}")
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=instance.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # Vietnamese names are printed as they are read, not as \u escapes.
    assert "Thị trấn Văn Giang" in result.stdout and "\\u" not in result.stdout
    decoder = json.JSONDecoder()
    units, end = decoder.raw_decode(result.stdout)
    rest = result.stdout[end:].lstrip()
    users, end = decoder.raw_decode(rest)
    figures, _ = decoder.raw_decode(rest[end:].lstrip())
    codes = {u["code"] for u in units["items"]}
    assert {"33", "326", "12019", "12019-01"} <= codes
    assert {u["role"] for u in users["items"]} == {"canvasser"}
    assert users["items"]
    assert figures["unit"]["code"] == "12019" and figures["as_of"] == "2020-08-15"
    assert figures["totals"]["households_visited"] > 0 and figures["rank"] >= 1

    command = errors.splitlines()[0].replace("127.0.0.1:5000", f"127.0.0.1:{server.port}")
    shown = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=30, check=False
    )
    body = json.loads(shown.stdout)
    assert body["code"] == "token_invalid" and body["message"].startswith("The access token")
