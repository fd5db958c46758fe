"""Bounce mailboxes: real Maildir and mbox files, recorded in a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import imaplib
import mailbox
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme
from click.testing import CliRunner
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from edm.cli import main
from edm.clock import FixedClock
from edm.config import BounceSettings, ImapSettings, load_settings
from edm.delivery.bounces import parse_bounce
from edm.delivery.mailbox import (
    ImapSource,
    MaildirSource,
    Outcome,
    PollSummary,
    poll_bounces,
    process_source,
    record_bounce,
)
from edm.delivery.sink import free_port
from edm.errors import ConfigError
from edm.runner import open_store
from edm.store import Customer, Event, OutboxMessage, Suppression
from edm.suppression import HARD_BOUNCE
from tests.conftest import SECRET_KEY
from tests.delivery.mail_ids import KEYS, tagged

SAMPLES = Path(__file__).parent / "data" / "bounces"
NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
PREFIXES = {  # sample -> (the key prefix its Message-ID carries, the address it bounced)
    "postfix_user_unknown.eml": ("3f9a1c0e5b7d42e8a6c1f0d9b2e47a15", "wang.li@customer.example.cn"),
    "gmail_over_quota.eml": ("1a2b3c4d5e6f70819203a4b5c6d7e8f9", "lisa.chen@gmail.com"),
    "postfix_delayed.eml": ("d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6", "buyer@slow.example.org"),
    "qq_mailbox_not_found.eml": ("9a8b7c6d5e4f30211203f4e5d6c7b8a9", "chen.jie@qq.com"),
}


def _sample(name: str) -> bytes:
    return tagged((SAMPLES / name).read_bytes())


def _add_row(sessions: sessionmaker[Session], key: str, email: str, state: str = "sent") -> int:
    with sessions.begin() as session:
        customer = Customer(external_id=key, name=email, email=email, kind="person", created_at=NOW)
        session.add(customer)
        session.flush()
        row = OutboxMessage(key=key, campaign="win_back", step=0, customer_id=customer.id,
                            occurrence=NOW.date(), to_address=email, state=state, attempts=1,
                            next_attempt_at=NOW, created_at=NOW, sent_at=NOW, last_reply="250 ok")
        session.add(row)
        session.flush()
        return row.id


def _add_sample_rows(sessions: sessionmaker[Session]) -> dict[str, int]:
    return {name: _add_row(sessions, prefix + "0" * 32, email) for name, (prefix, email) in PREFIXES.items()}


def _record(sessions: sessionmaker[Session], raw: bytes) -> Outcome:
    with sessions.begin() as session:
        return record_bounce(session, parse_bounce(raw), NOW, KEYS)


def _events(sessions: sessionmaker[Session]) -> list[tuple[str, int | None, datetime]]:
    with sessions() as session:
        rows = session.execute(select(Event.kind, Event.outbox_id, Event.occurred_at).order_by(Event.id))
        return [(kind, outbox_id, when) for kind, outbox_id, when in rows]


def _suppressed(sessions: sessionmaker[Session]) -> dict[str, str]:
    with sessions() as session:
        rows = session.execute(select(Suppression.email, Suppression.reason))
        return {email: reason for email, reason in rows}


def test_a_hard_bounce_bounces_the_row_and_suppresses_the_address_once(
    any_sessions: sessionmaker[Session],
) -> None:
    ids = _add_sample_rows(any_sessions)
    raw = _sample("postfix_user_unknown.eml")
    assert _record(any_sessions, raw) is Outcome.HARD
    assert _record(any_sessions, raw) is Outcome.REPEATED
    with any_sessions() as session:
        row = session.get_one(OutboxMessage, ids["postfix_user_unknown.eml"])
        assert row.state == "bounced"
        assert row.last_reply is not None and "User unknown" in row.last_reply
        others = session.scalars(select(OutboxMessage.state).where(OutboxMessage.id != row.id)).all()
    assert set(others) == {"sent"}
    assert _events(any_sessions) == [("bounce", row.id, datetime(2026, 11, 24, 9, 14, 3, tzinfo=UTC))]
    assert _suppressed(any_sessions) == {"wang.li@customer.example.cn": HARD_BOUNCE}


def test_a_soft_bounce_is_only_recorded_and_each_report_only_once(
    any_sessions: sessionmaker[Session],
) -> None:
    ids = _add_sample_rows(any_sessions)
    first = _sample("postfix_delayed.eml")
    later = first.replace(b"Date: Tue, 24 Nov 2026 13:20:11", b"Date: Wed, 25 Nov 2026 09:20:11")
    assert [_record(any_sessions, raw) for raw in (first, first, later, later)] == [
        Outcome.SOFT, Outcome.REPEATED, Outcome.SOFT, Outcome.REPEATED,
    ]
    row_id = ids["postfix_delayed.eml"]
    recorded = [(kind, outbox_id) for kind, outbox_id, _ in _events(any_sessions)]
    assert recorded == [("soft_bounce", row_id)] * 2
    with any_sessions() as session:
        assert session.get_one(OutboxMessage, row_id).state == "sent"
    assert _suppressed(any_sessions) == {}


def test_an_undated_soft_bounce_is_recorded_once(any_sessions: sessionmaker[Session]) -> None:
    _add_sample_rows(any_sessions)
    raw = _sample("gmail_over_quota.eml").replace(b"Date: Tue, 24 Nov 2026 01:20:41 -0800 (PST)\n", b"")
    assert parse_bounce(raw) is not None and parse_bounce(raw).arrived_at is None  # type: ignore[union-attr]
    assert [_record(any_sessions, raw) for _ in range(2)] == [Outcome.SOFT, Outcome.REPEATED]


def test_a_bounce_after_a_synchronous_bounce_changes_nothing(sessions: sessionmaker[Session]) -> None:
    prefix, email = PREFIXES["qq_mailbox_not_found.eml"]
    _add_row(sessions, prefix + "f" * 32, email, state="bounced")
    assert _record(sessions, _sample("qq_mailbox_not_found.eml")) is Outcome.REPEATED
    assert _events(sessions) == [] and _suppressed(sessions) == {}


def test_unknown_and_foreign_ids_are_counted_and_change_nothing(any_sessions: sessionmaker[Session]) -> None:
    prefix = PREFIXES["postfix_user_unknown.eml"][0]
    neighbours = [prefix[:-1] + "4" + "f" * 32, prefix[:-1] + "6" + "0" * 32, prefix[:-1]]
    for key in neighbours:  # keys around the prefix, none of them starting with it
        _add_row(any_sessions, key, f"{key[:6]}@example.com")
    assert _record(any_sessions, _sample("postfix_user_unknown.eml")) is Outcome.UNKNOWN
    assert _record(any_sessions, _sample("not_ours.eml")) is Outcome.UNKNOWN
    assert _record(any_sessions, _sample("out_of_office.eml")) is Outcome.SKIPPED
    with any_sessions() as session:
        assert set(session.scalars(select(OutboxMessage.state))) == {"sent"}
    assert _events(any_sessions) == [] and _suppressed(any_sessions) == {}


def _maildir(tmp_path: Path, *names: str) -> Path:
    path = tmp_path / "bounces"
    box = mailbox.Maildir(path, create=True)
    for name in names:
        box.add(mailbox.MaildirMessage(_sample(name)))
    box.close()
    return path


def test_a_maildir_is_processed_once_and_its_mail_moves_to_processed(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    _add_sample_rows(sessions)
    names = [*PREFIXES, "postfix_user_unknown.eml", "not_ours.eml", "delivered_notice.eml"]
    path = _maildir(tmp_path, *names)
    clock = FixedClock(NOW)
    summary = poll_bounces(sessions, BounceSettings(maildir=path), clock, KEYS)
    assert summary == PollSummary(hard=2, soft=2, unknown=1, skipped=1, repeated=1)
    assert list(mailbox.Maildir(path, create=False).keys()) == []
    processed = mailbox.Maildir(path / ".processed", create=False)
    assert len(processed) == len(names)
    assert all(m.get_subdir() == "cur" and "S" in m.get_flags() for m in processed)
    assert poll_bounces(sessions, BounceSettings(maildir=path), clock, KEYS) == PollSummary()
    assert set(_suppressed(sessions)) == {"wang.li@customer.example.cn", "chen.jie@qq.com"}


def test_a_crash_before_marking_reads_the_mail_again_and_changes_nothing(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    class Crashing(MaildirSource):
        def mark_processed(self, ident: str) -> None:
            raise KeyboardInterrupt  # killed after the commit, before the move

    _add_sample_rows(sessions)
    path = _maildir(tmp_path, "postfix_user_unknown.eml")
    with pytest.raises(KeyboardInterrupt):
        process_source(sessions, Crashing(path), FixedClock(NOW), KEYS)
    again = process_source(sessions, MaildirSource(path), FixedClock(NOW + timedelta(hours=1)), KEYS)
    assert again == PollSummary(repeated=1)
    assert len(_events(sessions)) == 1


def test_an_mbox_is_left_as_it_is_and_only_new_mail_is_read(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    _add_sample_rows(sessions)
    path = tmp_path / "bounces.mbox"
    box = mailbox.mbox(path)
    for name in ("postfix_user_unknown.eml", "gmail_over_quota.eml", "out_of_office.eml"):
        box.add(mailbox.mboxMessage(_sample(name)))
    box.close()
    before = path.read_bytes()
    clock = FixedClock(NOW)
    assert poll_bounces(sessions, BounceSettings(mbox=path), clock, KEYS) == PollSummary(
        hard=1, soft=1, skipped=1)
    assert path.read_bytes() == before
    assert len((tmp_path / "bounces.mbox.edm-processed").read_text().split()) == 3
    assert poll_bounces(sessions, BounceSettings(mbox=path), clock, KEYS) == PollSummary()
    box = mailbox.mbox(path)
    box.add(mailbox.mboxMessage(_sample("qq_mailbox_not_found.eml")))
    box.close()
    assert poll_bounces(sessions, BounceSettings(mbox=path), clock, KEYS) == PollSummary(hard=1)


def test_a_missing_mailbox_or_none_at_all_is_a_clear_error(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=r"maildir .*nowhere"):
        poll_bounces(sessions, BounceSettings(maildir=tmp_path / "nowhere"), FixedClock(NOW), KEYS)
    with pytest.raises(ConfigError, match="no bounce mailbox is configured"):
        poll_bounces(sessions, BounceSettings(), FixedClock(NOW), KEYS)


def test_settings_resolve_paths_and_take_the_imap_password_only_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "edm.yaml"
    path.write_text("bounces:\n  mbox: mail/bounces.mbox\n  imap: {host: imap.example.com, username: b}\n",
                    encoding="utf-8")
    settings = load_settings(path, environ={"EDM_BOUNCES__IMAP__PASSWORD": "12345"})
    assert settings.bounces.mbox == tmp_path / "mail" / "bounces.mbox"
    assert settings.bounces.imap is not None and settings.bounces.imap.port == 993
    assert settings.bounces.imap.password is not None
    assert settings.bounces.imap.password.get_secret_value() == "12345"  # a string, not the number
    assert "12345" not in repr(settings)
    path.write_text("bounces:\n  imap: {host: imap.example.com, username: b, password: x}\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError, match="EDM_BOUNCES__IMAP__PASSWORD"):
        load_settings(path, environ={})


def test_cli_poll_prints_the_counts_and_the_store_shows_the_effect(tmp_path: Path) -> None:
    config = tmp_path / "edm.yaml"
    config.write_text("database_url: sqlite:///edm.db\nbounces:\n  maildir: bounces\n", encoding="utf-8")
    sessions = open_store(load_settings(config, environ={}))
    _add_sample_rows(sessions)
    _maildir(tmp_path, "qq_mailbox_not_found.eml", "postfix_delayed.eml", "not_ours.eml")
    runner = CliRunner()
    result = runner.invoke(main, ["bounces", "poll", "--config", str(config)],
                           env={"EDM_SECRET_KEY": SECRET_KEY}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stdout == "hard 1, soft 1, complaints 0, unknown 1, skipped 0, already recorded 0\n"
    assert _suppressed(sessions) == {"chen.jie@qq.com": HARD_BOUNCE}
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 2
    again = runner.invoke(main, ["bounces", "poll", "--config", str(config)],
                          env={"EDM_SECRET_KEY": SECRET_KEY}, catch_exceptions=False)
    assert again.stdout == "hard 0, soft 0, complaints 0, unknown 0, skipped 0, already recorded 0\n"


def test_cli_poll_without_a_mailbox_says_what_to_set(tmp_path: Path) -> None:
    config = tmp_path / "edm.yaml"
    config.write_text("database_url: sqlite:///edm.db\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["bounces", "poll", "--config", str(config)],
                                env={"EDM_SECRET_KEY": SECRET_KEY})
    assert result.exit_code == 1
    assert "set bounces.maildir" in result.output


@dataclass
class ImapServer:
    settings: ImapSettings
    context: ssl.SSLContext

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4(self.settings.host, self.settings.port, timeout=10)
        client.starttls(self.context)
        client.login("demouser", "demopass")
        return client


@pytest.fixture
def imap_server(tmp_path: Path) -> Iterator[ImapServer]:
    """A real IMAP server (pymap, in-memory demo user) on a free port; STARTTLS with a test CA's cert."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", "from pymap.main import main; main()", "--host", "127.0.0.1",
         "--port", str(port), "--cert", str(tmp_path / "cert.pem"), "--key", str(tmp_path / "key.pem"),
         "dict", "--demo-data"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
        context = ssl.create_default_context()
        ca.configure_trust(context)
        settings = ImapSettings(host="127.0.0.1", port=port, starttls=True, username="demouser",
                                folder="Bounces", password=SecretStr("demopass"))
        yield ImapServer(settings, context)
    finally:
        server.terminate()
        server.wait(10)


def test_an_imap_folder_is_read_once_and_processed_mail_is_marked_seen(
    sessions: sessionmaker[Session], imap_server: ImapServer
) -> None:
    _add_sample_rows(sessions)
    client = imap_server.client()
    client.create("Bounces")
    for name in ("postfix_user_unknown.eml", "postfix_delayed.eml", "out_of_office.eml"):
        client.append("Bounces", "", imaplib.Time2Internaldate(NOW), _sample(name).replace(b"\n", b"\r\n"))
    clock = FixedClock(NOW)
    source = ImapSource(imap_server.settings, ssl_context=imap_server.context)
    try:
        assert process_source(sessions, source, clock, KEYS) == PollSummary(hard=1, soft=1, skipped=1)
    finally:
        source.close()
    client.select("Bounces")
    assert client.search(None, "UNSEEN")[1] == [b""]
    client.append("Bounces", "", imaplib.Time2Internaldate(NOW),
                  _sample("qq_mailbox_not_found.eml").replace(b"\n", b"\r\n"))
    source = ImapSource(imap_server.settings, ssl_context=imap_server.context)
    try:
        assert process_source(sessions, source, clock, KEYS) == PollSummary(hard=1)
    finally:
        source.close()
    client.logout()
    assert set(_suppressed(sessions)) == {"wang.li@customer.example.cn", "chen.jie@qq.com"}


def test_a_wrong_imap_password_is_a_clear_error(imap_server: ImapServer) -> None:
    wrong = imap_server.settings.model_copy(update={"password": SecretStr("nope")})
    with pytest.raises(ConfigError, match=r"imap demouser@127\.0\.0\.1"):
        ImapSource(wrong, ssl_context=imap_server.context)


def test_damaged_mail_is_skipped_and_the_poll_goes_on_to_suppress_the_mailbox(
    any_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """Damaged mail ahead of a real bounce: read as far as it goes, counted, none stops the poll; the
    hard bounce suppresses the mailbox, so another record of it in other capitals is held too."""
    prefix, _ = PREFIXES["postfix_user_unknown.eml"]
    _add_row(any_sessions, prefix + "0" * 32, "Wang.Li@customer.example.cn")
    _add_row(any_sessions, "other-record", "WANG.LI@Customer.Example.CN")
    path = tmp_path / "bounces"
    box = mailbox.Maildir(path, create=True)
    for raw in (b"From: MAILER-DAEMON\nSubject: Undelivered\nContent-Type: text/plain; charset=\"\x00\"\n\n"
                b"\xff\x00",
                b"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n--b\n"
                b"Content-Type: message/delivery-status; charset=\"a\x00\"\n\nFinal-Recipient: rfc822; a@",
                b"\x00\x01\x02 not mail at all"):
        box.add(mailbox.MaildirMessage(raw))
    box.close()
    box = mailbox.Maildir(path, create=False)
    box.add(mailbox.MaildirMessage(_sample("postfix_user_unknown.eml")))
    box.close()
    summary = poll_bounces(any_sessions, BounceSettings(maildir=path), FixedClock(NOW), KEYS)
    assert summary == PollSummary(hard=1, unknown=1, skipped=2)  # the first reads as a bounce, not ours
    assert list(mailbox.Maildir(path, create=False).keys()) == []
    with any_sessions() as session:
        keys = session.scalars(select(Suppression.address_key)).all()
        held = session.scalars(select(Customer.external_id).join(
            Suppression, Suppression.address_key == Customer.email_key).order_by(Customer.external_id)).all()
    assert keys == ["wang.li@customer.example.cn"]
    assert held == [prefix + "0" * 32, "other-record"]
