"""Today's slower figures are read again only once they are older than their time (edm.console.cache)."""

from __future__ import annotations

from edm.console.cache import Expiring


def test_a_value_is_kept_for_its_seconds_then_made_again() -> None:
    now = [100.0]
    kept = Expiring(60, clock=lambda: now[0])
    made: list[str] = []

    def make(key: str) -> str:
        made.append(key)
        return f"{key}{len(made)}"

    assert kept.get("rates", lambda: make("rates")) == "rates1"
    now[0] = 159.0
    assert kept.get("rates", lambda: make("rates")) == "rates1"  # 59 s old: kept
    assert kept.get("alerts", lambda: make("alerts")) == "alerts2"  # another key: its own value
    now[0] = 160.0
    assert kept.get("rates", lambda: make("rates")) == "rates3"  # 60 s old: made again
    assert made == ["rates", "alerts", "rates"]
