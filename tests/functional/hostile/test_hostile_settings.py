"""Classes 1, 2 and 10 (settings): hostile settings get one line and exit 2; secrets and user strings
never leak into the terminal, a traceback or a file."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from pathlib import Path

import pytest

from rlx_tui.safety import UnsafeText, check_endpoint_url
from rlx_tui.secret import Secret
from rlx_tui.settings import Credentials, load_settings
from tests.functional.hostile.attack import FAKE_SECRET, Sandbox, clean_env, expect

INJECTION = 'http://127.0.0.1:9\ncredential_process = /bin/sh -c "touch {pwned}"'


# -- class 1: no traceback with variable values, every bad setting is one line and exit 2 ---------------
@pytest.mark.parametrize(
    ("how", "value", "says"),
    [
        ("flag", "~nosuchuser/data", "home"),
        ("env", "~nobody/x", "another user's home"),
        ("flag", "", "empty"),
        ("flag", "/", "filesystem root"),
        ("flag", "data\x1b[31mred", "control character"),
        ("flag", "data\nsecond-line", "control character"),
        ("envfile", "data\x00nul", "NUL"),
        ("envfile", "data\u202eevil", "U+202E"),
    ],
)
def test_a_bad_data_directory_is_one_line_exit_2(sandbox: Sandbox, how: str, value: str, says: str) -> None:
    env = clean_env()
    if how == "flag":
        # the issue's own example runs as a real process; its variants through main() (faster)
        runner = sandbox.run if value == "~nosuchuser/data" else sandbox.call
        result = runner("status", "--data-dir", value)
    else:
        if how == "env":
            env["RLX_DATA_DIR"] = value
        else:
            sandbox.env_file.write_text(
                f"aws_access_key_id=AKIAX\naws_secret_access_key={FAKE_SECRET}\nRLX_DATA_DIR={value}\n"
            )
        result = sandbox.call("status", env=env, data_flag=False)
    expect(result, 2, says=says)
    assert not Path("/logs").exists() or value != "/"


def test_a_symlink_loop_as_data_directory_is_one_line(sandbox: Sandbox) -> None:
    (sandbox.root / "loop-a").symlink_to(sandbox.root / "loop-b")
    (sandbox.root / "loop-b").symlink_to(sandbox.root / "loop-a")
    expect(sandbox.call("status", "--data-dir", str(sandbox.root / "loop-a")), 2, says="loop")


def test_a_world_writable_data_directory_is_refused(sandbox: Sandbox) -> None:
    sandbox.data.mkdir()
    sandbox.data.chmod(0o777)
    expect(sandbox.call("status"), 2, says="writable by every user")


def test_an_unexpected_error_before_logging_shows_no_variables(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], in_process: None
) -> None:
    """loguru's default handler prints variable values with a traceback: main() removes it first."""
    from rlx_tui import cli

    def explode(*args: object, **kwargs: object) -> None:
        secret_access_key = FAKE_SECRET  # a local a traceback with variables would show
        raise RuntimeError("boom " + secret_access_key[:4])

    monkeypatch.setattr(cli.parsing, "load_settings", explode)
    code = cli.main(["status", "--data-dir", str(sandbox.data), "--env-file", str(sandbox.env_file)])
    captured = capfd.readouterr()
    assert code == 1
    lines = [line for line in (captured.out + captured.err).splitlines() if line.strip()]
    assert len(lines) == 1 and "unexpected error" in lines[0], lines
    assert FAKE_SECRET not in captured.out + captured.err and "Traceback" not in captured.err


def test_secrets_never_show_in_repr_str_format_asdict_copies_or_pickles(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(f"aws_access_key_id=AKIAX\naws_secret_access_key={FAKE_SECRET}\n")
    settings = load_settings(env_file=env, environ={})
    creds = settings.credentials
    assert creds is not None and creds.secret_access_key.reveal() == FAKE_SECRET
    shown = [
        repr(settings),
        str(settings),
        repr(creds),
        str(creds),
        f"{creds.secret_access_key}",
        f"{creds.secret_access_key!r}",
        f"{creds.secret_access_key:>40}",
        repr(dataclasses.asdict(settings)),
        repr(dataclasses.asdict(creds)),
        repr(copy.deepcopy(settings)),
        repr(settings.secrets),
    ]
    for text in shown:
        assert FAKE_SECRET not in text, text
    with pytest.raises(TypeError):
        pickle.dumps(creds)
    assert Credentials("AKIAX", FAKE_SECRET) == Credentials("AKIAX", Secret(FAKE_SECRET))


def test_a_control_character_in_the_secret_is_refused_without_showing_it(sandbox: Sandbox) -> None:
    sandbox.env_file.write_text(f"aws_access_key_id=AKIAX\naws_secret_access_key={FAKE_SECRET}\x07\n")
    expect(sandbox.call("status"), 2, says="control character")


# -- class 2: no unchecked user string is written into a file --------------------------------------------
def test_an_endpoint_url_cannot_inject_a_config_line_from_a_flag(sandbox: Sandbox) -> None:
    pwned = sandbox.root / "pwned"
    result = sandbox.run("test-connection", "--endpoint-url", INJECTION.format(pwned=pwned))
    expect(result, 2, says="control character")
    assert not pwned.exists()
    assert not list(sandbox.root.rglob("endpoint-*.ini"))


def test_an_endpoint_url_cannot_inject_a_config_line_from_the_env_file(sandbox: Sandbox) -> None:
    pwned = sandbox.root / "pwned"
    url = INJECTION.format(pwned=pwned).replace("\n", "\\n").replace('"', '\\"')
    sandbox.env_file.write_text(f'RLX_SOURCE=demo\nRLX_ENDPOINT_URL="{url}"\n')
    expect(sandbox.call("test-connection"), 2, says="control character")
    assert not pwned.exists()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://", "no host"),
        ("http://127.0.0.1:99999", "65535"),
        ("http://127.0.0.1:0", "65535"),
        ("http://127.0.0.1:", "empty port"),
        ("ftp://127.0.0.1:9000", "http:// or https://"),
        ("127.0.0.1:9000", "http:// or https://"),
        ("http://user:hunter2@127.0.0.1:9000", "user name or password"),
        ("http://127.0.0.1:9000/a b", "spaces"),
        ("http://127.0.0.1:9000\t", "control character"),
        ("http://127.0.0.1:9000\r", "control character"),
        ("http://127.0.0.1:9000/?x=1", "query"),
        ("http://-bad-.example.com", "host name"),
        ("http://[::1", "IPv6"),
        ("http://300.1.1.1", "IPv4"),
        ("http://example.com/%0a", "%-escapes"),
    ],
)
def test_a_bad_endpoint_url_is_one_line_exit_2(sandbox: Sandbox, url: str, says: str) -> None:
    result = expect(sandbox.call("test-connection", "--endpoint-url", url), 2, says=says)
    assert "hunter2" not in result.text
    assert not sandbox.data.exists()  # refused before the data directory is touched


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9000", "https://s3.example.com", "http://[::1]:9000/mirror", "https://a-b.c:443/x_y"],
)
def test_good_endpoint_urls_still_pass(url: str) -> None:
    assert check_endpoint_url(url) == url


def test_make_session_refuses_an_unchecked_url_and_writes_nothing(tmp_path: Path) -> None:
    from rlx_tui.sources.demo.lake import endpoint_session
    from rlx_tui.sources.lake import make_session

    with pytest.raises(UnsafeText):
        make_session(None, "http://h:9\ncredential_process = x", tmp_path / "cfg")
    with pytest.raises(UnsafeText):
        endpoint_session("http://h:9\nx = y", "a", "b", tmp_path / "demo.ini")
    assert not list(tmp_path.rglob("*"))


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--log-level", "INFO\x1b[2J"], "control character"),
        (["--source", "demo\nlake"], "invalid choice"),
        (["--env-file", "a\x1b]0;title\x07"], "control character"),
    ],
)
def test_control_characters_in_any_setting_are_refused(sandbox: Sandbox, args: list[str], says: str) -> None:
    expect(sandbox.call("status", *args), 2, says=says)


def test_control_characters_in_a_waiver_never_reach_the_certificate(stocked: Sandbox) -> None:
    result = stocked.call(
        "certify", "--start", "2024-01-01", "--end", "2024-01-03", "--tables", "trades",
        "--waive", "trades/BINANCE/BTC-USDT/2024-01-02=outage\n# injected heading",
    )  # fmt: skip
    expect(result, 2, says="control character")


# -- class 6 (inputs) and 10: .env files that are not files, too big, or unparseable ----------------------
@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory", "too-big"])
def test_an_env_file_that_is_not_a_small_regular_file_is_refused_quickly(sandbox: Sandbox, kind: str) -> None:
    import os

    path = sandbox.root / "weird.env"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path = Path("/dev/zero")
    elif kind == "directory":
        path.mkdir()
    else:
        path.write_text("# padding\n" * 20_000)
    if kind == "dev-zero":  # a real process, so its memory can be measured
        result = sandbox.run("status", "--env-file", str(path), timeout=30)
        assert result.seconds < 20 and result.max_rss_mb < 400
    else:
        result = sandbox.call("status", "--env-file", str(path))
    expect(result, 2, says="cannot be read")


def test_an_unterminated_quote_in_env_is_our_one_line(sandbox: Sandbox) -> None:
    sandbox.env_file.write_text('RLX_SOURCE=demo\nRLX_LOG_LEVEL="INFO\n')
    expect(sandbox.call("status"), 2, says=["line 2", "unterminated quote"])
