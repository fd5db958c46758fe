"""`edm campaign run --dry-run` says who would get which variant and language, and who is held back by
which rule; `--out` lists every audience member; a real run afterwards queues exactly the sends."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import hypothesis.strategies as st
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from sqlalchemy import select

from edm.campaigns.decisions import SENDING, Facts, Reason, Rules, decide, decide_follow_up
from edm.campaigns.timing import Timing, zone
from edm.campaigns.variants import HOLDOUT, assign
from edm.cli import main
from edm.config import SendWindow, load_settings
from edm.engagement import may_contact
from edm.runner import open_store
from edm.store import Customer, OutboxMessage
from edm.suppression import suppress
from edm.tracking.events import pause
from tests.conftest import SECRET_KEY, SmtpServer

NEWS = """name: news
template: re_engagement
subject: {en: "News for {{ greeting_name }}", zh-Hans: "新闻", zh-Hant: "新聞"}
links: {catalog: "https://www.example.com/c", feedback: "https://www.example.com/f"}
params: {discount: "10%"}
holdout_percent: 25
variants: [{name: a}, {name: b, subject: {en: "B news", zh-Hans: "乙", zh-Hant: "乙"}}]
"""
NORMAL = [f"n{i:02}" for i in range(12)]
SPECIAL = ["unsubscribed", "recent", "sunset", "paused"]
COLUMNS = ["campaign", "step", "customer_id", "email", "name", "language", "variant", "decision", "reason",
           "detail"]


def _name(external_id: str) -> str:
    return "=1+2 Trading" if external_id == "n00" else f"Customer {external_id}"  # a formula, for the CSV


def _folder(tmp_path: Path) -> tuple[list[str], dict[str, int], datetime]:
    """A working folder made with the CLI: customers (English and Chinese), orders, classes; then, as the
    real paths leave them, one unsubscribed, one mailed yesterday, one long silent, one paused."""
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(tmp_path)], catch_exceptions=False).exit_code == 0
    (tmp_path / "campaigns" / "news.yaml").write_text(NEWS, encoding="utf-8")
    config = ["--config", str(tmp_path / "edm.yaml")]
    now = datetime.now(UTC)
    people = ["external_id,name,kind,email,locale,timezone"]
    orders = ["external_id,customer_external_id,ordered_at,amount"]
    for n, external_id in enumerate(NORMAL + SPECIAL):
        locale = "zh-CN" if n % 2 else "en-US"
        people.append(f'{external_id},"{_name(external_id)}",person,{external_id}@example.com,{locale},UTC')
        ago = (400, 300) if external_id == "sunset" else (90, 40)  # the sunset customer: no order for long
        for k, days in enumerate(ago):
            day = now - timedelta(days=days)
            orders.append(f"o-{external_id}-{k},{external_id},{day:%Y-%m-%d},{100 + n}")
    (tmp_path / "customers.csv").write_text("\n".join(people) + "\n", encoding="utf-8")
    (tmp_path / "orders.csv").write_text("\n".join(orders) + "\n", encoding="utf-8")
    for command in (["import", "customers", str(tmp_path / "customers.csv")],
                    ["import", "orders", str(tmp_path / "orders.csv")], ["classify"]):
        result = runner.invoke(main, [*command, *config], catch_exceptions=False)
        assert result.exit_code == 0, result.output

    sessions = open_store(load_settings(tmp_path / "edm.yaml"))
    with sessions.begin() as session:
        ids = {key: id_ for key, id_ in session.execute(select(Customer.external_id, Customer.id))}
        suppress(session, ["unsubscribed@example.com"], "unsubscribed", now)
        assert pause(session, customer_id=ids["paused"], days=30, now=now) is not None
        mails = [("recent", 1.0), ("sunset", 250.0), ("sunset", 200.0), ("sunset", 190.0)]
        for external_id, days in mails:
            sent = now - timedelta(days=days)
            session.add(OutboxMessage(key=f"other-{external_id}-{days}", campaign="other",
                                      customer_id=ids[external_id], occurrence=sent.date(),
                                      to_address=f"{external_id}@example.com", state="sent", attempts=1,
                                      next_attempt_at=sent, created_at=sent, sent_at=sent))
    return config, ids, now


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == COLUMNS
        return list(reader)


def test_dry_run_lists_every_audience_member_with_the_rule_and_a_real_run_queues_the_sends(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config, ids, now = _folder(tmp_path)
    arms = {name: assign("news", ids[name], [("a", 1.0), ("b", 1.0)], 25) for name in NORMAL}
    assert {"a", "b", HOLDOUT} <= set(arms.values())  # the hash splits this audience all three ways
    held = {"unsubscribed": "suppressed", "recent": "too_soon", "sunset": "sunset", "paused": "paused"}
    held |= {name: "holdout" for name, arm in arms.items() if arm == HOLDOUT}
    sent = {name: arm for name, arm in arms.items() if arm != HOLDOUT}
    out = tmp_path / "news.csv"

    dry = CliRunner().invoke(main, ["campaign", "run", "news", "--dry-run", "--out", str(out), *config],
                             catch_exceptions=False)

    assert dry.exit_code == 0, dry.output
    lines = dry.stdout.splitlines()
    assert f"news {now.date()}: audience 16, queued {len(sent)}" in lines[0]
    for reason in ("suppressed", "too_soon", "sunset", "paused"):
        name = next(n for n, r in held.items() if r == reason)
        assert re.search(rf"^  held {reason} +1  e\.g\. {ids[name]} {name}@example\.com$", dry.output, re.M)
    holdout = sorted(ids[n] for n, r in held.items() if r == "holdout")
    shown = ", ".join(f"{i} n{next(k for k in NORMAL if ids[k] == i)[1:]}@example.com" for i in holdout[:5])
    assert re.search(rf"^  held holdout +{len(holdout)}  e\.g\. {re.escape(shown)}", dry.output, re.M)
    assert re.search(rf"^  send due +{len(sent)}  e\.g\. ", dry.output, re.M)
    for arm in ("a", "b"):
        for language, locale_index in (("en", 0), ("zh-Hans", 1)):
            count = sum(1 for n, a in sent.items() if a == arm and NORMAL.index(n) % 2 == locale_index)
            if count:
                assert re.search(rf"^  send variant {arm} +{language} +{count}$", dry.output, re.M)
    assert f"wrote {out}" in dry.output

    rows = _csv(out)
    by_id = {int(row["customer_id"]): row for row in rows}
    assert len(rows) == len(by_id) == 16  # every audience member, once
    for name, customer_id in ids.items():
        row = by_id[customer_id]
        assert (row["campaign"], row["step"], row["email"]) == ("news", "0", f"{name}@example.com")
        assert row["language"] == ("zh-Hans" if (NORMAL + SPECIAL).index(name) % 2 else "en")
        if name in sent:
            assert (row["decision"], row["reason"], row["variant"]) == ("send", "due", sent[name])
        else:
            assert (row["decision"], row["reason"]) == ("held", held[name])
            assert row["variant"] == ("holdout" if held[name] == "holdout" else "")
    assert by_id[ids["n00"]]["name"] == "'=1+2 Trading"  # a spreadsheet shows it, never runs it
    assert by_id[ids["n01"]]["name"] == "Customer n01"
    yesterday = (now - timedelta(days=1)).date()
    assert re.fullmatch(rf"last mail {yesterday}, interval \d+ d, next from \d{{4}}-\d\d-\d\d",
                        by_id[ids["recent"]]["detail"])
    assert by_id[ids["unsubscribed"]]["detail"] == "unsubscribed"
    assert by_id[ids["paused"]]["detail"] == f"paused until {(now + timedelta(days=30)).date()}"
    sessions = open_store(load_settings(tmp_path / "edm.yaml"))
    with sessions() as session:
        assert session.scalars(select(OutboxMessage.id).where(OutboxMessage.campaign == "news")).all() == []

    real = CliRunner().invoke(
        main, ["campaign", "run", "news", *config], catch_exceptions=False,
        env={"EDM_SECRET_KEY": SECRET_KEY, "EDM_SMTP__HOST": smtp_server.host,
             "EDM_SMTP__PORT": str(smtp_server.port)},
    )

    assert real.exit_code == 0, real.output
    with sessions() as session:
        outbox = session.execute(select(OutboxMessage.customer_id, OutboxMessage.state, OutboxMessage.variant)
                                 .where(OutboxMessage.campaign == "news")).all()
    sends = {int(row["customer_id"]) for row in rows if row["decision"] == "send"}
    assert {c for c, state, _ in outbox if state != "held_out"} == sends
    assert {c for c, state, _ in outbox if state == "held_out"} == set(holdout)  # recorded, never sent
    assert {c: v for c, state, v in outbox if state != "held_out"} == {ids[n]: a for n, a in sent.items()}
    received = [message["To"].addresses[0].addr_spec for message in smtp_server.handler.messages]
    assert sorted(received) == sorted(f"{name}@example.com" for name in sent)


def test_out_says_what_is_wrong_when_the_file_cannot_be_written(tmp_path: Path) -> None:
    runner = CliRunner()
    runner.invoke(main, ["init", str(tmp_path)], catch_exceptions=False)
    out = str(tmp_path / "no" / "x.csv")
    result = runner.invoke(main, ["campaign", "run", "win_back", "--dry-run", "--out", out,
                                  "--config", str(tmp_path / "edm.yaml")], catch_exceptions=False)
    assert result.exit_code == 1
    assert "cannot write" in result.output and "--out" in result.output and "Traceback" not in result.output


NOW = datetime(2026, 12, 7, 3, 30, tzinfo=UTC)
ZONES = ["UTC", "Asia/Shanghai", "America/Los_Angeles"]
moments = st.integers(-400 * 24, 400 * 24).map(lambda hours: NOW + timedelta(hours=hours))
facts = st.builds(
    Facts,
    customer_id=st.integers(1, 10**9),
    timezone=st.sampled_from(ZONES),
    interval_days=st.floats(1, 60),
    planned=st.booleans(),
    suppression=st.none() | st.sampled_from(["unsubscribed", "bounced", "complained"]),
    observed=st.booleans(),
    paused_until=st.none() | moments,
    sunset=st.booleans(),
    busy=st.booleans(),
    best_hour=st.none() | st.integers(0, 23),
    last_contact=st.none() | moments.filter(lambda m: m <= NOW),
)
rules = st.builds(
    Rules,
    campaign=st.sampled_from(["news", "win_back"]),
    marketing=st.booleans(),
    reaches_sunset=st.booleans(),
    drop_when_busy=st.booleans(),
    optimal_time=st.booleans(),
    respects_interval=st.booleans(),
    variants=st.sampled_from([(), (("a", 1.0), ("b", 3.0))]),
    holdout_percent=st.sampled_from([0.0, 10.0, 50.0]),
    window=st.none() | st.just(SendWindow(start=time(9), end=time(20))),
)
timings = st.builds(Timing, now=st.just(NOW), at=st.none() | st.just(time(9)))


@settings(derandomize=True, max_examples=200)
@given(facts, rules, timings)
def test_a_send_passes_every_rule_and_a_held_customer_is_held_by_the_rule_it_names(
    customer: Facts, campaign: Rules, timing: Timing
) -> None:
    decision = decide(customer, campaign, timing)
    assert decision == decide(customer, campaign, timing) and decision.customer_id == customer.customer_id
    moment = timing.moment(customer.timezone)
    marketing = campaign.marketing
    paused = marketing and customer.paused_until is not None and customer.paused_until > moment
    if decision.send:
        assert decision.reason in (Reason.DUE, Reason.SCHEDULED) and decision.send_at is not None
        assert not customer.planned and customer.suppression is None and customer.observed and not paused
        assert not (marketing and customer.sunset and not campaign.reaches_sunset)
        assert not (marketing and customer.busy and campaign.drop_when_busy)
        assert not campaign.respects_interval or may_contact(customer.last_contact, customer.interval_days,
                                                             decision.send_at)
        assert decision.variant == assign(campaign.campaign, customer.customer_id, campaign.variants,
                                          campaign.holdout_percent) != HOLDOUT
        assert decision.send_at >= timing.now and (decision.reason == Reason.DUE) == (decision.send_at == NOW)
        if campaign.window is not None:
            local = decision.send_at.astimezone(zone(customer.timezone)).time()
            assert campaign.window.start <= local < campaign.window.end
        return
    assert decision.variant is None and decision.detail
    first_rule = {  # the rules in the planner's order: the first that holds names the reason
        Reason.ALREADY_PLANNED: customer.planned,
        Reason.SUPPRESSED: customer.suppression is not None,
        Reason.NOT_OBSERVED: not customer.observed,
        Reason.PAUSED: paused,
        Reason.SUNSET: marketing and customer.sunset and not campaign.reaches_sunset,
        Reason.MAILED_TODAY: marketing and customer.busy and campaign.drop_when_busy,
    }
    holding = [reason for reason, holds in first_rule.items() if holds]
    if holding:
        assert decision.reason == holding[0]
    else:
        assert decision.send_at is not None  # judged for the moment it would go out
        allowed = may_contact(customer.last_contact, customer.interval_days, decision.send_at)
        too_soon = campaign.respects_interval and not allowed
        assert decision.reason == (Reason.TOO_SOON if too_soon else Reason.HOLDOUT)
        if not too_soon:
            assert assign(campaign.campaign, customer.customer_id, campaign.variants,
                          campaign.holdout_percent) == HOLDOUT


@pytest.mark.parametrize(("suppression", "exits", "reason"), [
    (None, [], Reason.FOLLOW_UP),
    ("bounced", ["ordered"], Reason.SUPPRESSED),
    (None, ["clicked"], Reason.EXITED),
])
def test_a_follow_up_goes_to_those_still_in_the_sequence(
    suppression: str | None, exits: list[str], reason: Reason
) -> None:
    decision = decide_follow_up(7, suppression, exits)
    assert decision.reason == reason and decision.send == (reason in SENDING)
    assert decision.detail == (suppression or ", ".join(exits))
