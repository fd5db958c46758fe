"""Customers with account managers, and alert rows of every kind, inserted as the store holds them."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from edm.config import AlertSettings, SenderSettings, Settings, SmtpSettings
from edm.store import Customer, CustomerProfile, Event, OutboxMessage, ProfileTransition, SurveyAnswer
from tests.conftest import SmtpServer

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
ANA, BO = "ana@example.com", "bo@example.com"
_keys = itertools.count()


def settings_for(smtp: SmtpServer, **alerts: object) -> Settings:
    return Settings(smtp=SmtpSettings(host=smtp.host, port=smtp.port),
                    sender=SenderSettings(from_address="edm <edm@example.com>"),
                    alerts=AlertSettings(**alerts))  # type: ignore[arg-type]


def customer(session: Session, external_id: str, name: str, manager: str | None, email: str | None,
             *, now: datetime = NOW, created_days: float = 800, last_order_days: float | None = None,
             gap: float | None = None, tier: str = "medium", dropped: str | None = None,
             locale: str = "en") -> int:
    """A customer and their profile; `created_days` and `last_order_days` before `now`."""
    created_at = now - timedelta(days=created_days)
    row = Customer(external_id=external_id, name=name, email=f"{external_id.lower()}@customer.example",
                   kind="company", account_manager=manager, account_manager_email=email,
                   created_at=created_at, locale=locale)
    session.add(row)
    session.flush()
    last = now - timedelta(days=last_order_days) if last_order_days is not None else None
    session.add(CustomerProfile(customer_id=row.id, value_tier=tier, lifecycle_stage="mature", order_count=5,
                                revenue=Decimal("1000"), computed_at=now, last_order_at=last,
                                expected_interval_days=gap, dropped_lines=dropped))
    return row.id


def transition(session: Session, customer_id: int, dimension: str, old: str, new: str, at: datetime) -> None:
    session.add(ProfileTransition(customer_id=customer_id, dimension=dimension, old=old, new=new,
                                  computed_at=at))


def mail(session: Session, customer_id: int, campaign: str, at: datetime) -> int:
    """An outbox row sent two days before `at`, for events and survey answers to point at."""
    sent = at - timedelta(days=2)
    row = OutboxMessage(key=f"k{next(_keys)}", campaign=campaign, customer_id=customer_id,
                        occurrence=sent.date(), to_address="x@customer.example", state="sent",
                        next_attempt_at=sent, created_at=sent, sent_at=sent)
    session.add(row)
    session.flush()
    return row.id


def event(session: Session, customer_id: int, kind: str, campaign: str | None, at: datetime,
          *, machine: bool = False) -> None:
    outbox_id = mail(session, customer_id, campaign, at) if campaign else None
    session.add(Event(kind=kind, customer_id=customer_id, outbox_id=outbox_id, occurred_at=at,
                      machine=machine))


def answer(session: Session, customer_id: int, survey: str, score: int, at: datetime,
           comment: str | None = None) -> None:
    session.add(SurveyAnswer(customer_id=customer_id, outbox_id=mail(session, customer_id, "survey", at),
                             survey=survey, score=score, comment=comment, answered_at=at, updated_at=at))


@dataclass(frozen=True)
class Book:
    """The ids of the customers `populate` made."""

    ids: dict[str, int]


def populate(sessions: sessionmaker[Session], now: datetime = NOW) -> Book:
    """Ana's six customers with one item of each kind in the last day; Bo's customer with nothing
    new; a customer without a manager with every kind; and near misses that must not count."""
    ids: dict[str, int] = {}
    h = timedelta(hours=1)
    with sessions.begin() as s:

        def add(*args: Any, **values: Any) -> int:
            return customer(s, *args, now=now, **values)

        # the same manager written two ways; the newest customer's non-empty name is the one shown
        ids["A1"] = add("A1", "Alpha Ltd", "Ana (old)", "Ana@Example.com ", created_days=900,
                        last_order_days=96 + 2 / 24, gap=30.0, tier="high")
        ids["A2"] = add("A2", "Beta GmbH", "Ana Li", ANA, created_days=10, last_order_days=400 + 3 / 24,
                        gap=60.0)
        ids["A3"] = add("A3", "Gamma Co", "", ANA, last_order_days=20, gap=14.0, tier="low",
                        dropped="Paper, Ink")
        ids["A4"] = add("A4", "Delta & Sons", None, ANA, last_order_days=10, gap=25.0)
        ids["A5"] = add("A5", "Epsilon", "Ana Li", ANA)
        ids["A6"] = add("A6", "Zeta", "Ana Li", ANA, last_order_days=500, gap=90.0, tier="low")
        ids["A7"] = add("A7", "Eta (machine click)", "Ana Li", ANA)
        ids["A8"] = add("A8", "Theta (content)", "Ana Li", ANA)
        ids["B1"] = add("B1", "Iota", "Bo", BO)
        ids["N1"] = add("N1", "Nobody's", None, None, last_order_days=200, gap=30.0)
        ids["N2"] = add("N2", "Blank manager", "Bo", "  ")

        transition(s, ids["A1"], "lifecycle_stage", "mature", "at_risk", now - 2 * h)
        transition(s, ids["A2"], "lifecycle_stage", "at_risk", "churned", now - 3 * h)
        transition(s, ids["A3"], "churn_kind", "none", "partial", now - 4 * h)
        answer(s, ids["A4"], "nps", 3, now - h, comment="<b>slow</b> delivery")
        event(s, ids["A5"], "unsubscribe", "newsletter", now - 5 * h)
        event(s, ids["A6"], "click", "win_back", now - 6 * h)
        event(s, ids["A6"], "click", "win_back", now - 5 * h)  # the same offer clicked again: once
        event(s, ids["A7"], "click", "win_back", now - 5 * h, machine=True)
        event(s, ids["A8"], "click", "newsletter", now - 5 * h)
        answer(s, ids["A8"], "csat", 4, now - h)
        transition(s, ids["A8"], "lifecycle_stage", "growing", "mature", now - h)
        transition(s, ids["A8"], "loyalty", "loyal", "at_risk", now - h)

        # Bo: news from before his first digest's window, and a passive answer
        transition(s, ids["B1"], "lifecycle_stage", "mature", "at_risk", now - 30 * h)
        answer(s, ids["B1"], "nps", 7, now - h)

        for key in ("N1", "N2"):
            transition(s, ids[key], "lifecycle_stage", "mature", "at_risk", now - h)
            transition(s, ids[key], "churn_kind", "none", "partial", now - h)
            answer(s, ids[key], "nps", 0, now - h, comment="never again")
            event(s, ids[key], "unsubscribe", None, now - h)
            event(s, ids[key], "click", "win_back", now - h)
    return Book(ids)


def text_of(message: EmailMessage) -> str:
    """The plain-text part, with Unix line ends."""
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def html_of(message: EmailMessage) -> str:
    """The HTML part, with Unix line ends."""
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")
