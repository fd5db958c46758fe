"""`edm users add|list|disable`: the hidden prompt, the rules a user must meet, hashes only."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from edm.cli import main
from edm.config import load_settings
from edm.runner import open_store
from edm.store import ConsoleUser
from tests.console.conftest import PASSWORD, edm


def _users(folder: Path, *args: str, answer: str | None = None,
           env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["users", *args, "--config", str(folder / "edm.yaml")], input=answer,
                                env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_a_user_is_added_with_a_hidden_prompt_listed_and_disabled(tmp_path: Path) -> None:
    assert CliRunner().invoke(main, ["init", str(tmp_path)], catch_exceptions=False).exit_code == 0
    code, output = _users(tmp_path, "add", "li.wei", "--role", "marketer", answer=f"{PASSWORD}\n{PASSWORD}\n")
    assert code == 0 and "added li.wei (marketer)" in output
    assert PASSWORD not in output  # the prompt does not echo it
    with open_store(load_settings(tmp_path / "edm.yaml"))() as session:
        (row,) = session.scalars(select(ConsoleUser))
        assert row.password_hash.startswith("$argon2id$") and PASSWORD not in row.password_hash
    listed = edm(tmp_path, "users", "list")
    assert "li.wei\tmarketer\t-\tcreated " in listed and "active" in listed
    assert "disabled li.wei" in edm(tmp_path, "users", "disable", "li.wei")
    assert "disabled 20" in edm(tmp_path, "users", "list")


def test_users_that_break_the_rules_are_refused_with_the_reason(tmp_path: Path) -> None:
    assert CliRunner().invoke(main, ["init", str(tmp_path)], catch_exceptions=False).exit_code == 0
    env = {"EDM_USER_PASSWORD": PASSWORD}
    assert _users(tmp_path, "add", "ada", "--role", "admin", env=env)[0] == 0
    for args, password, why in (
        (("ada", "--role", "analyst"), PASSWORD, "a user named 'ada' exists already"),
        (("bob", "--role", "analyst"), "short", "at least 12 characters"),
        (("max", "--role", "manager"), PASSWORD, "a manager needs --email"),
        (("bad name", "--role", "analyst"), PASSWORD, "use letters, digits"),
    ):
        code, output = _users(tmp_path, "add", *args, env={"EDM_USER_PASSWORD": password})
        assert code == 1 and why in output, output
    assert _users(tmp_path, "add", "eve", "--role", "owner", env=env)[0] == 2  # not a role
    code, output = _users(tmp_path, "disable", "nobody")
    assert code == 1 and "no user named 'nobody'" in output
    assert "ada\tadmin" in edm(tmp_path, "users", "list") and "bob" not in edm(tmp_path, "users", "list")
