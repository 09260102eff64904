"""Settings from .env, environment and flags: clear one-line errors, no secrets shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlx_tui.settings import SettingsError, load_settings

SECRET = "wJalrXUtnFEMI-very-secret-KEY"


def write_env(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".env"
    path.write_text(text)
    return path


def test_credentials_from_lowercase_keys_select_the_lake(tmp_path: Path) -> None:
    env = write_env(tmp_path, f"aws_access_key_id=AKIAEXAMPLE\naws_secret_access_key={SECRET}\n")
    settings = load_settings(env_file=env, environ={})
    assert settings.source == "lake"
    assert settings.credentials is not None
    assert settings.credentials.access_key_id == "AKIAEXAMPLE"
    assert SECRET not in repr(settings)
    assert SECRET not in repr(settings.credentials)
    assert SECRET not in str(settings.credentials)


def test_uppercase_keys_are_accepted(tmp_path: Path) -> None:
    env = write_env(tmp_path, f"AWS_ACCESS_KEY_ID=AKIAEXAMPLE\nAWS_SECRET_ACCESS_KEY={SECRET}\n")
    assert load_settings(env_file=env, environ={}).credentials is not None


def test_no_credentials_means_demo_with_a_notice(tmp_path: Path) -> None:
    settings = load_settings(env_file=tmp_path / "absent.env", environ={})
    assert settings.source == "demo"
    assert any("demo lake" in notice for notice in settings.notices)


def test_half_set_credentials_name_the_missing_key(tmp_path: Path) -> None:
    env = write_env(tmp_path, "aws_access_key_id=AKIAEXAMPLE\n")
    with pytest.raises(SettingsError, match="aws_secret_access_key"):
        load_settings(env_file=env, environ={})


def test_secret_without_key_names_the_key_but_not_the_secret(tmp_path: Path) -> None:
    env = write_env(tmp_path, f"aws_secret_access_key={SECRET}\n")
    with pytest.raises(SettingsError) as info:
        load_settings(env_file=env, environ={})
    assert "aws_access_key_id" in str(info.value)
    assert SECRET not in str(info.value)


def test_malformed_line_is_named(tmp_path: Path) -> None:
    env = write_env(tmp_path, "# comment\naws_access_key_id=A\nthis line is wrong\n")
    with pytest.raises(SettingsError, match="line 3"):
        load_settings(env_file=env, environ={})


def test_typo_in_a_key_suggests_the_right_one(tmp_path: Path) -> None:
    env = write_env(tmp_path, "aws_acess_key_id=A\n")
    with pytest.raises(SettingsError, match="did you mean aws_access_key_id"):
        load_settings(env_file=env, environ={})


def test_unreadable_env_file_is_one_line(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.mkdir()  # unreadable as a file, even for root
    with pytest.raises(SettingsError, match="cannot be read"):
        load_settings(env_file=env, environ={})


@pytest.mark.parametrize("workers", [0, 3, 8])
def test_more_than_two_workers_is_refused(tmp_path: Path, workers: int) -> None:
    with pytest.raises(SettingsError, match="1 or 2"):
        load_settings(env_file=None, overrides={"workers": workers}, environ={})


def test_flags_override_environment_which_overrides_env_file(tmp_path: Path) -> None:
    env = write_env(tmp_path, "RLX_WORKERS=1\nRLX_RETRY_MAX_ATTEMPTS=3\n")
    from_file = load_settings(env_file=env, environ={})
    assert (from_file.workers, from_file.retry.max_attempts) == (1, 3)
    from_env = load_settings(env_file=env, environ={"RLX_WORKERS": "2"})
    assert from_env.workers == 2
    from_flag = load_settings(env_file=env, overrides={"workers": 1}, environ={"RLX_WORKERS": "2"})
    assert from_flag.workers == 1


def test_lake_source_without_credentials_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="needs aws_access_key_id"):
        load_settings(env_file=None, overrides={"source": "lake"}, environ={})


def test_env_example_documents_every_key() -> None:
    from rlx_tui.settings import ENV_KEYS

    example = (Path(__file__).parents[2] / ".env.example").read_text().lower()
    for key in ENV_KEYS:
        assert key in example, key


def test_a_bom_and_empty_template_values_are_fine(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_bytes("\ufeffRLX_WORKERS=\nRLX_SOURCE=\naws_access_key_id=\naws_secret_access_key=\n".encode())
    settings = load_settings(env_file=env, environ={})
    assert (settings.workers, settings.source) == (2, "demo")


@pytest.mark.parametrize("value", ["0", "nan", "inf", "-1"])
def test_absurd_fetch_timeouts_are_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(SettingsError, match="fetch timeout"):
        load_settings(env_file=None, environ={"RLX_FETCH_TIMEOUT_SECONDS": value})


def test_env_file_credentials_win_over_ambient_aws_variables(tmp_path: Path) -> None:
    env = write_env(tmp_path, f"aws_access_key_id=AKIALAKE\naws_secret_access_key={SECRET}\n")
    settings = load_settings(
        env_file=env, environ={"AWS_ACCESS_KEY_ID": "AKIACORP", "AWS_SECRET_ACCESS_KEY": "corp-secret"}
    )
    assert settings.credentials is not None
    assert settings.credentials.access_key_id == "AKIALAKE"
