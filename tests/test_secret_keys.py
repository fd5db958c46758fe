"""Commands that sign or send refuse to start without a strong `EDM_SECRET_KEY`, before touching anything."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from edm.cli import main
from edm.config import MAKE_KEY, Settings, load_settings
from edm.errors import ConfigError
from tests.conftest import OLD_SECRET_KEY, SECRET_KEY

COMMAND = [sys.executable, "-c", "from edm.cli import main; main()"]
SIGNING = [["send", "--no-wait"], ["worker"], ["daemon"], ["campaign", "run", "win_back"],
           ["track", "serve", "--port", "1"]]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A working folder whose database does not exist yet: a refusing command must not create it."""
    (tmp_path / "edm.yaml").write_text("database_url: sqlite:///edm.db\n", encoding="utf-8")
    return tmp_path


def refusal(result_output: str) -> str:
    """The error line of a refused command (after the database line)."""
    lines = result_output.splitlines()
    assert len(lines) == 2 and lines[0].startswith("database: "), result_output
    return lines[1]


@pytest.mark.parametrize("args", SIGNING, ids=lambda args: args[0] if args[0] != "campaign" else "run")
@pytest.mark.parametrize(("key", "why"), [
    (None, "EDM_SECRET_KEY is not set"),
    ("k", "the key is too weak (fewer than 10 different characters)"),
    ("test-secret", "the key is too weak (fewer than 10 different characters)"),
    ("0123456789abcdef" * 2, "the key is too weak (32 hex digits, 64 needed)"),
    (SECRET_KEY[:40], "the key is too weak (40 base64 characters, 43 needed)"),
    (f"{SECRET_KEY},short", "key 2 of 2 is too weak"),
])
def test_signing_commands_refuse_a_missing_or_weak_key_before_anything_else(
        folder: Path, args: list[str], key: str | None, why: str) -> None:
    env = {"EDM_CONFIG": str(folder / "edm.yaml"), **({"EDM_SECRET_KEY": key} if key else {})}
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 1
    line = refusal(result.output)
    assert line.startswith("Error: EDM_SECRET_KEY") and why in line, line
    assert line.endswith(f"Make {'a key' if key is None else 'one'} with: {MAKE_KEY}")
    assert key is None or len(key) < 5 or key not in line  # never the key itself
    assert not (folder / "edm.db").exists()  # refused before the store was opened (or created)


def test_the_daemon_without_a_key_exits_at_once_and_starts_no_worker(folder: Path) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("EDM_")}
    env.update({"EDM_CONFIG": str(folder / "edm.yaml"), "EDM_DAEMON__WORKERS": "2",
                "EDM_DAEMON__METRICS_PORT": "0"})
    started = time.monotonic()
    result = subprocess.run([*COMMAND, "daemon"], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert time.monotonic() - started < 10
    assert "EDM_SECRET_KEY is not set" in result.stderr and MAKE_KEY in result.stderr
    assert "worker pid" not in result.stderr and "role=" not in result.stderr
    assert "Traceback" not in result.stderr
    assert not (folder / "edm.db").exists() and not (folder / "edm.db.leader").exists()


def test_a_dry_run_signs_nothing_and_needs_no_key(folder: Path) -> None:
    assert CliRunner().invoke(main, ["init", str(folder)]).exit_code == 0
    result = CliRunner().invoke(main, ["campaign", "run", "win_back", "--dry-run"],
                                env={"EDM_CONFIG": str(folder / "edm.yaml")})
    assert result.exit_code == 0, result.output


def signing_keys(folder: Path, value: str) -> list[bytes]:
    return load_settings(folder / "edm.yaml", {"EDM_SECRET_KEY": value}).signing_keys()


def test_what_the_suggested_command_makes_is_accepted_in_rotation(folder: Path) -> None:
    made = [secrets.token_urlsafe(32), secrets.token_hex(32),
            "a passphrase with spaces and all: 32+ characters!"]
    rotation = [SECRET_KEY.encode(), OLD_SECRET_KEY.encode()]
    assert signing_keys(folder, f"{SECRET_KEY}, {OLD_SECRET_KEY}") == rotation
    assert signing_keys(folder, ",".join(made)) == [key.encode() for key in made]


@settings(derandomize=True, max_examples=200)
@given(size=st.integers(32, 64), hex_key=st.booleans())
def test_32_random_bytes_in_either_spelling_always_pass(size: int, hex_key: bool) -> None:
    key = secrets.token_hex(size) if hex_key else secrets.token_urlsafe(size)
    assert default_keys(key) == [key.encode()]


@settings(derandomize=True, max_examples=200)
@given(st.text(st.characters(codec="utf-8", exclude_characters=","), max_size=31).map(str.strip)
       .filter(bool))
def test_anything_shorter_than_32_characters_is_refused(key: str) -> None:
    with pytest.raises(ConfigError, match="too weak") as caught:
        default_keys(key)
    assert MAKE_KEY in str(caught.value)


@settings(derandomize=True, max_examples=200)
@given(st.text(st.sampled_from("abcdefgh!"), min_size=32, max_size=200))
def test_few_different_characters_are_refused_however_long(key: str) -> None:
    with pytest.raises(ConfigError, match="fewer than 10 different characters"):
        default_keys(key)


def default_keys(key: str) -> list[bytes]:
    return Settings(secret_keys=(SecretStr(key),)).signing_keys()
