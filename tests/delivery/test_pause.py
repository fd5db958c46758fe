"""Automatic pause, through the `edm` command against a real aiosmtpd relay and a real SQLite file.

A campaign whose hard bounces pass `deliverability.max_bounce_rate` over its window pauses
itself: its rest stays queued (not sent, not failed), other campaigns keep sending, and
`edm campaign resume` then `edm send` delivers the rest, no one twice. Bad lists spread over
several marketing campaigns pause bulk sending; service mail still goes.
"""

from __future__ import annotations

import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from edm.clock import SystemClock
from edm.daemon.metrics import DaemonState, MetricsServer
from edm.resources import bundled_config_dir
from edm.store import Event, OutboxMessage, SendingPause
from tests.delivery.cli_folder import cli_environment, edm
from tests.delivery.rows import queue
from tests.delivery.smtp_servers import ScriptedHandler, serving

WINDOW = {"EDM_DELIVERABILITY__WINDOW_DELIVERIES": "200", "EDM_DELIVERABILITY__MIN_DELIVERIES": "50"}


def _copy_campaign(tmp_path: Path, source: str, name: str) -> None:
    text = (bundled_config_dir() / "campaigns" / f"{source}.yaml").read_text(encoding="utf-8")
    (tmp_path / "campaigns" / f"{name}.yaml").write_text(text.replace(f"name: {source}", f"name: {name}", 1),
                                                        encoding="utf-8")


def _states(sessions: sessionmaker[Session], campaign: str) -> Counter[str]:
    with sessions() as session:
        return Counter(session.scalars(select(OutboxMessage.state).where(OutboxMessage.campaign == campaign)))


def _assign(sessions: sessionmaker[Session], campaign: str, addresses: list[str]) -> None:
    with sessions.begin() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.to_address.in_(addresses))
                        .values(campaign=campaign))


def _pauses(sessions: sessionmaker[Session]) -> dict[str, str]:
    with sessions() as session:
        return {s: r for s, r in session.execute(select(SendingPause.scope, SendingPause.reason))
                if not s.startswith("resumed:")}


def test_a_relay_refusing_10_percent_pauses_the_campaign_the_rest_waits_and_resume_delivers_it(
    store: tuple[sessionmaker[Session], str], tmp_path: Path
) -> None:
    sessions, url = store
    bad = [f"u{i}@example.com" for i in range(1000)]
    good = [f"r{i}@example.net" for i in range(100)]
    rejected = {address for i, address in enumerate(bad) if i % 10 == 0}
    queue(sessions, [address for pair in zip(bad[:100], good, strict=True) for address in pair] + bad[100:],
          datetime.now(UTC))
    _assign(sessions, "re_engagement", good)
    refuse = {"on": True}
    handler = ScriptedHandler(
        lambda rcpt, n: "550 5.1.1 no such user" if refuse["on"] and rcpt in rejected else None)
    with serving(handler) as port:
        environment = cli_environment(tmp_path, url, port, **WINDOW)
        first = edm(environment, "send")
        assert first.exit_code == 0, first.output
        assert "campaign win_back paused: hard bounces " in first.stderr
        assert "`edm campaign resume win_back`" in first.stderr
        reason = _pauses(sessions)["campaign:win_back"]
        assert reason.startswith("hard bounces ") and reason.endswith("(limit 5%)")
        win_back = _states(sessions, "win_back")
        assert set(win_back) == {"sent", "bounced", "queued"}  # nothing failed, nothing lost
        assert 50 <= win_back["sent"] + win_back["bounced"] <= 300
        assert win_back["queued"] >= 700
        assert _states(sessions, "re_engagement") == {"sent": 100}  # another campaign kept sending

        again = edm(environment, "send", "--no-wait")  # paused: nothing of it is sent, it stays queued
        assert "sent 0," in again.stdout and "campaign win_back still paused" in again.stderr
        assert _states(sessions, "win_back") == win_back
        listed = edm(environment, "campaign", "paused")
        assert "campaign win_back: paused " in listed.stdout
        assert f"{win_back['queued']} waiting" in listed.stdout

        refuse["on"] = False  # the list cleaned
        resumed = edm(environment, "campaign", "resume", "win_back")
        assert resumed.exit_code == 0, resumed.output
        assert "resumed campaign win_back" in resumed.stdout
        assert f"{win_back['queued']} message(s) waiting" in resumed.stdout
        rest = edm(environment, "send")
        assert rest.exit_code == 0 and f"sent {win_back['queued']}," in rest.stdout, rest.output
        assert "paused" not in rest.stderr  # the window started afresh at the resume
        not_paused = edm(environment, "campaign", "resume", "win_back")
        assert not_paused.exit_code == 1 and "campaign win_back is not paused" in not_paused.stderr
    assert _states(sessions, "win_back")["queued"] == 0
    delivered = Counter(handler.recipients)
    assert set(delivered.values()) == {1}  # nobody received twice
    assert set(delivered) == (set(bad) - rejected) | set(good) | (rejected & set(delivered))
    assert _pauses(sessions) == {}


def test_bad_lists_spread_over_marketing_campaigns_pause_bulk_mail_and_service_mail_goes_on(
    store: tuple[sessionmaker[Session], str], tmp_path: Path
) -> None:
    sessions, url = store
    names = ("m1", "m2", "m3", "m4")  # 75 each: no campaign alone ever reaches the 80 judged
    lists = {name: [f"{name}.{i}@example.com" for i in range(75)] for name in names}
    service = [f"s{i}@example.org" for i in range(60)]
    rejected = {address for addresses in lists.values() for i, address in enumerate(addresses) if i % 8 == 0}
    order: list[str] = []
    for i, address in enumerate(a for row in zip(*lists.values(), strict=True) for a in row):
        order += [service[i // 5], address] if i % 5 == 0 else [address]
    queue(sessions, order, datetime.now(UTC))
    for name, addresses in lists.items():
        _assign(sessions, name, addresses)
    _assign(sessions, "spring_festival_closure", service)  # kind: transactional, i.e. service mail
    refuse = {"on": True}
    handler = ScriptedHandler(
        lambda rcpt, n: "550 5.1.1 no such user" if refuse["on"] and rcpt in rejected else None)
    with serving(handler) as port:
        # each campaign alone stays under the sample judged, however the answers are batched:
        # only bulk mail as a whole is judged
        window = {**WINDOW, "EDM_DELIVERABILITY__MIN_DELIVERIES": "80"}
        environment = cli_environment(tmp_path, url, port, **window)
        for name in names:
            _copy_campaign(tmp_path, "win_back", name)
        first = edm(environment, "send")
        assert first.exit_code == 0, first.output
        assert "bulk mail paused: hard bounces " in first.stderr
        assert "`edm campaign resume --bulk`" in first.stderr
        assert set(_pauses(sessions)) == {"bulk"}  # no campaign alone was over the limit
        assert _states(sessions, "spring_festival_closure") == {"sent": 60}
        waiting = sum(_states(sessions, name)["queued"] for name in names)
        assert waiting >= 60
        assert all(set(_states(sessions, name)) <= {"sent", "bounced", "queued"} for name in names)

        refuse["on"] = False
        resumed = edm(environment, "campaign", "resume", "--bulk")
        assert resumed.exit_code == 0 and "resumed bulk mail" in resumed.stdout, resumed.output
        rest = edm(environment, "send")
        assert rest.exit_code == 0 and f"sent {waiting}," in rest.stdout, rest.output
    assert set(Counter(handler.recipients).values()) == {1}
    assert all(_states(sessions, name)["queued"] == 0 for name in names)


def test_complaints_over_the_limit_pause_the_campaign_at_its_next_send(
    store: tuple[sessionmaker[Session], str], tmp_path: Path
) -> None:
    sessions, url = store
    first_wave = [f"a{i}@example.com" for i in range(60)]
    queue(sessions, first_wave, datetime.now(UTC) - timedelta(hours=1))
    handler = ScriptedHandler()
    with serving(handler) as port:
        environment = cli_environment(tmp_path, url, port, **WINDOW)
        assert "sent 60," in edm(environment, "send").stdout
        with sessions.begin() as session:  # one complaint in 60 deliveries: 1.7%, over 0.1%
            outbox_id, customer_id = session.execute(
                select(OutboxMessage.id, OutboxMessage.customer_id).limit(1)).one()
            session.execute(insert(Event), [{"kind": "complaint", "customer_id": customer_id,
                                             "outbox_id": outbox_id, "occurred_at": datetime.now(UTC),
                                             "source": "arf"}])
        queue(sessions, [f"b{i}@example.com" for i in range(200)], datetime.now(UTC))
        second = edm(environment, "send")
    assert "campaign win_back paused: complaints " in second.stderr, second.output
    assert _states(sessions, "win_back")["queued"] >= 100
    server = MetricsServer("127.0.0.1", 0, DaemonState(started_at=datetime.now(UTC)), sessions, SystemClock(),
                           stale_seconds=60)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=10) as response:
            body = response.read().decode()
    finally:
        server.close()
    assert 'edm_sending_paused{scope="campaign:win_back"} 1' in body.splitlines()
    assert 'edm_sending_paused_since_timestamp_seconds{scope="campaign:win_back"} ' in body
    assert 'scope="bulk"' not in body


def test_resume_needs_one_campaign_or_bulk(store: tuple[sessionmaker[Session], str], tmp_path: Path) -> None:
    _, url = store
    environment = cli_environment(tmp_path, url, 25, **WINDOW)
    both = edm(environment, "campaign", "resume", "win_back", "--bulk")
    assert both.exit_code == 2 and "name one campaign, or pass --bulk" in both.output
    assert "nothing is paused" in edm(environment, "campaign", "paused").stdout
