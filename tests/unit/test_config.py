"""Settings are validated before anything starts; a bad one stops with a clear message."""

import json
import os
import stat

import pytest

from field_server.config import SETTINGS, ConfigError, load_settings, write_secrets_file

KEYS = {"FIELD_SECRET_KEY": "s" * 32, "FIELD_JWT_KEY": "j" * 32}


def load(tmp_path, **env):
    return load_settings({"FIELD_INSTANCE_PATH": str(tmp_path), **KEYS, **env})


def test_defaults(tmp_path):
    settings = load(tmp_path)
    assert settings["DATABASE_URL"] == f"sqlite:///{tmp_path / 'field.db'}"
    assert settings["TIMEZONE"] == "Asia/Ho_Chi_Minh"
    assert settings["TARGET_RATE"] == 0.6
    assert settings["REFRESH_REUSE_LEEWAY"] == 30
    assert settings["ASSIGNMENT_GRACE_DAYS"] == 7
    assert settings["DEFAULT_LANGUAGE"] == "vi"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"FIELD_JWT_KEY": "k" * 16}, "FIELD_JWT_KEY is 16 bytes"),
        ({"FIELD_SECRET_KEY": "short"}, "FIELD_SECRET_KEY is 5 bytes"),
        ({"FIELD_DATABASE_URL": "mysql://root@localhost/x"}, "unsupported database URL"),
        ({"FIELD_DATABASE_URL": "postgresql://u@h/db"}, r"postgresql\+psycopg"),
        ({"FIELD_TIMEZONE": "Mars/Olympus"}, "FIELD_TIMEZONE: unknown time zone"),
        ({"FIELD_TARGET_RATE": "60"}, "FIELD_TARGET_RATE"),
        ({"FIELD_REFRESH_REUSE_LEEWAY": "soon"}, "FIELD_REFRESH_REUSE_LEEWAY: expected a whole"),
        ({"FIELD_TRUSTED_PROXIES": "10.0.0.1, not-an-ip"}, "not-an-ip"),
        ({"FIELD_DEFAULT_LANGUAGE": "fr"}, "FIELD_DEFAULT_LANGUAGE"),
        ({"FIELD_JWT_ALGORITHM": "none"}, "FIELD_JWT_ALGORITHM"),
        ({"FIELD_ARGON2_MEMORY_KIB": "8"}, "8 KiB per lane"),
        ({"FIELD_JWT_ALGORITHM": "HS512", "FIELD_JWT_KEY": "k" * 63}, "at least 64 bytes"),
    ],
)
def test_bad_values_are_named(tmp_path, env, names):
    with pytest.raises(ConfigError, match=names):
        load(tmp_path, **env)


def test_missing_keys_point_to_init_secrets(tmp_path):
    with pytest.raises(ConfigError, match="init-secrets"):
        load_settings({"FIELD_INSTANCE_PATH": str(tmp_path)})


def test_secrets_file_is_private_written_once_and_used(tmp_path):
    assert write_secrets_file(tmp_path) is True
    first = (tmp_path / "secret-keys.json").read_text()
    assert write_secrets_file(tmp_path) is False
    assert (tmp_path / "secret-keys.json").read_text() == first
    assert stat.S_IMODE(os.stat(tmp_path / "secret-keys.json").st_mode) == 0o600
    settings = load_settings({"FIELD_INSTANCE_PATH": str(tmp_path)})
    assert settings["JWT_KEY"] == json.loads(first)["jwt_key"]
    assert len(settings["JWT_KEY"]) >= 32


def test_proxies_parse(tmp_path):
    settings = load(tmp_path, FIELD_TRUSTED_PROXIES="127.0.0.1 10.0.0.0/8")
    assert [str(n) for n in settings["TRUSTED_PROXIES"]] == ["127.0.0.1/32", "10.0.0.0/8"]


def test_every_setting_has_help():
    for setting in SETTINGS:
        assert setting.help.strip(), setting.name
