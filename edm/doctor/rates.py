"""Bounce and complaint rates over the last days, against the lines mailbox providers draw.

Gmail's bulk-sender rules: a spam-complaint rate under 0.1%, never reaching 0.3%. Bounces:
under 2% is healthy; `deliverability.max_bounce_rate` (default 5%) is where edm stops calling
it a warning. Counted from the store: mail sent (outbox `sent_at`) plus mail the relay bounced
at once (a `bounce` event for a row never sent), bounces (`bounce` events, at once or later
from the bounce mailbox) and complaints (`complaint` events).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, sessionmaker

from edm.doctor.report import Check, error, ok, warn
from edm.store import Event, OutboxMessage

SECTION = "rates"
WINDOW_DAYS = 7
COMPLAINT_WARN = 0.001  # Gmail: keep it below 0.1%
COMPLAINT_ERROR = 0.003  # Gmail: never reach 0.3%
BOUNCE_WARN = 0.02
DEFAULT_MAX_BOUNCE_RATE = 0.05


@dataclass(frozen=True)
class Rates:
    """Counts over the window: `sent` accepted by the relay, `refused` bounced at once by it (never
    sent), `bounced` all hard bounces, `complaints` spam reports."""

    sent: int
    refused: int
    bounced: int
    complaints: int

    @property
    def bounce_rate(self) -> float:
        attempted = self.sent + self.refused
        return self.bounced / attempted if attempted else 0.0

    @property
    def complaint_rate(self) -> float:
        return self.complaints / self.sent if self.sent else 0.0


def count_rates(sessions: sessionmaker[Session], now: datetime, days: int = WINDOW_DAYS) -> Rates:
    since = now - timedelta(days=days)
    in_window = and_(Event.occurred_at >= since, Event.occurred_at <= now)
    with sessions() as session:
        sent = session.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.sent_at >= since, OutboxMessage.sent_at <= now))
        bounced = session.scalar(select(func.count()).select_from(Event)
                                 .where(Event.kind == "bounce", in_window))
        refused = session.scalar(
            select(func.count()).select_from(Event)
            .join(OutboxMessage, OutboxMessage.id == Event.outbox_id)
            .where(Event.kind == "bounce", in_window, OutboxMessage.sent_at.is_(None))
        )
        complaints = session.scalar(select(func.count()).select_from(Event)
                                    .where(Event.kind == "complaint", in_window))
    return Rates(sent or 0, refused or 0, bounced or 0, complaints or 0)


def judge_rates(rates: Rates, *, max_bounce_rate: float = DEFAULT_MAX_BOUNCE_RATE,
                days: int = WINDOW_DAYS) -> list[Check]:
    """The complaint and bounce rates against their lines. Pure."""
    window = f"last {days} days"
    checks = []
    if not rates.sent:
        checks.append(ok(SECTION, "complaint rate", f"nothing sent in the {window}"))
    else:
        rate = rates.complaint_rate
        shown = f"{rates.complaints} complaints / {rates.sent} sent = {rate:.2%} ({window})"
        if rate >= COMPLAINT_ERROR:
            checks.append(error(SECTION, "complaint rate", f"{shown}: at Gmail's {COMPLAINT_ERROR:.1%} line "
                                "mail goes to spam or is refused", "stop bulk mail to people who have not "
                                "opened in months (engagement.sunset_after_days), make unsubscribing easy, "
                                "mail less"))
        elif rate >= COMPLAINT_WARN:
            checks.append(warn(SECTION, "complaint rate", f"{shown}: above Gmail's {COMPLAINT_WARN:.1%} goal",
                               "narrow audiences to engaged customers and look at which campaign draws them"))
        else:
            checks.append(ok(SECTION, "complaint rate", shown))
    attempted = rates.sent + rates.refused
    warn_at = min(BOUNCE_WARN, max_bounce_rate)
    if not attempted:
        checks.append(ok(SECTION, "bounce rate", f"nothing sent in the {window}"))
    else:
        rate = rates.bounce_rate
        shown = f"{rates.bounced} bounces / {attempted} sent = {rate:.2%} ({window})"
        if rate >= max_bounce_rate:
            checks.append(error(SECTION, "bounce rate", f"{shown}: at or over {max_bounce_rate:.0%}, "
                                "providers take the list for bought or stale",
                                "clean the list: import fresh addresses, "
                                "drop customers without an order or open for years"))
        elif rate >= warn_at:
            checks.append(warn(SECTION, "bounce rate", f"{shown}: over {warn_at:.0%}",
                               "check where the bouncing addresses came from (edm report engagement)"))
        else:
            checks.append(ok(SECTION, "bounce rate", shown))
    return checks


__all__ = ["COMPLAINT_ERROR", "COMPLAINT_WARN", "Rates", "count_rates", "judge_rates"]
