"""What `edm webhooks status` and /metrics show: per target, deliveries by state and the last error."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from edm.store import WebhookDelivery

STATES = ("pending", "sent", "dead")


@dataclass
class EndpointStatus:
    endpoint: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATES, 0))
    attempts: int = 0  # tries made, over all its deliveries
    last_error: str | None = None


def endpoint_status(session: Session) -> list[EndpointStatus]:
    w = WebhookDelivery
    found: dict[str, EndpointStatus] = {}
    for endpoint, state, n, attempts in session.execute(
        select(w.endpoint, w.state, func.count(), func.coalesce(func.sum(w.attempts), 0))
        .group_by(w.endpoint, w.state)
    ):
        status = found.setdefault(endpoint, EndpointStatus(endpoint))
        status.counts[state] = int(n)
        status.attempts += int(attempts)
    for endpoint, status in found.items():
        status.last_error = session.scalars(
            select(w.last_error).where(w.endpoint == endpoint, w.last_error.is_not(None))
            .order_by(w.id.desc()).limit(1)
        ).first()
    return [found[name] for name in sorted(found)]
