"""Opens count people: whoever clicked has opened, whatever the pixel said (a privacy proxy fetched it,
or images were off), so click-to-open never exceeds 100%."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import hypothesis.strategies as st
import pandas as pd
from hypothesis import given, settings
from sqlalchemy.orm import Session, sessionmaker

from edm.reports import engagement_table
from edm.store import Customer, Event, OutboxMessage, create_schema, make_engine, session_factory
from tests.reports.history import at

Reaction = tuple[str, bool]  # (kind, by a machine)
REACTION = st.tuples(st.sampled_from(["open", "click"]), st.booleans())


def _store(sessions: sessionmaker[Session], messages: list[list[Reaction]]) -> None:
    with sessions.begin() as session:
        customer = Customer(external_id="c", name="c", email="c@example.com", kind="person", locale="en",
                            created_at=at(1, 1))
        session.add(customer)
        session.flush()
        for number, reactions in enumerate(messages):
            message = OutboxMessage(key=f"m{number}", campaign="news", customer_id=customer.id,
                                    occurrence=date(2024, 3, number + 1), to_address=customer.email,
                                    state="sent", next_attempt_at=at(3, 1), created_at=at(3, 1),
                                    sent_at=at(3, 1))
            session.add(message)
            session.flush()
            session.add_all(Event(kind=kind, customer_id=customer.id, outbox_id=message.id,
                                  occurred_at=at(3, 2), machine=machine) for kind, machine in reactions)


def test_a_proxied_open_with_a_click_is_an_open(sessions: sessionmaker[Session]) -> None:
    # the pixel was fetched by a privacy proxy only, then the person clicked
    _store(sessions, [[("open", True), ("click", False)], [("open", True)], [("click", True)]])
    with sessions() as session:
        total = engagement_table(session, ["campaign"]).iloc[-1]
    assert (total["delivered"], total["opened"], total["machine_opened"], total["clicked"]) == (3, 1, 2, 1)
    assert total["click_to_open"] == 1.0
    assert total["open_rate"] == round(1 / 3, 4)


@settings(max_examples=25, derandomize=True)
@given(st.lists(st.lists(REACTION, max_size=4), min_size=1, max_size=6))
def test_click_to_open_never_exceeds_one(messages: list[list[Reaction]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'edm.db'}")
        create_schema(engine)
        _store(session_factory(engine), messages)
        with session_factory(engine)() as session:
            total = engagement_table(session, ["campaign"]).iloc[-1]
        engine.dispose()
    people = [{kind for kind, machine in reactions if not machine} for reactions in messages]
    assert total["opened"] == sum(1 for kinds in people if kinds)  # an open or a click by a person
    assert total["clicked"] == sum(1 for kinds in people if "click" in kinds)
    assert total["clicked"] <= total["opened"]
    if total["opened"]:
        assert 0.0 <= total["click_to_open"] <= 1.0
        assert total["click_to_open"] == round(total["clicked"] / total["opened"], 4)
    else:  # over nobody: no rate, not 0%
        assert pd.isna(total["click_to_open"])
