"""Warm-up with a fake clock against a real relay: each provider gets at most its daily cap of bulk
mail, the rest goes on the following days, nothing is lost or sent twice; caps hold across two
senders working at once; service mail is never held."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from pydantic import SecretStr
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from edm.cli import main
from edm.clock import FixedClock
from edm.config import DeliverabilitySettings, Settings, SmtpSettings, WarmupSettings
from edm.delivery.sender import SendSummary
from edm.delivery.warmup import daily_cap
from edm.resources import bundled_config_dir
from edm.runner import send_pending
from edm.store import OutboxMessage
from tests.conftest import SECRET_KEY
from tests.delivery.rows import queue, shipped_campaigns, states
from tests.delivery.smtp_servers import ScriptedHandler, serving

DAY_ONE = datetime(2026, 12, 1, 9, tzinfo=UTC)
START, GROWTH = 20, 1.5


def _settings(port: int, **smtp: object) -> Settings:
    values: dict[str, object] = {"host": "127.0.0.1", "port": port, "concurrency": 4, "batch_size": 8,
                                 "compose_processes": 0, **smtp}
    warmup = WarmupSettings(start=START, growth=GROWTH, since=DAY_ONE.date(),
                            providers={"example": ("example.org",)})  # a provider of our own, added
    return Settings(smtp=SmtpSettings.model_validate(values), secret_keys=(SecretStr(SECRET_KEY),),
                    deliverability=DeliverabilitySettings(warmup=warmup))


def _send(sessions: sessionmaker[Session], settings: Settings, clock: FixedClock) -> SendSummary:
    return asyncio.run(send_pending(settings, sessions, clock, shipped_campaigns()))


def _provider(address: str) -> str:
    domain = address.rpartition("@")[2]
    return {"gmail.com": "gmail", "googlemail.com": "gmail", "qq.com": "qq", "foxmail.com": "qq",
            "example.org": "example"}.get(domain, "other")


def test_each_provider_gets_at_most_its_cap_a_day_and_the_rest_goes_on_later_days(
    sessions: sessionmaker[Session],
) -> None:
    gmail = [f"g{i}@gmail.com" for i in range(50)] + [f"h{i}@googlemail.com" for i in range(20)]
    qq = [f"q{i}@qq.com" for i in range(25)] + [f"f{i}@foxmail.com" for i in range(5)]
    ours = [f"o{i}@example.org" for i in range(10)]
    other = [f"x{i}@example.com" for i in range(40)]
    everyone = gmail + qq + ours + other
    queue(sessions, everyone, DAY_ONE)
    handler = ScriptedHandler()
    clock = FixedClock(DAY_ONE)
    received: list[Counter[str]] = []
    with serving(handler) as port:
        settings = _settings(port, domain_limits={"gmail.com": 500.0})  # today's rate limits still apply
        for day in range(6):
            before = len(handler.recipients)
            summary = _send(sessions, settings, clock)
            today = Counter(_provider(r) for r in handler.recipients[before:])
            received.append(today)
            cap = daily_cap(DAY_ONE.date(), clock.now().date(), START, GROWTH)
            assert all(today[p] <= cap for p in ("gmail", "qq", "example")), (day, today, cap)
            if summary.capped:
                assert set(summary.capped) <= {"gmail", "qq", "example"}
            clock.advance(timedelta(days=1))
            if set(states(sessions).values()) == {"sent"}:
                break
    assert received[0] == Counter(gmail=20, qq=20, example=10, other=40)  # uncapped domains all go
    assert received[1] == Counter(gmail=30, qq=10)  # 20 × 1.5
    assert received[2] == Counter(gmail=20)  # cap 45, 20 left
    assert Counter(handler.recipients) == Counter(everyone)  # nothing lost, nothing doubled


def test_caps_hold_across_two_senders_at_once_and_service_mail_is_never_held(
    sessions: sessionmaker[Session],
) -> None:
    bulk = [f"g{i}@gmail.com" for i in range(60)]
    service = [f"s{i}@gmail.com" for i in range(5)]
    queue(sessions, bulk + service, DAY_ONE)
    with sessions.begin() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.to_address.in_(service))
                        .values(campaign="spring_festival_closure"))  # kind: transactional
    handler = ScriptedHandler(latency=0.01)
    clock = FixedClock(DAY_ONE)
    with serving(handler) as port:
        settings = _settings(port, batch_size=3)
        senders = [threading.Thread(target=_send, args=(sessions, settings, clock)) for _ in range(2)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join(60)
        got = Counter(handler.recipients)
        assert set(service) <= set(got)  # service mail goes, cap or not
        assert len(set(bulk) & set(got)) <= START
        assert len(set(bulk) & set(got)) + len(service) >= START  # the cap counts every kind of mail
        clock.advance(timedelta(days=3))  # cap 67: the rest goes
        _send(sessions, settings, clock)
    assert Counter(handler.recipients) == Counter(bulk + service)


def test_edm_send_stops_at_the_cap_and_says_the_rest_goes_on_the_following_days(
    sessions: sessionmaker[Session], sqlite_url: str, tmp_path: Path
) -> None:
    addresses = [f"g{i}@gmail.com" for i in range(12)]
    queue(sessions, addresses, datetime.now(UTC))
    handler = ScriptedHandler()
    (tmp_path / "edm.yaml").write_text(f"campaigns_dir: {bundled_config_dir() / 'campaigns'}\n"
                                       "deliverability:\n  warmup: {start: 5, growth: 2}\n", encoding="utf-8")
    with serving(handler) as port:
        environment = {"EDM_CONFIG": str(tmp_path / "edm.yaml"), "EDM_DATABASE_URL": sqlite_url,
                       "EDM_SECRET_KEY": SECRET_KEY, "EDM_SMTP__PORT": str(port),
                       "EDM_SMTP__COMPOSE_PROCESSES": "0", "EDM_SMTP__BATCH_SIZE": "4"}
        result = CliRunner(env=environment).invoke(main, ["send"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "sent 5," in result.stdout
    assert "warm-up: today's cap reached for gmail 5; the rest goes on the following days" in result.stderr
    assert Counter(states(sessions).values()) == Counter(sent=5, queued=7)


def test_daily_cap_starts_on_the_first_day_and_grows() -> None:
    assert [daily_cap(date(2026, 12, 1), date(2026, 12, d), 200, 1.5) for d in (1, 2, 3, 4)] == \
        [200, 300, 450, 675]
    assert daily_cap(date(2026, 12, 1), date(2026, 11, 20), 200, 1.5) == 200
