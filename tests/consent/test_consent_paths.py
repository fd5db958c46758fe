"""Every path that queues mail honours consent: sequence steps, the reactions to an event, and the card
says so (`edm customers show`)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.decisions import Reason
from edm.campaigns.dry_run import DecisionAccount
from edm.cli import main
from edm.clock import FixedClock
from edm.consent import ConsentGiven, record
from edm.reactions import react
from edm.runner import run_campaigns
from edm.store import OutboxMessage
from tests.campaigns.test_sequence import NOW, WELCOME, _welcome_store
from tests.conftest import SmtpServer
from tests.test_reactions import START, _customer, _event, _send, _world


def _withdraw(sessions: sessionmaker[Session], email: str, at: datetime) -> None:
    with sessions.begin() as session:
        record(session, [ConsentGiven(email, "explicit", "withdrawn", "preferences", at)])


def test_a_marketing_sequence_stops_for_a_customer_who_withdraws_consent(
    tmp_path: Path, sessions: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    settings = _welcome_store(tmp_path, sessions, smtp_server, "stays", "leaves")
    marketing = WELCOME.replace("kind: transactional", "kind: marketing")
    (tmp_path / "campaigns" / "welcome.yaml").write_text(marketing, encoding="utf-8")
    clock = FixedClock(NOW)
    asyncio.run(run_campaigns(settings, sessions, clock, ["welcome"]))
    _withdraw(sessions, "Leaves@Example.com", NOW + timedelta(days=1))  # any spelling of the mailbox
    clock.advance(timedelta(days=3))
    account = DecisionAccount()

    dry = asyncio.run(run_campaigns(settings, sessions, clock, ["welcome"], dry_run=True, watch=account))
    asyncio.run(run_campaigns(settings, sessions, clock, ["welcome"]))

    step = next(plan for plan in dry.plans if plan.campaign == "welcome step 1")
    assert (step.queued, step.no_consent, step.reasons[Reason.NO_CONSENT]) == (1, 1, 1)
    received = {(m["To"].addresses[0].addr_spec, str(m["Subject"])) for m in smtp_server.handler.messages}
    assert received == {("stays@example.com", "Welcome"), ("leaves@example.com", "Welcome"),
                        ("stays@example.com", "Day 3")}


def test_a_reaction_to_an_event_is_held_without_consent(
    tmp_path: Path, sessions: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    settings, campaigns = _world(tmp_path, sessions, smtp_server)
    clock = FixedClock(START)
    kept, left = _customer(sessions, "c3@example.com"), _customer(sessions, "c4@example.com")
    _withdraw(sessions, "c4@example.com", START - timedelta(days=1))
    for who in (kept, left):
        _event(sessions, who, START, f"quote-{who}", channel="web")

    plans = {who: react(sessions, settings, clock, who, campaigns.values()) for who in (kept, left)}

    quote = {who: next(p for p in found if p.campaign == "quote_follow_up") for who, found in plans.items()}
    assert (quote[kept].queued, quote[left].queued, quote[left].no_consent) == (1, 0, 1)
    clock.advance(timedelta(hours=3))
    _send(settings, sessions, clock, campaigns)
    assert len(smtp_server.handler.to("c3@example.com")) == 1
    assert smtp_server.handler.to("c4@example.com") == []
    with sessions() as session:
        assert session.scalars(select(OutboxMessage.customer_id)).all() == [kept]


def test_the_card_shows_the_consent_and_whether_marketing_may_go_now(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(tmp_path)], catch_exceptions=False).exit_code == 0
    config = ["--config", str(tmp_path / "edm.yaml")]
    (tmp_path / "c.csv").write_text(
        "external_id,name,kind,email,consent_basis,consent_status,consent_at,consent_source,consent_wording\n"
        "k1,Kept,person,k1@example.com,explicit,granted,2025-06-01,shop_checkout,v3\n"
        "k2,Gone,person,k2@example.com,explicit,withdrawn,2026-01-05,,\n"
        "k3,Plain,person,k3@example.com,,,,,\n", encoding="utf-8")
    assert runner.invoke(main, ["import", "customers", str(tmp_path / "c.csv"), *config]).exit_code == 0

    def card(external_id: str) -> str:
        result = runner.invoke(main, ["customers", "show", external_id, *config], terminal_width=200)
        assert result.exit_code == 0, result.output
        return " ".join(result.output.split())

    assert ("consent explicit, granted, from shop_checkout, 2025-06-01, wording v3 "
            "marketing may be sent now: explicit consent 2025-06-01 (shop_checkout)") in card("k1")
    assert ("consent explicit, withdrawn, from import:c.csv, 2026-01-05 marketing may not be sent now: "
            "no consent for marketing: consent withdrawn 2026-01-05 (import:c.csv)") in card("k2")
    plain = card("k3")
    assert "consent: none recorded (existing_customer: the customer relationship)" in plain
    assert "marketing may be sent now: existing customer, customer since " in plain
