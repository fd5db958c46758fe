"""Failures are loud and recoverable, through the `edm` command against real aiosmtpd relays.

A refused login stops the run at once after one AUTH and puts every row back untouched; a
login over plain text is refused before any connection; rows that failed make the run exit 2
with their reasons, and `edm send --retry-failed` sends them once the cause is fixed, never
anyone twice.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections import Counter
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from edm.cli import EXIT_FAILED, main
from edm.delivery.retry import REASON_CHARS, failure_reason
from edm.resources import bundled_config_dir
from edm.store import OutboxMessage
from tests.delivery.cli_folder import cli_environment, edm
from tests.delivery.rows import queue, states
from tests.delivery.smtp_servers import ScriptedHandler, serving

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
USER, RIGHT, WRONG = "mailer@example.com", "the-right-one", "wrong-secret-password"


class Logins:
    """An aiosmtpd authenticator that counts every AUTH it is asked and takes one password."""

    def __init__(self, password: str) -> None:
        self.password = password
        self.attempts = 0
        self._lock = threading.Lock()

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        with self._lock:
            self.attempts += 1
        ok = isinstance(data, LoginPassword) and data.password == self.password.encode()
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535 on failure


def login_relay(handler: ScriptedHandler, logins: Logins) -> AbstractContextManager[int]:
    """A relay that demands a login, offered over plain text (for `allow_plaintext_auth: true`)."""
    return serving(handler, authenticator=logins, auth_required=True, auth_require_tls=False)


def _errors(result: Result) -> str:
    """What the command said on stderr, less the `database: URL` line every store command starts with."""
    lines = result.stderr.splitlines(keepends=True)
    return "".join(line for line in lines if not line.startswith("database: "))


def _attempts(sessions: sessionmaker[Session]) -> set[int]:
    with sessions() as session:
        return set(session.scalars(select(OutboxMessage.attempts)))


def _break_subject(tmp_path: Path, campaign: str, subject: str) -> None:
    path = tmp_path / "campaigns" / f"{campaign}.yaml"
    text = (bundled_config_dir() / "campaigns" / f"{campaign}.yaml").read_text(encoding="utf-8")
    start = text.index("\n  en: ") + len("\n  en: ")
    path.write_text(text[:start] + subject + text[text.index("\n", start):], encoding="utf-8")


def test_a_wrong_password_stops_at_once_after_one_login_and_puts_every_row_back(
    store: tuple[sessionmaker[Session], str], tmp_path: Path
) -> None:
    sessions, url = store
    emails = [f"u{i}@example.com" for i in range(12)]
    queue(sessions, emails, datetime.now(UTC))
    handler, logins = ScriptedHandler(), Logins(RIGHT)
    with login_relay(handler, logins) as port:
        environment = cli_environment(tmp_path, url, port, EDM_SMTP__USERNAME=USER, EDM_SMTP__PASSWORD=WRONG,
                                   EDM_SMTP__ALLOW_PLAINTEXT_AUTH="true")
        started = time.monotonic()
        refused = edm(environment, "send")
        elapsed = time.monotonic() - started
        assert refused.exit_code == 1 and elapsed < 3, (refused.exit_code, elapsed, refused.output)
        assert logins.attempts == 1 and handler.recipients == []  # one AUTH with 4 connections wanted
        assert _errors(refused).strip().splitlines() == [
            f"Error: the relay 127.0.0.1:{port} refused the login for user {USER!r} "
            "(535 5.7.8 Authentication credentials invalid): check EDM_SMTP__USERNAME / EDM_SMTP__PASSWORD"
        ]
        assert WRONG not in refused.output
        # back as they were: queued, no attempt counted, nothing failed
        assert set(states(sessions).values()) == {"queued"} and _attempts(sessions) == {0}

        environment["EDM_SMTP__PASSWORD"] = RIGHT  # the cause fixed: the same rows go, once each
        fixed = edm(environment, "send")
    assert fixed.exit_code == 0, fixed.output
    assert "sent 12," in fixed.stdout
    assert sorted(handler.recipients) == sorted(emails)
    assert set(states(sessions).values()) == {"sent"}


def test_a_relay_demanding_a_login_we_do_not_have_stops_the_run_and_says_what_to_set(
    store: tuple[sessionmaker[Session], str], tmp_path: Path
) -> None:
    sessions, url = store
    queue(sessions, [f"u{i}@example.com" for i in range(6)], datetime.now(UTC))
    handler, logins = ScriptedHandler(), Logins(RIGHT)
    with login_relay(handler, logins) as port:
        result = edm(cli_environment(tmp_path, url, port), "send")
    assert result.exit_code == 1
    assert f"the relay 127.0.0.1:{port} demands a login (530" in result.stderr
    assert "set EDM_SMTP__USERNAME / EDM_SMTP__PASSWORD" in result.stderr
    assert set(states(sessions).values()) == {"queued"} and _attempts(sessions) == {0}
    assert handler.recipients == []


def test_a_login_over_plain_text_is_refused_before_any_connection(
    store: tuple[sessionmaker[Session], str], tmp_path: Path
) -> None:
    sessions, url = store
    queue(sessions, ["u1@example.com"], datetime.now(UTC))
    with socket.socket() as listening:  # a port that would accept: nothing may knock
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        listening.setblocking(False)
        port = listening.getsockname()[1]
        environment = cli_environment(tmp_path, url, port, EDM_SMTP__USERNAME=USER, EDM_SMTP__PASSWORD=WRONG)
        results = [edm(environment, "send"), edm(environment, "campaign", "run", "win_back")]
        with pytest.raises(BlockingIOError):
            listening.accept()
    for result in results:
        assert result.exit_code == 1
        assert f"refusing to log in to 127.0.0.1:{port} without TLS" in result.stderr
        assert "smtp.starttls: true" in result.stderr and "smtp.allow_plaintext_auth: true" in result.stderr
        assert WRONG not in result.output
    assert states(sessions) == {"u1@example.com": "queued"}  # and the run planned nothing
    with sessions() as session:
        assert len(session.scalars(select(OutboxMessage.id)).all()) == 1


def test_starttls_is_demanded_when_configured_never_skipped(
    store: tuple[sessionmaker[Session], str], tmp_path: Path
) -> None:
    sessions, url = store
    queue(sessions, ["u1@example.com"], datetime.now(UTC))
    handler = ScriptedHandler()
    with serving(handler) as port:  # offers no STARTTLS
        started = time.monotonic()
        result = edm(cli_environment(tmp_path, url, port, EDM_SMTP__STARTTLS="true"), "send")
    assert result.exit_code == 1 and time.monotonic() - started < 3
    assert f"the relay 127.0.0.1:{port} does not offer STARTTLS, which smtp.starttls demands" in result.stderr
    assert handler.recipients == [] and states(sessions) == {"u1@example.com": "queued"}


def test_failed_rows_exit_2_with_their_reasons_and_retry_failed_sends_each_once(
    store: tuple[sessionmaker[Session], str], tmp_path: Path
) -> None:
    sessions, url = store
    broken = [f"b{i}@example.com" for i in range(3)]  # win_back: its subject uses an unknown name
    fine = ["ok1@example.com", "ok2@example.com"]
    spam, gone = "spam@example.com", "gone@example.com"  # re_engagement: refused as spam / no such user
    queue(sessions, [*broken, *fine, spam, gone], datetime.now(UTC))
    with sessions.begin() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.to_address.not_in(broken))
                        .values(campaign="re_engagement"))
    refusals = {spam: "554 5.7.1 message 8F3A2B1C rejected as spam", gone: "550 5.1.1 no such user"}
    handler = ScriptedHandler(lambda rcpt, n: refusals.get(rcpt))
    with serving(handler) as port:
        environment = cli_environment(tmp_path, url, port)
        _break_subject(tmp_path, "win_back", '"Hello {{ nickname }}"')

        first = edm(environment, "send")
        assert first.exit_code == EXIT_FAILED, first.output
        assert "sent 2, deferred 0, bounced 1, suppressed 0, failed 4" in first.stdout
        reasons = _errors(first).strip().splitlines()
        assert reasons[0] == "4 failed:"
        assert reasons[1].startswith("  3 × win_back subject (en): ") and reasons[1].endswith(" (win_back)")
        assert "'nickname' is undefined" in reasons[1]
        assert reasons[2] == "  1 × 554 5.7.1 message … rejected as spam (re_engagement)"
        assert reasons[3] == ("fix the cause, then run `edm send --retry-failed` "
                              "(or with --campaign NAME for one)")

        _break_subject(tmp_path, "win_back", '"We miss you, {{ greeting_name }}"')  # the template fixed
        retried = edm(environment, "send", "--retry-failed", "--campaign", "win_back")
        assert retried.exit_code == 0, retried.output
        assert "3 failed messages of campaign 'win_back' queued again" in retried.stderr
        assert "sent 3, deferred 0, bounced 0, suppressed 0, failed 0" in retried.stdout
        assert states(sessions)[spam] == "failed"  # another campaign's failure waits for its own retry

        refusals.pop(spam)  # the relay's complaint dealt with
        again = edm(environment, "send", "--retry-failed")
        assert again.exit_code == 0 and "sent 1, deferred 0, bounced 0" in again.stdout, again.output
        nothing = edm(environment, "send", "--retry-failed")
        assert nothing.exit_code == 0 and "no failed messages" in nothing.stderr
        assert "sent 0," in nothing.stdout
    assert Counter(handler.recipients) == Counter([*fine, *broken, spam])  # each exactly once, gone never
    assert states(sessions) == {**dict.fromkeys([*broken, *fine, spam], "sent"), gone: "bounced"}


def test_a_campaign_run_with_failed_rows_exits_2_and_a_bounce_alone_does_not(
    store: tuple[sessionmaker[Session], str], tmp_path: Path
) -> None:
    sessions, url = store
    queue(sessions, ["b1@example.com", "b2@example.com"], datetime.now(UTC))
    handler = ScriptedHandler(lambda rcpt, n: "550 5.1.1 no such user" if rcpt.startswith("gone") else None)
    with serving(handler) as port:
        environment = cli_environment(tmp_path, url, port)
        _break_subject(tmp_path, "win_back", '"Hello {{ nickname }}"')
        failing = edm(environment, "campaign", "run", "win_back")
        assert failing.exit_code == EXIT_FAILED, failing.output
        reasons = failing.stderr
        assert "2 failed:\n  2 × win_back subject (en): <string> line 1: 'nickname' is undefined" in reasons
        assert "fix the cause, then run `edm send --retry-failed --campaign win_back`" in reasons

        with sessions.begin() as session:
            session.execute(update(OutboxMessage).values(state="sent"))
        queue(sessions, ["gone@example.com"], datetime(2026, 1, 1, tzinfo=UTC))
        shutil.copy(bundled_config_dir() / "campaigns" / "win_back.yaml", tmp_path / "campaigns")
        bounced = edm(environment, "send")
    assert bounced.exit_code == 0, bounced.output  # a bad address is the recipient's problem
    assert "bounced 1" in bounced.stdout and _errors(bounced) == ""


def test_send_campaign_without_retry_failed_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "edm.yaml").write_text("{}\n", encoding="utf-8")
    config = str(tmp_path / "edm.yaml")
    result = CliRunner().invoke(main, ["send", "--campaign", "win_back", "--config", config])
    assert result.exit_code == 2 and "--campaign goes with --retry-failed" in result.output


@settings(derandomize=True, max_examples=60, deadline=None)
@given(code=st.sampled_from(["421", "451", "550", "554"]), text=st.text(max_size=150),
       queue_id=st.from_regex(r"[A-F]{1,4}[0-9]{4,8}", fullmatch=True),
       other_id=st.from_regex(r"[A-F]{1,4}[0-9]{4,8}", fullmatch=True))
def test_a_failure_reason_is_one_short_line_that_ignores_queue_ids(code: str, text: str, queue_id: str,
                                                                   other_id: str) -> None:
    reason = failure_reason(f"{code} {text} id={queue_id}")
    assert reason and "\n" not in reason and "\r" not in reason and len(reason) <= REASON_CHARS
    assert reason == failure_reason(f"{code} {text} id={other_id}")  # one refusal, one group
    assert reason.startswith("gave up retrying: ") == code.startswith("4")
