"""A hand-made delivery history the deliverability tests count by hand (window: 2024-03-01 to 04-01).

    campaign  day    provider (addresses)                    delivered  hard bounces  complaints
    spring    03-04  gmail (Ann@Gmail.com, bob@googlemail.com)   10      1 (at once)   2 (one reported twice)
    spring    03-04  microsoft (outlook.com, hotmail.com)         5      0             1 (came 03-20)
    spring    03-04  other (example.com)                          4      1 (at once)   0
    winback   03-05  yahoo (yahoo.com, aol.com)                   3      1 (a DSN)     0
    winback   03-05  qq (QQ.com, foxmail.com), 00:00 UTC          2      0             1
    winback   03-05  netease (163.com, 126.com, yeah.net)         4      0             0
    winback   03-05  other (mail.gmail.com: not Gmail)            1      0             1
    spring    03-11  gmail                                        5      1 (at once)   0
    one Gmail message sent 03-04 23:59:59 UTC (in the 10 above) stays on 03-04.

Left out: a Gmail message sent 02-20 with a complaint (before the window), queued, deferred and
held_out rows, opens and clicks. A complaint that names no message (03-06) is counted apart.

    campaign: spring 24 delivered, 3 bounced, 3 complaints; winback 10, 1, 2.
    provider: gmail 15/2/2, microsoft 5/0/1, yahoo 3/1/0, qq 2/0/1, netease 4/0/0, other 5/1/1.
    day: 03-04 19/2/3 (gmail 10/1/2), 03-05 10/1/2 (gmail none), 03-06..03-10 none, 03-11 5/1/0.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy.orm import Session, sessionmaker

from edm.store import Customer, Event, OutboxMessage


def at(month: int, day: int, hour: int = 12, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2024, month, day, hour, minute, second, tzinfo=UTC)


WINDOW = {"since": datetime(2024, 3, 1, tzinfo=UTC), "until": datetime(2024, 4, 1, tzinfo=UTC)}
# campaign, when, addresses (cycled), delivered, bounced at once, bounced by a later DSN, complaints
GROUPS: list[tuple[str, datetime, tuple[str, ...], int, int, int, int]] = [
    ("spring", at(3, 4), ("Ann@Gmail.com", "bob@googlemail.com"), 9, 1, 0, 2),  # + one at 23:59:59
    ("spring", at(3, 4), ("c@outlook.com", "d@hotmail.com"), 5, 0, 0, 1),
    ("spring", at(3, 4), ("i@example.com",), 4, 1, 0, 0),
    ("winback", at(3, 5), ("e@yahoo.com", "f@aol.com"), 3, 0, 1, 0),
    ("winback", at(3, 5, 0), ("g@QQ.com", "g2@foxmail.com"), 2, 0, 0, 1),
    ("winback", at(3, 5), ("h@163.com", "h2@126.com", "h3@yeah.net"), 4, 0, 0, 0),
    ("winback", at(3, 5), ("j@mail.gmail.com",), 1, 0, 0, 1),
    ("spring", at(3, 11), ("Ann@Gmail.com",), 5, 1, 0, 0),
]


def seed_deliveries(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        customer = Customer(external_id="c1", name="c1", email="c1@example.com", kind="person",
                            created_at=at(1, 1))
        session.add(customer)
        session.flush()
        number = 0

        def message(campaign: str, address: str, state: str, when: datetime, sent: bool) -> OutboxMessage:
            nonlocal number
            number += 1
            row = OutboxMessage(key=f"m{number}", campaign=campaign, customer_id=customer.id,
                                occurrence=date(2024, 1, 1), to_address=address, state=state,
                                next_attempt_at=when, created_at=when if not sent else at(1, 1),
                                sent_at=when if sent else None)
            session.add(row)
            session.flush()
            return row

        def event(kind: str, row: OutboxMessage | None, when: datetime) -> None:
            session.add(Event(kind=kind, customer_id=customer.id, outbox_id=row.id if row else None,
                              occurred_at=when, source="arf" if kind == "complaint" else None))

        for campaign, when, addresses, delivered, at_once, later, complaints in GROUPS:
            sent = [message(campaign, addresses[i % len(addresses)], "sent", when, True)
                    for i in range(delivered)]
            for row in sent[:complaints]:
                event("complaint", row, when.replace(day=20))
            for i in range(at_once + later):  # refused at once (never sent), then bounced by a DSN (sent)
                row = message(campaign, addresses[i % len(addresses)], "bounced", when, i >= at_once)
                event("bounce", row, when)
            if campaign == "spring" and when == at(3, 4) and "Ann@Gmail.com" in addresses:
                event("complaint", sent[0], at(3, 5))  # the same message reported twice counts once
                event("open", sent[1], when)
        message("spring", "late@gmail.com", "sent", at(3, 4, 23, 59, 59), True)  # the 10th of 03-04
        old = message("spring", "ann@gmail.com", "sent", at(2, 20), True)
        event("complaint", old, at(3, 2))  # the message is before the window: left out
        for state in ("queued", "deferred", "held_out"):
            message("spring", "ann@gmail.com", state, at(3, 4), False)
        event("complaint", None, at(3, 6))
