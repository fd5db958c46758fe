"""Outbox state changes. A row is `sent` only after the relay accepted it.

Claims are leases: a worker that dies leaves rows in `sending` whose lease runs
out, and the next claim picks them up again (at most the in-flight batch is
sent twice, none is skipped). A worker that stops cleanly gives back what it did
not send (`NotAttemptedError`): the row is as before the claim, no lease left.
On PostgreSQL concurrent claims skip each other's locked rows; on SQLite the claim
is one UPDATE .. RETURNING inside BEGIN IMMEDIATE, so two processes on one file
take turns and never see the same row as free.

Results are written in bulk: one executemany UPDATE per kind of outcome.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, case, insert, or_, select, text, true, update
from sqlalchemy.orm import Session

from edm.delivery.holds import ClaimPart, ClaimRules, claim_parts
from edm.delivery.retry import Outcome, RetryPolicy, outcome
from edm.delivery.transport import Delivery
from edm.errors import NotAttemptedError, PutBackError
from edm.store import Event, OutboxMessage
from edm.suppression import HARD_BOUNCE, suppress

CLAIM_LEASE = timedelta(minutes=10)
REPLY_CHARS = 1000
PENDING_STATES = ("queued", "deferred", "sending")

_outbox = cast(Table, OutboxMessage.__table__)


def claim_batch(
    session: Session, now: datetime, limit: int, lease: timedelta = CLAIM_LEASE,
    rules: ClaimRules | None = None, first: Collection[str] = (),
) -> list[int]:
    """Atomically take up to `limit` due rows for `lease`; call it first in its transaction.

    `rules` given: nothing of a paused campaign (or of bulk mail, when bulk sending is paused) is
    taken, nor bulk mail to a provider whose warm-up cap for today is reached (edm.delivery.holds).
    Rows of the campaigns in `first` (service mail) are taken before any other, so a notice the
    customer needs never waits behind a bulk promotion queued earlier; they come first in the list.
    """
    if session.get_bind().dialect.name == "sqlite":
        _begin_immediate(session)
    parts = claim_parts(session, rules, now, limit)[0] if rules is not None else [ClaimPart(true())]
    if not parts:
        return []
    # the first part holds every row no cap limits, service mail included
    taken = _claim(session, now, limit, lease, parts[0].where, _outbox.c.campaign.in_(sorted(first))) \
        if first else []
    rest: list[int] = []
    for part in parts:  # the rows just taken are `sending` with a fresh lease: not due again
        room = limit - len(taken) - len(rest)
        if part.most is not None:
            room = min(part.most, room)
        if room > 0:
            rest += _claim(session, now, room, lease, part.where)
    return taken + sorted(rest)


def _claim(
    session: Session, now: datetime, limit: int, lease: timedelta, *where: ColumnElement[bool]
) -> list[int]:
    # Core statements on the table (the ORM's bulk-update machinery cost more than the database's
    # work), and no ORDER BY: sorting every due row for each batch made a claim cost O(outbox);
    # the due index hands out the earliest due first anyway (and the campaign index a few campaigns').
    c = _outbox.c
    due = (
        select(c.id)
        .where(_due(now), *where)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = session.execute(
        update(_outbox)
        .where(c.id.in_(due.scalar_subquery()))
        .values(state="sending", claimed_until=now + lease, attempts=c.attempts + 1)
        .returning(c.id)
    )
    return list(claimed.scalars())


def _due(now: datetime) -> ColumnElement[bool]:
    c = _outbox.c
    return or_(
        and_(c.state.in_(("queued", "deferred")), c.next_attempt_at <= now),
        and_(c.state == "sending", c.claimed_until < now),
    )


def _begin_immediate(session: Session) -> None:
    """Take SQLite's write lock before reading which rows are due (no stale snapshot, no upgrade race)."""
    driver = session.connection().connection.dbapi_connection
    if driver is not None and not getattr(driver, "in_transaction", True):
        session.execute(text("BEGIN IMMEDIATE"))


def next_due(session: Session, now: datetime | None = None,
             rules: ClaimRules | None = None) -> datetime | None:
    """When the earliest pending row becomes claimable (a retry, or a lease running out); None if none.

    With `rules` (and `now`), rows held back by a pause or a reached warm-up cap do not count:
    they wait for a resume or for tomorrow, which a run that drains the outbox does not wait for.
    """
    where: ColumnElement[bool] = true()
    if rules is not None and now is not None:
        parts = claim_parts(session, rules, now, 1)[0]
        if not parts:
            return None
        where = or_(*(part.where for part in parts))
    retry = session.scalar(
        select(OutboxMessage.next_attempt_at)
        .where(OutboxMessage.state.in_(("queued", "deferred")), where)
        .order_by(OutboxMessage.next_attempt_at)
        .limit(1)
    )
    lease = session.scalar(
        select(OutboxMessage.claimed_until)
        .where(OutboxMessage.state == "sending", where)
        .order_by(OutboxMessage.claimed_until)
        .limit(1)
    )
    times = [t for t in (retry, lease) if t is not None]
    return min(times) if times else None


# the columns each kind of outcome writes, from bound parameters named b_*
_SET: dict[str, dict[str, Any]] = {
    "sent": {"state": "sent", "sent_at": bindparam("b_now"), "last_reply": bindparam("b_reply"),
             "claimed_until": None, "relay": bindparam("b_relay")},
    "bounced": {"state": "bounced", "last_reply": bindparam("b_reply"), "claimed_until": None,
                "relay": bindparam("b_relay")},
    "failed": {"state": "failed", "last_reply": bindparam("b_reply"), "claimed_until": None,
               "relay": bindparam("b_relay")},
    "deferred": {"state": "deferred", "last_reply": bindparam("b_reply"), "claimed_until": None,
                 "next_attempt_at": bindparam("b_next"), "relay": bindparam("b_relay")},
    # never reached a relay: the claim's attempt is given back, and the row is what it was before
    # the claim (queued if it had never been tried, else deferred), its lease cleared
    "released": {"state": case((_outbox.c.attempts <= 1, "queued"), else_="deferred"),
                 "last_reply": bindparam("b_reply"), "claimed_until": None,
                 "next_attempt_at": bindparam("b_next"), "attempts": _outbox.c.attempts - 1},
}


def record_results(
    session: Session,
    deliveries: Sequence[Delivery],
    now: datetime,
    policy: RetryPolicy,
    rng: random.Random,
) -> Counter[str]:
    """Write what the relay said for each row; returns how many rows went to each state.

    Only a row still `sending` is moved back to deferred or failed, so a worker whose lease
    ran out cannot undo what the worker that retook the row recorded; `sent` always wins.
    """
    params: dict[str, list[dict[str, Any]]] = {kind: [] for kind in _SET}
    unsent = [d.outbox_id for d in deliveries if d.error is not None]
    rows = {
        row.id: row
        for row in session.execute(
            select(OutboxMessage.id, OutboxMessage.attempts, OutboxMessage.created_at,
                   OutboxMessage.customer_id, OutboxMessage.to_address).where(OutboxMessage.id.in_(unsent))
        )
    } if unsent else {}
    bounced: list[Any] = []
    for delivery in deliveries:
        entry: dict[str, Any] = {"b_id": delivery.outbox_id, "b_reply": delivery.reply[:REPLY_CHARS],
                                 "b_relay": delivery.relay}
        kind = outcome(delivery.error)
        if kind is Outcome.SENT:
            params["sent"].append({**entry, "b_now": now})
            continue
        row = rows.get(delivery.outbox_id)
        if row is None:
            continue  # the row is gone (deleted meanwhile): nothing to record
        if kind is Outcome.BOUNCED:
            params["bounced"].append(entry)
            bounced.append(row)
        elif kind is Outcome.REJECTED:
            params["failed"].append(entry)
        elif isinstance(delivery.error, NotAttemptedError):
            if now >= row.created_at + policy.max_age and not isinstance(delivery.error, PutBackError):
                params["failed"].append(entry)
            else:
                params["released"].append(
                    {**entry, "b_next": now + timedelta(seconds=delivery.error.retry_after)}
                )
        else:
            at = policy.next_attempt(attempts=row.attempts, created_at=row.created_at, now=now, rng=rng)
            if at is None:
                params["failed"].append(entry)
            else:
                params["deferred"].append({**entry, "b_next": at})
    for name, values in params.items():
        if values:
            statement = update(_outbox).where(_outbox.c.id == bindparam("b_id")).values(_SET[name])
            if name != "sent":
                statement = statement.where(_outbox.c.state == "sending")
            session.execute(statement.execution_options(synchronize_session=False), values)
    if bounced:
        session.execute(insert(Event), [
            {"kind": "bounce", "customer_id": row.customer_id, "outbox_id": row.id, "occurred_at": now}
            for row in bounced
        ])
        suppress(session, [row.to_address for row in bounced], HARD_BOUNCE, now)
    counts: Counter[str] = Counter()
    for name, values in params.items():
        counts["deferred" if name == "released" else name] += len(values)
    return counts


def settle(session: Session, outbox_id: int, state: str, reason: str) -> None:
    """Close a claimed row without sending it (suppressed, or failed before the relay)."""
    session.execute(
        update(_outbox)
        .where(_outbox.c.id == outbox_id)
        .values(state=state, last_reply=reason[:REPLY_CHARS], claimed_until=None)
    )


def retry_failed(session: Session, now: datetime, campaign: str | None = None) -> int:
    """Give every `failed` row (of `campaign`, or all) one more chance: queued again, attempts from zero.

    Only `failed` rows move: a row that was sent (or bounced, suppressed) is never touched, and
    the row keeps its outbox key, so no one can be queued twice for the same mail.
    """
    statement = update(_outbox).where(_outbox.c.state == "failed")
    if campaign is not None:
        statement = statement.where(_outbox.c.campaign == campaign)
    result = session.execute(
        statement.values(state="queued", attempts=0, next_attempt_at=now, claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    return int(cast(Any, result).rowcount or 0)


def failure_reasons(session: Session, ids: Sequence[int]) -> list[tuple[str, str | None]]:
    """(campaign, last reply) of the rows among `ids` that are `failed`: what a run's summary groups."""
    if not ids:
        return []
    rows = session.execute(
        select(OutboxMessage.campaign, OutboxMessage.last_reply)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.state == "failed")
    )
    return [(campaign, reply) for campaign, reply in rows]
