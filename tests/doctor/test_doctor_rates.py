"""Complaint and bounce rates of the last 7 days from a real SQLite store, against Gmail's lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from edm.cli import main
from edm.config import load_settings
from edm.doctor.rates import Rates, judge_rates
from edm.doctor.report import Status
from edm.runner import open_store
from edm.store import Event, OutboxMessage
from tests.conftest import SECRET_KEY
from tests.delivery.rows import queue

SENT = 1000


def _seed(sessions: sessionmaker[Session], now: datetime, *, complaints: int, bounces: int,
          old_complaints: int = 0) -> None:
    """SENT mails accepted today, `bounces` more refused by the relay, and the complaints."""
    queue(sessions, [f"c{n}@customer.test" for n in range(SENT + bounces)], now - timedelta(days=1))
    with sessions.begin() as session:
        ids = list(session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)))
        sent, refused = ids[:SENT], ids[SENT:]
        session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(sent))
                        .values(state="sent", sent_at=now - timedelta(hours=5)))
        session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(refused)).values(state="bounced"))
        customers = dict(session.execute(select(OutboxMessage.id, OutboxMessage.customer_id)).all())
        events = [{"kind": "bounce", "outbox_id": i, "customer_id": customers[i],
                   "occurred_at": now - timedelta(hours=5)} for i in refused]
        events += [{"kind": "complaint", "outbox_id": i, "customer_id": customers[i], "source": "arf",
                    "occurred_at": now - timedelta(hours=1)} for i in sent[:complaints]]
        events += [{"kind": "complaint", "outbox_id": i, "customer_id": customers[i], "source": "arf",
                    "occurred_at": now - timedelta(days=8)} for i in sent[-old_complaints:][:old_complaints]]
        if events:
            session.execute(insert(Event), events)


@pytest.mark.parametrize("complaints, bounces, complaint_status, bounce_status", [
    (0, 0, "OK", "OK"),
    (1, 0, "WARN", "OK"),  # 0.1%: Gmail's goal is below it
    (3, 0, "ERROR", "OK"),  # 0.3%: Gmail's line never to reach
    (0, 30, "OK", "WARN"),  # 30 / 1030 = 2.9%
    (0, 60, "OK", "ERROR"),  # 60 / 1060 = 5.7%
])
def test_rates_against_the_lines(complaints: int, bounces: int, complaint_status: str, bounce_status: str,
                                 tmp_path: Path) -> None:
    (tmp_path / "edm.yaml").write_text("database_url: sqlite:///edm.db\n", encoding="utf-8")
    environment = {"EDM_CONFIG": str(tmp_path / "edm.yaml"), "EDM_SECRET_KEY": SECRET_KEY}
    sessions = open_store(load_settings(tmp_path / "edm.yaml", environment))
    _seed(sessions, datetime.now(UTC), complaints=complaints, bounces=bounces, old_complaints=50)

    result = CliRunner(env=environment).invoke(
        main, ["doctor", "--json", "--skip", "identity,dns,relay,message"], catch_exceptions=False)

    checks = {check["name"]: check for check in json.loads(result.stdout)["checks"]}
    assert checks["complaint rate"]["status"] == complaint_status
    assert checks["bounce rate"]["status"] == bounce_status
    assert f"{complaints} complaints / {SENT} sent" in checks["complaint rate"]["message"]  # not the old ones
    assert result.exit_code == (1 if "ERROR" in (complaint_status, bounce_status) else 0)


def test_the_bounce_line_follows_the_setting() -> None:
    rates = Rates(sent=970, refused=30, bounced=30, complaints=0)
    assert judge_rates(rates)[1].status is Status.WARN
    assert judge_rates(rates, max_bounce_rate=0.03)[1].status is Status.ERROR
    assert judge_rates(rates, max_bounce_rate=0.01)[1].status is Status.ERROR
    assert judge_rates(Rates(0, 0, 0, 0))[0].status is Status.OK
