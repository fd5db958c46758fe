"""The human loop end to end, with a fake clock and real parts: a quarterly NPS survey goes out
in the account manager's name over real SMTP; the customer answers with one click over real HTTP
and leaves a comment; the manager's next digest (a real email) names them; the detractor follow-up
campaign starts, the promoter gets the referral request; a digest with nothing new is not sent."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.alerts.digest import send_digests
from edm.clock import FixedClock
from edm.config import Settings, SmtpSettings, TrackingSettings
from edm.customers import import_customers, import_orders, recompute_profiles
from edm.resources import bundled_config_dir
from edm.runner import RunReport, run_campaigns
from edm.store import Customer, CustomerProfile, SurveyAnswer
from edm.tracking import create_tracking_app, serve_in_background
from tests.conftest import SECRET_KEY, SmtpServer

TODAY = date(2027, 1, 15)
NOW = datetime(2027, 1, 15, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, the day of the quarterly NPS survey
ALICE, MEI = "alice.wong@sales.example.com", "mei.chen@sales.example.com"

CUSTOMERS = f"""\
external_id,name,kind,contact_name,email,locale,timezone,industry,account_manager,account_manager_email
A,Alpha Valves Ltd,company,Alan Archer,alan@alpha.example,en-GB,Europe/London,manufacturing,Alice Wong,{ALICE}
B,台北精密機械,company,林志明,lin@taipei-precision.example.com,zh-TW,Asia/Taipei,manufacturing,陳美玲,{MEI}
C,Carol Small,person,,carol@example.net,en-US,America/New_York,,Alice Wong,{ALICE}
D,Delta Trading Co,company,David Dunn,david@delta.example.com,en-US,America/Chicago,trade,,
"""


def _orders() -> str:
    """Monthly orders for two years: A and B are key accounts, C and D small ones."""
    lines = ["external_id,customer_external_id,ordered_at,amount,product_line"]
    for customer, amount in {"A": "90000.00", "B": "90000.00", "C": "12.00", "D": "20.00"}.items():
        for n, days_ago in enumerate(range(720, 9, -30)):
            lines.append(f"{customer}{n:03d},{customer},{TODAY - timedelta(days=days_ago)},{amount},valves")
    return "\n".join(lines) + "\n"


@dataclass
class Loop:
    settings: Settings
    sessions: sessionmaker[Session]
    clock: FixedClock
    smtp: SmtpServer

    def run(self, *names: str) -> RunReport:
        return asyncio.run(run_campaigns(self.settings, self.sessions, self.clock, list(names)))

    def inbox(self, address: str) -> list[EmailMessage]:
        return self.smtp.handler.to(address)


@pytest.fixture
def loop(tmp_path: Path, sessions: sessionmaker[Session], smtp_server: SmtpServer) -> Iterator[Loop]:
    clock = FixedClock(NOW - timedelta(days=1))
    (tmp_path / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    (tmp_path / "orders.csv").write_text(_orders(), encoding="utf-8")
    import_customers(sessions, tmp_path / "customers.csv", clock)
    import_orders(sessions, tmp_path / "orders.csv")
    base = Settings(campaigns_dir=bundled_config_dir() / "campaigns", secret_keys=(SecretStr(SECRET_KEY),))
    recompute_profiles(sessions, base.classification, clock)
    app = create_tracking_app(sessions, base.signing_keys(), clock)
    with serve_in_background(app) as base_url:
        settings = base.model_copy(update={
            "smtp": SmtpSettings(host=smtp_server.host, port=smtp_server.port),
            "tracking": TrackingSettings(base_url=base_url),
        })
        yield Loop(settings, sessions, clock, smtp_server)


def _html(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def _text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def _score_link(message: EmailMessage, score: int) -> str:
    links = re.findall(r'href="([^"]+/s/[^"]+)"', _html(message))
    assert len(links) == 11, "an NPS row has the scores 0 to 10"
    return str(links[score])


def test_a_detractor_reaches_their_manager_and_starts_the_follow_up(loop: Loop) -> None:
    # the digest of the day before: the import and first classification are no news to anyone
    assert send_digests(loop.settings, loop.sessions, loop.clock).sent == 0
    loop.clock.advance(timedelta(days=1))
    loop.run("nps_key_accounts")
    [alan_survey] = loop.inbox("alan@alpha.example")
    [lin_survey] = loop.inbox("lin@taipei-precision.example.com")
    assert loop.inbox("carol@example.net") == []  # a small account
    assert loop.inbox("david@delta.example.com") == []  # no manager to ask for them
    assert parseaddr(str(alan_survey["From"]))[0] == "Alice Wong"
    assert parseaddr(str(alan_survey["Reply-To"]))[1] == ALICE
    assert "推薦" in str(lin_survey["Subject"]) + _text(lin_survey)  # zh-TW reads Traditional Chinese

    loop.clock.advance(timedelta(hours=3))  # people answer later; a click at once is a scanner's
    with httpx.Client() as client:
        answered = client.get(_score_link(alan_survey, 3))
        assert answered.status_code == 200 and "<textarea" in answered.text
        commented = client.post(_score_link(alan_survey, 3), data={"comment": "<b>Late twice</b> this month"})
        assert commented.status_code == 200
        assert "&lt;b&gt;Late twice&lt;/b&gt;" in commented.text and "<b>Late" not in commented.text
        assert client.get(_score_link(lin_survey, 10)).status_code == 200
    with loop.sessions() as session:
        rows = session.execute(select(Customer.external_id, SurveyAnswer.score, SurveyAnswer.comment)
                               .join(Customer, Customer.id == SurveyAnswer.customer_id)
                               .order_by(Customer.external_id)).all()
        satisfaction = dict(session.execute(
            select(Customer.external_id, CustomerProfile.satisfaction)
            .join(CustomerProfile, CustomerProfile.customer_id == Customer.id)).all())
    assert [tuple(row) for row in rows] == [("A", 3, "<b>Late twice</b> this month"), ("B", 10, None)]
    assert (satisfaction["A"], satisfaction["B"]) == ("detractor", "promoter")

    loop.clock.advance(timedelta(hours=1))
    digests = send_digests(loop.settings, loop.sessions, loop.clock)
    assert (digests.sent, digests.failed) == (1, 0)
    [digest] = loop.inbox(ALICE)
    assert loop.inbox(MEI) == []  # a promoter is no alert: nothing to report, nothing sent
    body = _text(digest)
    assert "Alpha Valves Ltd" in body and "3/10" in body and "Late twice" in body
    assert "Carol Small" not in body and "台北精密機械" not in body
    assert "&lt;b&gt;Late twice" in _html(digest)

    today = {plan.campaign: plan for plan in loop.run("detractor_follow_up", "promoter_referral").plans}
    # both started; the customers were mailed today (the survey), so they go tomorrow
    assert today["detractor_follow_up"].waiting == 1
    assert today["promoter_referral"].waiting == 1

    loop.clock.advance(timedelta(days=1))  # the next day's digest: nothing new, so no mail
    again = send_digests(loop.settings, loop.sessions, loop.clock)
    assert (again.sent, again.empty) == (0, 2)
    assert len(loop.inbox(ALICE)) == 1 and loop.inbox(MEI) == []

    loop.run("detractor_follow_up", "promoter_referral")
    [_, follow_up] = loop.inbox("alan@alpha.example")
    assert parseaddr(str(follow_up["From"]))[0] == "Alice Wong"
    assert parseaddr(str(follow_up["Reply-To"]))[1] == ALICE
    [_, referral] = loop.inbox("lin@taipei-precision.example.com")
    assert referral["Subject"] != lin_survey["Subject"]
    loop.run("detractor_follow_up", "promoter_referral")  # one answer, one follow-up
    assert len(loop.inbox("alan@alpha.example")) == 2
    assert len(loop.inbox("lin@taipei-precision.example.com")) == 2
