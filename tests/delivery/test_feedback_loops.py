"""Feedback loops: ARF (RFC 5965) and Outlook JMRP complaints in the bounce mailbox become complaint
events and suppressions; real Maildirs, real stores, the CLI, and a campaign over a real aiosmtpd."""

from __future__ import annotations

import mailbox
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.cli import main
from edm.clock import FixedClock
from edm.config import BounceSettings, load_settings
from edm.delivery.arf import parse_feedback
from edm.delivery.mailbox import PollSummary, poll_bounces
from edm.runner import open_store
from edm.store import Event, Suppression
from edm.suppression import COMPLAINT
from tests.conftest import SECRET_KEY, SmtpServer
from tests.delivery.mail_ids import KEYS, tagged
from tests.delivery.test_mailbox import _add_row

SAMPLES = Path(__file__).parent / "data" / "feedback"
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
ROWS = {  # sample -> (the key prefix its original's Message-ID carries, the address that mail went to)
    "rfc5965_abuse.eml": ("3f9a1c0e5b7d42e8a6c1f0d9b2e47a15", "wang.li@customer.example.cn"),
    "yahoo_redacted_headers.eml": ("1a2b3c4d5e6f70819203a4b5c6d7e8f9", "lisa.chen@yahoo.com"),
    "outlook_jmrp.eml": ("9a8b7c6d5e4f30211203f4e5d6c7b8a9", "chen.jie@outlook.com"),
    "not_spam.eml": ("3f9a1c0e5b7d42e8a6c1f0d9b2e47a15", "wang.li@customer.example.cn"),
}


def _sample(name: str) -> bytes:
    return tagged((SAMPLES / name).read_bytes())


def _maildir(path: Path, *messages: bytes) -> Path:
    box = mailbox.Maildir(path, create=True)
    for raw in messages:
        box.add(mailbox.MaildirMessage(raw))
    box.close()
    return path


def test_each_shape_is_read_as_a_complaint_about_our_message() -> None:
    arf = parse_feedback(_sample("rfc5965_abuse.eml"))
    assert arf is not None and arf.is_complaint and arf.shape == "arf"
    assert arf.message_ids == (tagged(b"<3f9a1c0e5b7d42e8a6c1f0d9b2e47a15@shop.example.com>").decode(),)
    assert arf.recipient == "wang.li@customer.example.cn"
    assert arf.arrived_at == datetime(2026, 11, 26, 6, tzinfo=UTC)
    assert arf.detail["feedback_report"]["source-ip"] == "192.0.2.1"
    assert "not kept" not in str(arf.detail)  # the original's body is not kept, its headers are
    assert ["Subject", "Spring sale"] in arf.detail["original_headers"]
    yahoo = parse_feedback(_sample("yahoo_redacted_headers.eml"))
    assert yahoo is not None and yahoo.is_complaint and yahoo.recipient is None  # redacted
    assert yahoo.message_ids == (tagged(b"<1a2b3c4d5e6f70819203a4b5c6d7e8f9@shop.example.com>").decode(),)
    jmrp = parse_feedback(_sample("outlook_jmrp.eml"))
    assert jmrp is not None and jmrp.shape == "jmrp" and jmrp.recipient == "chen.jie@outlook.com"
    not_spam = parse_feedback(_sample("not_spam.eml"))
    assert not_spam is not None and not not_spam.is_complaint


def test_bounces_and_plain_mail_are_no_feedback_reports() -> None:
    for path in sorted((Path(__file__).parent / "data" / "bounces").iterdir()):
        assert parse_feedback(path.read_bytes()) is None, path.name


def test_complaints_record_an_event_with_the_report_and_suppress_the_mail_s_address(
    any_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    ids = {name: _add_row(any_sessions, prefix + "0" * 32, email)
           for name, (prefix, email) in ROWS.items() if name != "not_spam.eml"}
    stranger = _sample("rfc5965_abuse.eml").replace(b"3f9a1c0e5b7d42e8a6c1f0d9b2e47a15", b"f" * 32)
    path = _maildir(tmp_path / "box", *(_sample(name) for name in ROWS), stranger)
    summary = poll_bounces(any_sessions, BounceSettings(maildir=path), FixedClock(NOW), KEYS)
    # not-spam is no complaint; the stranger names an address, but no mail of ours: nothing written
    assert summary == PollSummary(complaint=3, skipped=1, unknown=1)
    with any_sessions() as session:
        events = list(session.scalars(select(Event).order_by(Event.outbox_id)))
        suppressed = {s.email: s.reason for s in session.scalars(select(Suppression))}
    assert sorted((e.kind, e.source, e.outbox_id) for e in events) == sorted(
        ("complaint", "arf", row) for row in ids.values())
    arf = next(e for e in events if e.outbox_id == ids["rfc5965_abuse.eml"])
    assert arf.occurred_at == datetime(2026, 11, 26, 6, tzinfo=UTC)
    assert arf.detail is not None and arf.detail["feedback_report"]["feedback-type"] == "abuse"
    assert suppressed == {ROWS[name][1]: COMPLAINT for name in ids}
    again = _maildir(tmp_path / "box", _sample("rfc5965_abuse.eml"))  # the same report mailed twice
    repeated = poll_bounces(any_sessions, BounceSettings(maildir=again), FixedClock(NOW), KEYS)
    assert repeated == PollSummary(repeated=1)


def test_a_complaint_polled_by_the_cli_stops_the_next_campaign_mailing_that_customer(
    tmp_path: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDM_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("EDM_SMTP__HOST", smtp_server.host)
    monkeypatch.setenv("EDM_SMTP__PORT", str(smtp_server.port))
    monkeypatch.setenv("EDM_POLICY__ONE_PER_DAY", "false")
    runner = CliRunner()

    def edm(*args: str) -> str:
        result = runner.invoke(main, [*args, "--config", str(tmp_path / "edm.yaml")], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout

    assert runner.invoke(main, ["init", str(tmp_path)], catch_exceptions=False).exit_code == 0
    campaign = ('name: {0}\ndescription: Everyone\nrespect_frequency: false\n'
                'schedule: {{cron: "0 9 * * *"}}\n'
                'template: re_permission\nsubject: {{en: "News", zh-Hans: "新闻", zh-Hant: "新聞"}}\n'
                'links: {{stay: "https://www.example.com/stay"}}\n')
    for name in ("spring_sale", "summer_sale"):
        (tmp_path / "campaigns" / f"{name}.yaml").write_text(campaign.format(name), encoding="utf-8")
    (tmp_path / "crm.csv").write_text("external_id,name,kind,email\nC001,Alice,person,alice@example.com\n"
                                      "C002,Bob,person,bob@example.com\n", encoding="utf-8")
    edm("import", "customers", str(tmp_path / "crm.csv"))
    edm("classify")
    edm("campaign", "run", "spring_sale")
    (alice,) = smtp_server.handler.to("alice@example.com")
    report = (SAMPLES / "rfc5965_abuse.eml").read_bytes().replace(
        b"<3f9a1c0e5b7d42e8a6c1f0d9b2e47a15@shop.example.com>", str(alice["Message-ID"]).encode()
    ).replace(b"wang.li@customer.example.cn", b"alice@example.com")
    box = _maildir(tmp_path / "fbl", report)
    polled = edm("bounces", "poll", "--maildir", str(box))
    assert polled == "hard 0, soft 0, complaints 1, unknown 0, skipped 0, already recorded 0\n"
    sessions = open_store(load_settings(tmp_path / "edm.yaml"))
    with sessions() as session:
        (event,) = session.scalars(select(Event).where(Event.kind == "complaint"))
        assert event.source == "arf" and event.detail is not None
        assert [(s.email, s.reason) for s in session.scalars(select(Suppression))] == [
            ("alice@example.com", COMPLAINT)]
    smtp_server.handler.messages.clear()
    edm("campaign", "run", "summer_sale")
    assert [m["To"].addresses[0].addr_spec for m in smtp_server.handler.messages] == ["bob@example.com"]


@settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cut=st.integers(min_value=0, max_value=3000), junk=st.binary(max_size=40),
       name=st.sampled_from(sorted(ROWS)))
def test_damaged_reports_never_raise(cut: int, junk: bytes, name: str) -> None:
    raw = _sample(name)
    damaged = raw[:cut] + junk + raw[cut + len(junk):]
    parse_feedback(damaged)  # a report or None; never an exception
    parse_feedback(junk)
