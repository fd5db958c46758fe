"""Topics a person turned off, as `Customer.topics_off` keeps them: read by the planner (a campaign
of a topic turned off is held) and written by the preference page (edm.tracking)."""

from __future__ import annotations

from collections.abc import Collection


def topics_in(stored: str | None) -> frozenset[str]:
    """`Customer.topics_off` as written ("news, offers") as a set; None or "" is none."""
    return frozenset(part.strip() for part in (stored or "").split(",") if part.strip())


def topics_text(topics: Collection[str]) -> str | None:
    """Topics as `Customer.topics_off` keeps them: lower-case, sorted, ", "-separated; None for none."""
    return ", ".join(sorted({topic.lower() for topic in topics})) or None
