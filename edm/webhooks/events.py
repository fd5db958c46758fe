"""The events edm tells other systems about: pure builders of their payloads.

Every payload is `{"type", "timestamp", "data"}`; `data` names the customer by `external_id`
and `email`. Event ids are derived from what happened (a transition's id, a mail and its score),
so the same fact never becomes two events, and a retry or a replay keeps the id receivers dedupe on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

STAGE_CHANGED = "stage.changed"
LOYALTY_CHANGED = "loyalty.changed"
UNSUBSCRIBED = "customer.unsubscribed"
BOUNCED = "customer.bounced"
COMPLAINED = "customer.complained"
CLICKED = "message.clicked"
SURVEY_ANSWERED = "survey.answered"
DETRACTOR = "customer.detractor"
DIGEST_ALERT = "digest.alert"

# which profile dimension each transition event reports
TRANSITION_EVENTS = {"lifecycle_stage": STAGE_CHANGED, "loyalty": LOYALTY_CHANGED}


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    id: str  # `msg_` + 32 hex: the webhook-id
    payload: dict[str, Any]


def event_id(*parts: object) -> str:
    """A stable id from what identifies the fact (at most 64 characters, the column's width)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]
    return f"msg_{digest}"


def _stamp(at: datetime) -> str:
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def event(event_type: str, at: datetime, data: dict[str, Any], *identity: object) -> Event:
    """An event of `event_type` that happened `at`; `identity` makes its id (default: type and data)."""
    key = identity or (sorted(data.items()),)
    return Event(event_type, event_id(event_type, *key),
                 {"type": event_type, "timestamp": _stamp(at), "data": data})


def customer_data(external_id: str | None, email: str | None) -> dict[str, Any]:
    return {"customer": {"external_id": external_id, "email": email}}


def transition(transition_id: int, dimension: str, old: str | None, new: str, at: datetime,
               external_id: str, email: str) -> Event:
    """stage.changed / loyalty.changed for one stored profile transition (its id is the event's)."""
    data = customer_data(external_id, email) | {"dimension": dimension, "from": old, "to": new}
    return event(TRANSITION_EVENTS[dimension], at, data, "transition", transition_id)


def suppressed(event_type: str, address_key: str, email: str, external_id: str | None, at: datetime,
               reason: str) -> Event:
    """customer.unsubscribed / bounced / complained: one per mailbox and kind (suppression is once)."""
    return event(event_type, at, customer_data(external_id, email) | {"reason": reason}, address_key)


def clicked(customer: tuple[str, str], outbox_id: int | None, url: str | None, at: datetime) -> Event:
    """A person's click on a link in a mail (machine clicks are not events)."""
    data = customer_data(*customer) | {"message_id": outbox_id, "url": url}
    return event(CLICKED, at, data, outbox_id, url, _stamp(at))


def answered(customer: tuple[str, str], outbox_id: int, survey: str, score: int, standing: str,
             at: datetime) -> Event:
    """survey.answered: one per mail and score (a changed score is a new event)."""
    data = customer_data(*customer) | {"message_id": outbox_id, "survey": survey, "score": score,
                                       "standing": standing}
    return event(SURVEY_ANSWERED, at, data, outbox_id, survey, score)


def detractor(customer: tuple[str, str], outbox_id: int, survey: str, score: int, at: datetime) -> Event:
    data = customer_data(*customer) | {"message_id": outbox_id, "survey": survey, "score": score}
    return event(DETRACTOR, at, data, outbox_id, survey)


def digest_alert(manager: str, customer: tuple[str, str], kind: str, text: str, at: datetime) -> Event:
    """digest.alert: one per alert item (a customer who needs their account manager's attention)."""
    data = customer_data(*customer) | {"account_manager": manager, "kind": kind, "text": text}
    return event(DIGEST_ALERT, at, data, manager, customer[0], kind, _stamp(at))


def summary(payload: dict[str, Any]) -> str:
    """A one-line text of an event, for chat targets (Apprise)."""
    data = payload.get("data", {})
    who = (data.get("customer") or {}).get("email") or (data.get("customer") or {}).get("external_id") or ""
    if "text" in data:
        return f"{data.get('account_manager', '')}: {data['text']}".strip(": ")
    details = ", ".join(f"{k}: {v}" for k, v in data.items() if k != "customer" and v is not None)
    return f"{payload.get('type')} {who}" + (f" ({details})" if details else "")
