"""Settings read from ``FIELD_*`` environment variables and validated before anything starts.

Every setting is declared once in ``SETTINGS`` with its type, default and a one-line help
text; docs/configuration.md documents each of them and a test fails when one is missing.
A bad value raises ``ConfigError`` with a message an operator can act on, so the server
refuses to start instead of running half-configured.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import sys
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PREFIX = "FIELD_"
SECRETS_FILE = "secret-keys.json"
MIN_KEY_BYTES = 32


class ConfigError(Exception):
    """A setting is missing or wrong; the message names it and says what is expected."""


@dataclass(frozen=True)
class Setting:
    name: str  # without the FIELD_ prefix
    parse: Callable[[str], Any]
    default: Any
    help: str


def _int(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"expected a whole number, got {raw!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
            raise ValueError(f"expected a number {bound}, got {value}")
        return value

    return parse


def _rate(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"expected a fraction such as 0.6, got {raw!r}") from None
    if not 0 < value <= 1:
        raise ValueError(f"expected a fraction above 0 and at most 1, got {value}")
    return value


def _timezone(raw: str) -> str:
    try:
        zoneinfo.ZoneInfo(raw)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {raw!r} (use an IANA name)") from None
    return raw


def _language(raw: str) -> str:
    if raw not in ("vi", "en"):
        raise ValueError(f"expected 'vi' or 'en', got {raw!r}")
    return raw


def _networks(raw: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    nets = []
    for part in raw.replace(",", " ").split():
        try:
            nets.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"not an IP address or network: {part!r}") from None
    return tuple(nets)


def _text(raw: str) -> str:
    return raw


def _log_level(raw: str) -> str:
    if raw.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError(f"expected DEBUG, INFO, WARNING, ERROR or CRITICAL, got {raw!r}")
    return raw.upper()


def _algorithm(raw: str) -> str:
    if raw not in ("HS256", "HS384", "HS512"):
        raise ValueError(f"expected HS256, HS384 or HS512, got {raw!r}")
    return raw


def _database_url(raw: str) -> str:
    scheme = raw.split("://", 1)[0] if "://" in raw else ""
    if scheme != "postgresql+psycopg" and scheme.startswith(("postgresql", "postgres")):
        # The driver installed with the package is psycopg 3; SQLAlchemy would pick another.
        # (The URL itself is not repeated: it may hold a password.)
        raise ValueError(
            f"unsupported database URL scheme {scheme!r}: begin it with postgresql+psycopg:// "
            "(the PostgreSQL driver installed with field-server), as in "
            "postgresql+psycopg://USER@HOST:PORT/DB"
        )
    if scheme not in ("sqlite", "postgresql+psycopg"):
        raise ValueError(
            f"unsupported database URL scheme {scheme or raw!r}: use sqlite:///PATH "
            "or postgresql+psycopg://USER@HOST:PORT/DB"
        )
    return raw


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "INSTANCE_PATH",
        _text,
        None,
        "Folder for the SQLite database, secrets and demo "
        "credentials (default: instance/ in a source checkout, else "
        "PREFIX/var/field_server-instance).",
    ),
    Setting(
        "DATABASE_URL",
        _database_url,
        None,
        "sqlite:///PATH or "
        "postgresql+psycopg://USER@HOST:PORT/DB (default: INSTANCE_PATH/field.db).",
    ),
    Setting(
        "SECRET_KEY",
        _text,
        None,
        "Signs session cookies and list cursors; at least 32 "
        "bytes (default: read from INSTANCE_PATH/secret-keys.json).",
    ),
    Setting(
        "JWT_KEY",
        _text,
        None,
        "Signs access tokens and derives refresh tokens; at least "
        "32 bytes (default: read from INSTANCE_PATH/secret-keys.json).",
    ),
    Setting("JWT_ALGORITHM", _algorithm, "HS256", "HMAC algorithm for access tokens."),
    Setting("JWT_ISSUER", _text, "field-server", "The iss claim of access tokens."),
    Setting("JWT_AUDIENCE", _text, "field-api", "The aud claim of access tokens."),
    Setting("ACCESS_TOKEN_SECONDS", _int(60, 86400), 900, "Lifetime of an access token."),
    Setting("REFRESH_TOKEN_DAYS", _int(1, 365), 30, "Lifetime of a refresh token."),
    Setting(
        "REFRESH_REUSE_LEEWAY",
        _int(0, 3600),
        30,
        "Seconds during which the same device "
        "may present a just-rotated refresh token again and get the same new pair.",
    ),
    Setting(
        "LOGIN_WINDOW_SECONDS", _int(1, 86400), 60, "Sliding window for counting failed logins."
    ),
    Setting(
        "LOGIN_MAX_FAILURES_PER_USER",
        _int(1),
        10,
        "Failed logins for one username within the window before 429 rate_limited.",
    ),
    Setting(
        "LOGIN_MAX_FAILURES_PER_ADDRESS",
        _int(1),
        300,
        "Failed logins from one client "
        "address within the window before 429 (loose: a ward may share one address).",
    ),
    Setting(
        "TRUSTED_PROXIES",
        _networks,
        (),
        "Addresses or networks (comma or space "
        "separated) whose X-Forwarded-For header is believed.",
    ),
    Setting("TIMEZONE", _timezone, "Asia/Ho_Chi_Minh", "The campaign's time zone (IANA name)."),
    Setting(
        "TARGET_RATE",
        _rate,
        0.60,
        "The campaign's coverage target, used for wards "
        "imported without one and for units above ward level.",
    ),
    Setting(
        "ASSIGNMENT_GRACE_DAYS",
        _int(0, 365),
        7,
        "Days a canvasser may still write in a unit after their assignment there ended.",
    ),
    Setting(
        "DEFAULT_LANGUAGE",
        _language,
        "vi",
        "Language of messages when the request has no Accept-Language header: vi or en.",
    ),
    Setting(
        "MAX_BODY_BYTES",
        _int(1024),
        5 * 1024 * 1024,
        "Largest request body accepted; larger ones get 413 payload_too_large.",
    ),
    Setting(
        "SQLITE_BUSY_TIMEOUT_MS",
        _int(0, 60000),
        5000,
        "How long a SQLite writer waits "
        "for the write lock (its turn in the writers' queue, then SQLite's lock, together) "
        "before the request gets 503 storage_unavailable; keep it below the WSGI worker "
        "timeout.",
    ),
    Setting(
        "WORKER_TIMEOUT",
        _int(5, 3600),
        60,
        "Seconds before gunicorn restarts a stuck worker (field-server serve).",
    ),
    Setting(
        "RETRY_AFTER_SECONDS", _int(1, 3600), 5, "Retry-After sent with 503 storage_unavailable."
    ),
    Setting("ARGON2_TIME_COST", _int(1, 20), 3, "argon2id passes."),
    Setting("ARGON2_MEMORY_KIB", _int(8, 4 * 1024 * 1024), 65536, "argon2id memory in KiB."),
    Setting("ARGON2_PARALLELISM", _int(1, 16), 2, "argon2id lanes."),
    Setting("LOG_LEVEL", _log_level, "INFO", "Python logging level of the server's own logger."),
)

SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}


def default_instance_path() -> Path:
    """Where Flask would put the instance folder: ``instance/`` beside the package in a
    source checkout (an editable install), ``PREFIX/var/field_server-instance`` when the
    package is installed into site-packages."""
    package_root = Path(__file__).resolve().parent.parent
    if "site-packages" in package_root.parts:
        return Path(sys.prefix) / "var" / "field_server-instance"
    return package_root / "instance"


def load_settings(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Read, parse and validate every setting; raise ConfigError naming the bad one.

    ``overrides`` (used by tests and embedding code) take already-parsed values keyed by the
    setting name without prefix; they are validated like the environment's.
    """
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(SETTINGS_BY_NAME) - {"TESTING"})
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        env_name = PREFIX + setting.name
        if setting.name in overrides:
            raw = overrides[setting.name]
            value = setting.parse(str(raw)) if isinstance(raw, (int, float, str)) else raw
            if raw is None:
                value = None
        elif environ.get(env_name, "") != "":
            try:
                value = setting.parse(environ[env_name])
            except ValueError as exc:
                raise ConfigError(f"{env_name}: {exc}") from None
        else:
            value = setting.default
        values[setting.name] = value

    instance = Path(values["INSTANCE_PATH"] or default_instance_path()).resolve()
    values["INSTANCE_PATH"] = str(instance)
    if values["DATABASE_URL"] is None:
        values["DATABASE_URL"] = f"sqlite:///{instance / 'field.db'}"

    if values["SECRET_KEY"] is None or values["JWT_KEY"] is None:
        stored = read_secrets_file(instance)
        if stored is None:
            missing = "FIELD_SECRET_KEY" if values["SECRET_KEY"] is None else "FIELD_JWT_KEY"
            raise ConfigError(
                f"{missing} is not set and {instance / SECRETS_FILE} does not exist: set it "
                "(at least 32 random bytes) or run `field-server init-secrets` once"
            )
        values["SECRET_KEY"] = values["SECRET_KEY"] or stored["secret_key"]
        values["JWT_KEY"] = values["JWT_KEY"] or stored["jwt_key"]
    # RFC 7518 §3.2: an HMAC key at least as long as the hash (32, 48, 64 bytes).
    jwt_minimum = max(MIN_KEY_BYTES, int(values["JWT_ALGORITHM"][2:]) // 8)
    for name, minimum in (("SECRET_KEY", MIN_KEY_BYTES), ("JWT_KEY", jwt_minimum)):
        length = len(values[name].encode())
        if length < minimum:
            raise ConfigError(
                f"FIELD_{name} is {length} bytes long; it must be at least {minimum} "
                "bytes of random data"
                + (f" for {values['JWT_ALGORITHM']}" if name == "JWT_KEY" else "")
            )
    if values["SQLITE_BUSY_TIMEOUT_MS"] >= values["WORKER_TIMEOUT"] * 1000:
        raise ConfigError(
            "FIELD_SQLITE_BUSY_TIMEOUT_MS must be below FIELD_WORKER_TIMEOUT (in ms), or a "
            "worker waiting for the lock is killed before it can answer 503"
        )
    if values["ARGON2_MEMORY_KIB"] < 8 * values["ARGON2_PARALLELISM"]:
        raise ConfigError(
            "FIELD_ARGON2_MEMORY_KIB must be at least 8 KiB per lane of FIELD_ARGON2_PARALLELISM"
        )
    values["TESTING"] = bool(overrides.get("TESTING", False))
    return values


def read_secrets_file(instance: Path) -> dict[str, str] | None:
    path = instance / SECRETS_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} cannot be read: {exc}") from None
    if not isinstance(data, dict) or not {"secret_key", "jwt_key"} <= set(data):
        raise ConfigError(f"{path} must hold secret_key and jwt_key")
    return data


def make_private_folder(folder: Path) -> None:
    """Create the folder (and its parents) unless it exists; the folder itself is made
    mode 0700: it holds the secrets, the SQLite database and the demo credentials, none of
    which another local user may read. A folder that exists keeps the mode its operator
    gave it."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        return
    # mkdir's mode passes through the umask, which may only remove bits; chmod says it.
    os.chmod(folder, 0o700)


def write_secrets_file(instance: Path) -> bool:
    """Create the secrets file (mode 0600) unless it exists; True when it was created.

    O_EXCL makes concurrent first starts agree on one file instead of overwriting each other.
    """
    make_private_folder(instance)
    path = instance / SECRETS_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as handle:
        json.dump(
            {"secret_key": secrets.token_urlsafe(48), "jwt_key": secrets.token_urlsafe(48)},
            handle,
        )
    return True
