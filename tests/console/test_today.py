"""The Today page: what is due, what waits and went out today, what is paused, yesterday's results."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from edm.config import load_settings
from edm.runner import open_store
from edm.store import Customer, CustomerProfile, Event, OutboxMessage
from tests.console.conftest import Console, csrf_of, signed_in

DAILY = """name: daily_news
schedule: {cron: "0 9 * * *", timezone: UTC}
respect_frequency: false
template: re_permission
subject: {en: "News", zh-Hans: "新闻", zh-Hant: "新聞"}
links: {stay: "https://www.example.com/stay"}
"""


def outbox_counts(html: str, campaign: str) -> dict[str, int]:
    """The Today outbox table's figures of one campaign (its cells' data-count)."""
    row = re.search(rf'<tr data-campaign="{re.escape(campaign)}">(.*?)</tr>', html, re.S)
    assert row is not None, html
    return {name: int(value) for name, value in re.findall(r'data-count="(\w+)"[^>]*>(\d+)<', row.group(1))}


def _cells(html: str, heading: str) -> str:
    """The HTML from `heading`'s <h2> to the next one."""
    found = re.search(rf"<h2[^>]*>{re.escape(heading)}</h2>", html)
    assert found is not None, heading
    start = found.start()
    following = html.find("<h2", start + 1)
    return html[start:following if following > 0 else None]


def test_today_counts_the_outbox_and_yesterday_in_aggregate(console: Console) -> None:
    (console.folder / "campaigns" / "daily_news.yaml").write_text(DAILY, encoding="utf-8")
    now = datetime.now(UTC)
    yesterday = now - timedelta(days=1)
    with open_store(load_settings(console.folder / "edm.yaml")).begin() as session:
        ids = list(session.scalars(select(Customer.id).order_by(Customer.id)))
        rows = [("queued", None), ("queued", None), ("sending", None), ("sent", now), ("sent", yesterday)]
        for n, (state, sent_at) in enumerate(rows):
            session.add(OutboxMessage(key=f"k{n}", campaign="daily_news", step=0, customer_id=ids[n % 3],
                                      occurrence=now.date(), to_address="x@example.com", state=state,
                                      next_attempt_at=now, created_at=now, sent_at=sent_at))
        session.flush()
        sent_yesterday = session.scalar(select(OutboxMessage.id).where(OutboxMessage.key == "k4"))
        for kind, machine in (("open", False), ("open", False), ("open", True), ("click", False)):
            session.add(Event(kind=kind, customer_id=ids[0], outbox_id=sent_yesterday, occurred_at=yesterday,
                              machine=machine))
    http = signed_in(console, "ana")
    page = http.get("/").text
    assert "daily_news" in _cells(page, "Due today")
    assert outbox_counts(_cells(page, "Sending now"), "daily_news") == {
        "queued": 2, "sending": 1, "sent_today": 1, "failed_today": 0}
    classes = re.sub(r"\s+", "", _cells(page, "Waiting, by value tier and lifecycle stage"))
    with open_store(load_settings(console.folder / "edm.yaml"))() as session:
        profiles = [session.get_one(CustomerProfile, i) for i in ids]
    expected: Counter[tuple[str, str]] = Counter(
        (profiles[n % 3].value_tier, profiles[n % 3].lifecycle_stage)
        for n, (state, _) in enumerate(rows) if state != "sent")
    for (tier, stage), count in expected.items():
        assert f'<tr><td>Dailynews<smallclass="id">daily_news</small></td><td>{tier}</td><td>{stage}</td>' \
               f"<td>{count}</td></tr>" in classes
    assert classes.count('<tr><td>Dailynews<smallclass="id">daily_news</small></td>') == len(expected)
    results = re.sub(r"\s+", "", _cells(page, "Yesterday"))
    assert "<td>1</td><td>0</td><td>2</td><td>1</td>" in results  # sent, bounced, opens (not machine), clicks
    assert "Nothing is paused." in page and "data-paused" not in page

    mia = signed_in(console, "mia")
    form = mia.get("/campaigns/daily_news").text
    mia.post("/campaigns/daily_news/pause", data={"csrf": csrf_of(form)})
    after = http.get("/").text
    assert 'data-paused="1">Sending paused now: 1. <a href="#paused">See why</a>' in after  # at the top
    assert after.index("data-paused") < after.index("Sending now")
    paused = _cells(after, "Paused")
    assert "daily_news" in paused and "paused in the console by mia" in paused
