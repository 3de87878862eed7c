"""`field-sync --lang vi|en`: every line in one language, and the server asked for it too."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from field_sync import cli as cli_module
from field_sync.messages import Messages, language_from_environment
from tests.unit.fake_server import FakeServer
from tests.unit.test_catalogues import cli_messages, messages_in

WARD = "gso-2020:12019"
NO_LOCALE = {"LANGUAGE": "", "LC_ALL": "", "LC_MESSAGES": "", "LANG": ""}


@pytest.mark.parametrize(
    ("environ", "language"),
    [
        ({}, "vi"),
        (NO_LOCALE, "vi"),
        ({"LANG": "vi_VN.UTF-8"}, "vi"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LANG": "C.UTF-8"}, "en"),  # no language chosen: untranslated, as gettext does
        ({"LANGUAGE": "vi:en", "LANG": "en_US.UTF-8"}, "vi"),
        ({"LC_ALL": "en_GB.UTF-8", "LANG": "vi_VN.UTF-8"}, "en"),
    ],
)
def test_the_default_language_comes_from_the_locale(environ, language):
    assert language_from_environment(environ) == language


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def run(tmp_path, server, monkeypatch):
    def transport(url, timeout):
        return server

    monkeypatch.setattr(cli_module, "HttpTransport", transport)
    runner = CliRunner(env=NO_LOCALE)
    data = str(tmp_path / "tablet.db")

    def invoke(*args, input=None):
        return runner.invoke(cli_module.cli, ["--data", data, *args], input=input)

    return invoke


def test_a_tablet_in_vietnamese(run, server):
    login = run("--lang", "vi", "login", "cv.hy.001", "--password-stdin", input="secret\n")
    assert login.exit_code == 0, login.output
    assert login.stdout.startswith("Đã đăng nhập với tên cv.hy.001 (canvasser) tại ")
    assert server.accept_language == "vi"  # set on the transport: sent with every request
    household = run("--lang", "vi", "household", "add", "--ward", WARD, "--address", "Số 1")
    assert household.exit_code == 0
    stray = run("--lang", "vi", "visit", "add", "--household", str(uuid.uuid4()),
                "--outcome", "not_home")  # fmt: skip
    assert stray.exit_code == 0
    pushed = run("--lang", "vi", "push")
    assert pushed.stdout == (
        "Đã gửi 2 thay đổi trong 1 lô: 1 được nhận, 1 bị từ chối. Hãy xem `field-sync attention`.\n"
    )
    pulled = run("--lang", "vi", "pull")
    assert pulled.stdout == (
        "Đã tải về 1 thay đổi trong 1 trang (bản sao đầy đủ); bản sao trên máy có 1 bản ghi.\n"
    )
    status = run("--lang", "vi", "status").stdout
    assert "hàng đợi gửi: 0 thay đổi đang chờ; thay đổi tiếp theo là số 3" in status
    assert "cần xử lý: 1 thay đổi bị từ chối" in status
    assert "tải về: đã cập nhật đến lần tải về gần nhất; đang giữ 1 bản ghi" in status
    assert "trạng thái máy chủ: thay đổi cuối số 2" in status
    assert run("--lang", "vi", "push").stdout == "Không có gì để gửi.\n"
    # The fake server's own words are no message of ours: shown as they came.
    attention = run("--lang", "vi", "attention").stdout
    assert attention.startswith("#2 visit.create ") and attention.endswith(
        ": household_unknown: No such household.\n"
    )


def test_a_refusal_here_is_told_in_the_chosen_language(run):
    run("login", "cv.hy.001", "--password-stdin", input="secret\n")
    household = str(uuid.uuid4())
    bad = run("--lang", "vi", "visit", "add", "--household", household, "--outcome", "installed")
    assert bad.exit_code == 2
    assert bad.stderr.startswith(
        "Lỗi: validation_failed: Các số liệu của lượt đến nhà không hợp lệ. "
        "(adults: Bắt buộc khi kết quả là installed., "
    )
    english = run("--lang", "en", "visit", "add", "--household", household, "--outcome",
                  "installed")  # fmt: skip
    assert english.stderr.startswith(
        "Error: validation_failed: The visit's counts are invalid. "
        "(adults: Required when the outcome is installed., "
    )
    half = run("--lang", "vi", "household", "add", "--ward", WARD, "--address", "x", "--lat", "1")
    assert half.exit_code == 2 and "hãy nhập --lat và --lon cùng nhau" in half.output


def test_the_locale_chooses_when_lang_is_not_given(run, tmp_path):
    runner = CliRunner(env={**NO_LOCALE, "LANG": "vi_VN.UTF-8"})
    result = runner.invoke(cli_module.cli, ["--data", str(tmp_path / "x.db"), "push"])
    assert result.exit_code == 1
    assert result.stderr == "Lỗi: not_logged_in: Hãy đăng nhập trước (field-sync login).\n"
    english = run("--lang", "en", "push")
    assert english.stderr == "Error: not_logged_in: Log in first (field-sync login).\n"


def test_the_server_is_asked_in_the_chosen_language(tmp_path, monkeypatch):
    """Through the real HttpTransport, urllib replaced: the header goes out, the server's
    Vietnamese comes back and is printed as it is."""
    sent = []

    def urlopen(req, timeout):
        sent.append(req)
        message = "Sai tên đăng nhập hoặc mật khẩu."
        body = {"ok": False, "status": 401, "code": "invalid_credentials", "message": message,
                "errors": {}, "details": {}}  # fmt: skip
        raw = io.BytesIO(json.dumps(body).encode())
        raise urllib.error.HTTPError(req.full_url, 401, "Unauthorized", {}, raw)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    args = ["--data", str(tmp_path / "t.db"), "--server", "http://field.example:8000", "--lang"]
    result = CliRunner(env=NO_LOCALE).invoke(
        cli_module.cli, [*args, "vi", "login", "cv", "--password-stdin"], input="nope\n"
    )
    assert result.exit_code == 1
    assert sent[0].get_header("Accept-language") == "vi"
    assert result.stderr == "Lỗi: invalid_credentials: Sai tên đăng nhập hoặc mật khẩu.\n"
    CliRunner(env=NO_LOCALE).invoke(
        cli_module.cli, [*args, "en", "login", "cv", "--password-stdin"], input="nope\n"
    )
    assert sent[-1].get_header("Accept-language") == "en"


def test_english_messages_of_an_older_server_are_translated_when_known():
    vi = Messages("vi")
    assert vi.translate("Household 7 is unknown.") == "Không có hộ 7."
    assert vi.translate("Sai tên đăng nhập hoặc mật khẩu.") == "Sai tên đăng nhập hoặc mật khẩu."
    assert vi.translate(
        "Wrong username or password. Log in again (field-sync login); nothing recorded is lost."
    ) == (
        "Wrong username or password. Hãy đăng nhập lại (field-sync login); "
        "dữ liệu đã ghi không bị mất."
    )
    assert vi.errors({"values": {"adults": ["Required."]}}) == {
        "values": {"adults": ["Bắt buộc phải có."]}
    }
    assert Messages("en").translate("Household 7 is unknown.") == "Household 7 is unknown."


def test_every_line_field_sync_prints_goes_through_the_catalogue():
    """A sentence written in field_sync/cli.py outside ``_()`` would be printed in English
    whatever --lang says."""
    cli_source = Path(cli_module.__file__)
    assert set(messages_in(cli_source)) - cli_messages() == set()
