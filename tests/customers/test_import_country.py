"""The optional `country` column of customers.csv: an ISO code in any case, else derived at import from the
locale's region or the time zone, and stored in `customers.country`; anything else is a row/column error."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.clock import FixedClock
from edm.customers import ImportResult, import_customers
from edm.customers import fields as f
from edm.errors import ImportDataError
from edm.store import Customer
from tests.customers.test_importer import write

CLOCK = FixedClock(datetime(2026, 3, 1, 8, tzinfo=UTC))
CUSTOMERS = """external_id,name,kind,email,locale,timezone,country
given,Given,company,given@example.com,en,UTC,cn
upper,Upper,company,upper@example.com,zh-CN,Asia/Shanghai,DE
locale,Locale,person,locale@example.com,zh-Hant-TW,UTC,
zone,Zone,person,zone@example.com,en,America/Los_Angeles,
berlin,Berlin,company,berlin@example.com,de-DE,,
unknown,Unknown,person,unknown@example.com,en,UTC,
"""


def _countries(sessions: sessionmaker[Session]) -> dict[str, str | None]:
    with sessions() as session:
        rows = session.execute(select(Customer.external_id, Customer.country))
        return {name: country for name, country in rows}


def test_the_country_is_given_or_derived_and_stored(
    any_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = write(tmp_path, "customers.csv", CUSTOMERS)
    assert import_customers(any_sessions, path, CLOCK) == ImportResult(6, 6, 0, 0)
    assert _countries(any_sessions) == {"given": "CN", "upper": "DE", "locale": "TW", "zone": "US",
                                        "berlin": "DE", "unknown": None}
    assert import_customers(any_sessions, path, CLOCK) == ImportResult(6, 0, 0, 6)  # again: nothing changes


def test_without_the_column_the_country_follows_the_locale_and_zone(
    any_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    import_customers(any_sessions, write(tmp_path, "c.csv", CUSTOMERS), CLOCK)
    moved = "external_id,name,kind,email,locale,timezone\nzone,Zone,person,zone@example.com,en,Asia/Tokyo\n"
    assert import_customers(any_sessions, write(tmp_path, "m.csv", moved), CLOCK) == ImportResult(1, 0, 1, 0)
    lean = "external_id,name,kind,email\ngiven,Given,company,given@example.com\n"  # no locale, zone, country
    assert import_customers(any_sessions, write(tmp_path, "l.csv", lean), CLOCK) == ImportResult(1, 0, 0, 1)
    countries = _countries(any_sessions)
    assert (countries["zone"], countries["given"]) == ("JP", "CN")  # the given one is kept as stored


def test_a_bad_country_names_row_column_and_reason(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    bad = CUSTOMERS.replace("UTC,cn", "UTC,China").replace("Asia/Shanghai,DE", "Asia/Shanghai,XX")
    with pytest.raises(ImportDataError) as caught:
        import_customers(sessions, write(tmp_path, "customers.csv", bad), CLOCK)
    assert caught.value.problems == [
        (2, "country", "'China' is not an ISO 3166 two-letter country code like CN, US or DE"),
        (3, "country", "'XX' is not an ISO 3166 two-letter country code like CN, US or DE"),
    ]
    assert _countries(sessions) == {}  # nothing written


CELL = st.one_of(st.sampled_from(["cn", "DE", "Us", "XX", "ß", "ss", "ＣＮ", "C", "CHN"]),
                 st.text(min_size=1, max_size=3)).map(str.strip).filter(bool)


@given(st.lists(CELL, min_size=1, max_size=20))
@example(["ß", "ﬀ", "ǆ", "ss"])
def test_country_readers_agree(cells: list[str]) -> None:
    values, ok = f.read_country(np.array(cells, dtype=object))
    for cell, value, accepted in zip(cells, values, ok, strict=True):
        try:
            expected = f.parse_country(cell)
        except ValueError:
            assert not accepted, cell
            continue
        assert accepted and value == expected, cell
