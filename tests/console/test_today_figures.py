"""The Today page's figures over a real server and store: the outbox fragment the page polls,
deliverability judged as `edm doctor` judges it, the due campaigns' audience by tier and stage,
account managers' alerts, and campaigns named by their display name."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.config import load_settings
from edm.runner import open_store
from edm.store import Customer, CustomerProfile, Event, OutboxMessage, ProfileTransition
from tests.console.conftest import Console, client, signed_in
from tests.console.test_today import outbox_counts

DAILY = """name: daily_news
title: {en: "Morning news", zh-Hans: "早间新闻", zh-Hant: "早間新聞"}
schedule: {cron: "0 9 * * *", timezone: UTC}
respect_frequency: false
template: re_permission
subject: {en: "News", zh-Hans: "新闻", zh-Hant: "新聞"}
links: {stay: "https://www.example.com/stay"}
"""


def _store(console: Console) -> sessionmaker[Session]:
    return open_store(load_settings(console.folder / "edm.yaml"))


def _customers(console: Console) -> list[int]:
    with _store(console)() as session:
        return list(session.scalars(select(Customer.id).order_by(Customer.id)))


def _outbox(console: Console, rows: list[tuple[str, str, datetime | None, datetime]]) -> list[int]:
    """(campaign, state, sent_at, next_attempt_at) rows; their ids."""
    ids = _customers(console)
    now = datetime.now(UTC)
    made = []
    with _store(console).begin() as session:
        for n, (campaign, state, sent_at, attempt_at) in enumerate(rows):
            row = OutboxMessage(key=f"t{n}", campaign=campaign, step=0, customer_id=ids[n % len(ids)],
                                occurrence=now.date(), to_address="x@example.com", state=state,
                                next_attempt_at=attempt_at, created_at=now, sent_at=sent_at)
            session.add(row)
            made.append(row)
        session.flush()
        return [row.id for row in made]


def test_the_outbox_fragment_shows_each_campaigns_progress_to_the_signed_in_only(console: Console) -> None:
    (console.folder / "campaigns" / "daily_news.yaml").write_text(DAILY, encoding="utf-8")
    now = datetime.now(UTC)
    yesterday = now - timedelta(days=1)
    _outbox(console, [("daily_news", "queued", None, now), ("daily_news", "deferred", None, now),
                      ("daily_news", "sending", None, now), ("daily_news", "sent", now, now),
                      ("daily_news", "failed", None, now), ("daily_news", "bounced", None, now),
                      ("daily_news", "failed", None, yesterday),  # yesterday's failure: not today's
                      ("daily_news", "sent", yesterday, yesterday), ("other_one", "queued", None, now)])
    anonymous = client(console).get("/today/outbox")
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login"
    assert "daily_news" not in anonymous.text and "data-count" not in anonymous.text

    http = signed_in(console, "ana")
    fragment = http.get("/today/outbox")
    assert fragment.status_code == 200 and fragment.headers["content-type"].startswith("text/html")
    assert "<html" not in fragment.text and "<script" not in fragment.text  # the table alone
    assert outbox_counts(fragment.text, "daily_news") == {"queued": 2, "sending": 1, "sent_today": 1,
                                                          "failed_today": 2}
    assert outbox_counts(fragment.text, "other_one") == {"queued": 1, "sending": 0, "sent_today": 0,
                                                         "failed_today": 0}
    assert ">Morning news</a>" in fragment.text and ">Other one</a>" in fragment.text  # display names

    page = http.get("/")
    for name in ("daily_news", "other_one"):  # the page shows the same figures as the fragment
        assert outbox_counts(page.text, name) == outbox_counts(fragment.text, name)
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy and "unsafe" not in policy
    assert re.findall(r"<script[^>]*>", page.text) == ['<script src="/static/live.js" defer>']  # none inline
    assert '<a href="/">Refresh the page</a>' in page.text  # without scripts: reload by hand
    assert "script-src" not in http.get("/campaigns").headers["content-security-policy"]  # Today's only
    script = http.get("/static/live.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert 'data-live="/today/outbox"' in page.text and "eval(" not in script.text


def test_today_says_all_is_well_when_nothing_bounced(console: Console) -> None:
    now = datetime.now(UTC)
    _outbox(console, [("daily_news", "sent", now - timedelta(days=n % 6, hours=1), now) for n in range(40)])
    clean = signed_in(console, "mia").get("/").text
    assert 'data-rate="ok"' in clean and "All is well" in clean and 'role="alert"' not in clean
    assert "<td>0</td><td>40</td><td>0.00%</td><td>2.0%</td><td>5.0%</td>" in clean  # the bounce figures


def test_today_shows_a_bounce_problem_with_its_figures(console: Console) -> None:
    now = datetime.now(UTC)
    sent = _outbox(console, [("daily_news", "sent", now - timedelta(days=n % 6, hours=1), now)
                             for n in range(40)])
    ids = _customers(console)
    with _store(console).begin() as session:  # 4 of 40 bounced later: 10%, over the 5% line
        for outbox_id in sent[:4]:
            session.add(Event(kind="bounce", customer_id=ids[0], outbox_id=outbox_id,
                              occurred_at=now - timedelta(hours=2)))
    mia = signed_in(console, "mia")
    problem = mia.get("/").text
    error = re.search(r'<div class="error" role="alert" data-rate="bounce">(.*?)</div>', problem, re.S)
    assert error is not None, problem
    words = re.sub(r"\s+", " ", error.group(1))
    assert "Error: Bounce rate" in words and "4 of 40 sent = 10.00%" in words
    assert "Warning from 2.0%, error from 5.0%" in words
    assert 'data-rate="complaint"' not in problem and "All is well" not in problem
    zh = mia.get("/", headers={"accept-language": "zh-CN"}).text
    assert "退信率" in zh and "已发送 40 封中 4 封 = 10.00%" in zh


def test_today_counts_the_due_campaigns_audience_by_tier_and_stage(console: Console) -> None:
    (console.folder / "campaigns" / "daily_news.yaml").write_text(DAILY, encoding="utf-8")
    with _store(console)() as session:
        profiles = list(session.scalars(select(CustomerProfile)))
    expected = Counter((p.value_tier or "-", p.lifecycle_stage or "-") for p in profiles)
    page = signed_in(console, "ana").get("/").text
    cells = r"<td>.*?</td><td>(.*?)</td><td>(\d+)</td><td>(.*?)</td></tr>"
    rows = re.findall(r'<tr data-planned="daily_news">' + cells, page)
    assert rows, page
    found: Counter[tuple[str, str]] = Counter()
    for tier, total, stages in rows:
        parts = [part.rsplit(" ", 1) for part in stages.split(", ")]
        assert int(total) == sum(int(count) for _, count in parts)
        for stage, count in parts:
            found[(tier, stage)] += int(count)
    assert found == expected and sum(found.values()) == 3
    assert "before the holds" in page


def test_today_counts_each_managers_alerts_and_a_manager_sees_their_own(console: Console) -> None:
    now = datetime.now(UTC)
    with _store(console).begin() as session:
        by_id = dict(session.execute(select(Customer.external_id, Customer.id)).all())
        for external_id, days in (("C001", 1), ("C002", 2), ("C003", 3), ("C003", 20)):  # 20 days: too old
            moved = ProfileTransition(customer_id=by_id[external_id], dimension="lifecycle_stage",
                                      old="mature", new="at_risk", computed_at=now - timedelta(days=days))
            session.add(moved)
    page = re.sub(r"\s+", "", signed_in(console, "ada").get("/").text)
    for email, name, count in (("max@example.com", "Max", 2), ("meg@example.com", "Meg", 1)):
        cells = f"<td>{name}</td><td>{email}</td><td>{count}</td><td>{count}</td>"  # alerts, customers
        assert f'<trdata-manager="{email}">{cells}</tr>' in page
    assert page.index('data-manager="max') < page.index('data-manager="meg')  # the most alerted first

    mine = signed_in(console, "max").get("/").text
    assert 'data-my-alerts="2"' in mine and 'href="/customers">See them</a>' in mine
    assert "data-manager=" not in mine  # not the other managers'


def test_campaigns_are_named_by_their_title_in_the_visitors_language(console: Console) -> None:
    (console.folder / "campaigns" / "daily_news.yaml").write_text(DAILY, encoding="utf-8")
    now = datetime.now(UTC)
    _outbox(console, [("daily_news", "queued", None, now)])
    http = signed_in(console, "mia")
    for language, title in (("zh-CN", "早间新闻"), ("zh-TW", "早間新聞"), ("en", "Morning news")):
        asked = {"accept-language": language}
        for path in ("/", "/today/outbox", "/campaigns", "/campaigns/daily_news",
                     "/campaigns/daily_news/preview"):
            page = http.get(path, headers=asked).text
            assert title in page and '<small class="id">daily_news</small>' in page, (language, path)
    listed = http.get("/campaigns").text  # no title: the name humanised
    assert '>Spring sale</a> <small class="id">spring_sale</small>' in listed
