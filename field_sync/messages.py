"""field-sync's messages in Vietnamese and English (``field-sync --lang vi|en``).

The tablet client runs without the server's code, but with the domain's: English is the
source language and a message's English text is its key. What field-sync can show comes
from two places. The domain's messages, the checks a tablet runs before recording a change
(domain/validation.py, domain/hlc.py) and the push rules' rejections it lists under
``attention`` (domain/push.py), have their Vietnamese in the domain's gettext catalogue
(domain/translations/, ``domain.messages.domain_entries``), the one the server reads too:
written once, they read the same on both sides. Its own lines (field_sync/cli.py, through
``Messages.__call__``) and the client's errors (field_sync/client.py), which only field-sync
shows, are in ``VI`` below. tests/unit/test_catalogues.py checks that nothing is missing.

The server's own answers are asked for in the chosen language (``Accept-Language``), so
they need no catalogue here; ``translate`` still passes them through, which turns an
English message (an older server, a rejection stored before the language changed) into
Vietnamese when the catalogue knows it, and leaves any other text as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.messages import Catalogue, domain_entries

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
# The environment variables that name the user's language, in gettext's order.
LOCALE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


def language_from_environment(environ: Mapping[str, str]) -> str:
    """'vi' or 'en' from the locale variables: the first one set decides (a Vietnamese
    locale such as vi_VN.UTF-8 gives 'vi'; any other, C and POSIX included, gives
    untranslated English, as gettext does); 'vi' when none is set."""
    for name in LOCALE_VARIABLES:
        value = environ.get(name, "").split(":")[0].strip()
        if value:
            return "vi" if value.lower().startswith("vi") else "en"
    return DEFAULT_LANGUAGE


class Messages:
    """The messages of one language: ``messages("Nothing to push.")`` for one of
    field-sync's own (values filled in by name), ``messages.translate(text)`` for a text
    written elsewhere in English."""

    def __init__(self, language: str) -> None:
        self.language = language if language in LANGUAGES else DEFAULT_LANGUAGE
        own = VI if self.language == "vi" else {}
        self.entries: dict[str, str] = {**domain_entries(self.language), **own}
        # The server's matcher (domain/messages.py): the same templates read the same way.
        self.translate = Catalogue(self.language, self.entries).translate

    def __call__(self, msgid: str, **values: Any) -> str:
        template = self.entries.get(msgid, msgid)
        return template.format(**values) if values else template

    def plural(self, count: int, one: str, many: str) -> str:
        """ "1 batch", "3 batches"; Vietnamese nouns do not change with the number."""
        return f"{count} {self(one if count == 1 else many)}"

    def errors(self, errors: Any) -> Any:
        """A field-error map with its messages translated, keys as they are."""
        if isinstance(errors, str):
            return self.translate(errors)
        if isinstance(errors, Mapping):
            return {key: self.errors(value) for key, value in errors.items()}
        if isinstance(errors, list | tuple):
            return [self.errors(value) for value in errors]
        return errors


VI: dict[str, str] = {
    # --- field-sync's own lines (field_sync/cli.py) -------------------------------------
    "Error: {message}": "Lỗi: {message}",
    "no answer from the server after retries ({reason}).": (
        "máy chủ không trả lời sau nhiều lần thử lại ({reason})."
    ),
    "Password": "Mật khẩu",
    "a password is required.": "cần nhập mật khẩu.",
    "--device-secret-file restores a device: give --device-id too.": (
        "--device-secret-file dùng để khôi phục một thiết bị: hãy cho cả --device-id."
    ),
    "Logged in as {who} at {url} on device {device}; next mutation {next}.": (
        "Đã đăng nhập với tên {who} tại {url} trên thiết bị {device}; "
        "thay đổi tiếp theo là số {next}."
    ),
    "use SCHEME:CODE, e.g. gso-2020:12019": "dùng dạng SCHEME:CODE, ví dụ gso-2020:12019",
    "give --lat and --lon together": "hãy nhập --lat và --lon cùng nhau",
    "Pushing": "Đang gửi",
    "Pulling": "Đang tải về",
    "Nothing to push.": "Không có gì để gửi.",
    "Pushed {sent} in {batches}: {acknowledged} acknowledged, {rejected} rejected.": (
        "Đã gửi {sent} trong {batches}: {acknowledged} được nhận, {rejected} bị từ chối."
    ),
    "Pushed {sent} in {batches}: {acknowledged} acknowledged ({replayed} replayed), "
    "{rejected} rejected.": (
        "Đã gửi {sent} trong {batches}: {acknowledged} được nhận ({replayed} gửi lại), "
        "{rejected} bị từ chối."
    ),
    "See `field-sync attention`.": "Hãy xem `field-sync attention`.",
    "Pulled {changes} in {pages}; the replica holds {records}.": (
        "Đã tải về {changes} trong {pages}; bản sao trên máy có {records}."
    ),
    "Pulled {changes} in {pages} (full copy); the replica holds {records}.": (
        "Đã tải về {changes} trong {pages} (bản sao đầy đủ); bản sao trên máy có {records}."
    ),
    "device: {device} (user {user})": "thiết bị: {device} (người dùng {user})",
    "server: {url}": "máy chủ: {url}",
    "outbox: {mutations} waiting; next mutation {next}": (
        "hàng đợi gửi: {mutations} đang chờ; thay đổi tiếp theo là số {next}"
    ),
    "attention: {rejected}": "cần xử lý: {rejected}",
    "pull: {cursor}; {records} held": "tải về: {cursor}; đang giữ {records}",
    "server status: last mutation {last}, last push {push}, server time {time}": (
        "trạng thái máy chủ: thay đổi cuối số {last}, lần gửi cuối {push}, giờ máy chủ {time}"
    ),
    "never": "chưa bao giờ",
    "No mutations need attention.": "Không có thay đổi nào cần xử lý.",
    # Nouns counted by Messages.plural.
    "mutation": "thay đổi",
    "mutations": "thay đổi",
    "rejected mutation": "thay đổi bị từ chối",
    "rejected mutations": "thay đổi bị từ chối",
    "batch": "lô",
    "batches": "lô",
    "change": "thay đổi",
    "changes": "thay đổi",
    "page": "trang",
    "pages": "trang",
    "record": "bản ghi",
    "records": "bản ghi",
    # --- the client's errors and states (field_sync/client.py) --------------------------
    "The server answered HTTP {status}.": "Máy chủ trả lời HTTP {status}.",
    "Log in first (field-sync login).": "Hãy đăng nhập trước (field-sync login).",
    "{message} Log in again (field-sync login); nothing recorded is lost.": (
        "{message} Hãy đăng nhập lại (field-sync login); dữ liệu đã ghi không bị mất."
    ),
    "A device secret restores a device id: give both.": (
        "Mã bí mật của thiết bị dùng để khôi phục một mã thiết bị: hãy cho cả hai."
    ),
    "This store belongs to device {device}; use another --data file.": (
        "Kho dữ liệu này thuộc thiết bị {device}; hãy dùng tệp --data khác."
    ),
    "No {entity} {id} on this tablet; pull first or give base_version.": (
        "Máy này không có {entity} {id}; hãy tải về (pull) trước hoặc chỉ định base_version."
    ),
    "Unknown here.": "Máy này không có bản ghi này.",
    "The visit's counts are invalid.": "Các số liệu của lượt đến nhà không hợp lệ.",
    "The server answered without results for {count} mutation(s) from {first}; they stay "
    "in the outbox.": (
        "Máy chủ trả lời nhưng thiếu kết quả cho {count} thay đổi kể từ số {first}; các "
        "thay đổi này vẫn nằm trong hàng đợi gửi."
    ),
    "The server expects mutation {expected} next, but this tablet no longer holds "
    "mutations {expected} to {last} (its outbox resumes at {start}). Mutations are never "
    "renumbered, which could double visits: ask a supervisor or the operator to check this "
    "device.": (
        "Máy chủ cần thay đổi số {expected} tiếp theo, nhưng máy này không còn giữ các thay "
        "đổi từ {expected} đến {last} (hàng đợi gửi tiếp tục từ số {start}). Các thay đổi "
        "không bao giờ được đánh số lại vì có thể làm trùng lượt đến nhà: hãy nhờ giám sát "
        "viên hoặc người quản trị kiểm tra thiết bị này."
    ),
    "The server expects mutation {expected} next, above this tablet's next unsent mutation "
    "{start}; the numbering disagrees and mutations are never renumbered. Ask the operator "
    "to check this device.": (
        "Máy chủ cần thay đổi số {expected} tiếp theo, lớn hơn số thay đổi chưa gửi tiếp "
        "theo của máy này ({start}); cách đánh số không khớp và các thay đổi không bao giờ "
        "được đánh số lại. Hãy nhờ người quản trị kiểm tra thiết bị này."
    ),
    "The server said has_more but gave no new cursor.": (
        "Máy chủ báo has_more nhưng không gửi con trỏ mới."
    ),
    "none": "chưa có",
    "full copy in progress": "đang tải bản sao đầy đủ",
    "up to date as of the last pull": "đã cập nhật đến lần tải về gần nhất",
}
