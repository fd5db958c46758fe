"""`edm demo`: the whole product path once, on embedded defaults, in one folder.

Real parts only: a SQLite file, an SMTP server (aiosmtpd) writing `.eml` files, the
tracking app served by uvicorn and fetched over HTTP as a mail client would.
Time is a `FixedClock`, so the demo can show what happens a week and a month later: the
follow-ups, and the orders that came after the mail against those of each campaign's holdout.
"""

from __future__ import annotations

import asyncio
import email
import random
import re
import secrets
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email import policy
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.alerts.digest import send_digests
from edm.campaigns.loader import load_campaigns
from edm.campaigns.schema import Campaign
from edm.campaigns.triggers import next_due, occurrence_of
from edm.cli import format_classification, format_run
from edm.clock import FixedClock, SystemClock
from edm.config import ClassificationSettings, Settings, load_settings
from edm.customers import import_customers, import_orders, recompute_profiles
from edm.delivery.sink import smtp_sink
from edm.errors import EdmError
from edm.reports import engagement_report, format_summary, satisfaction_report, write_report
from edm.reports.campaigns import campaign_facts
from edm.runner import initialise_folder, open_store, run_campaigns
from edm.sample import (
    KIND_EFFECTS,
    MAIL_EFFECTS,
    ORDER_RATES,
    Exposure,
    generate_sample,
    mail_effect,
    orders_after_mail,
    write_orders,
    write_sample,
)
from edm.store import Customer, CustomerProfile, Event, OutboxMessage
from edm.surveys.scores import SCALES, Survey, satisfaction_of
from edm.tracking import create_tracking_app, serve_in_background
from edm.wording import count, day_range, number

Echo = Callable[[str], None]
FOLLOW_UP_AFTER = timedelta(days=8)
READ_AFTER = timedelta(hours=2)
NEXT_MORNING = timedelta(days=1)
FOLLOW_UP_CAMPAIGNS = ["re_engagement", "win_back"]
ANSWER_CAMPAIGNS = ["detractor_follow_up", "promoter_referral"]  # triggered by survey answers


# The demo holds out this share of each marketing and greeting campaign's audience (planned, never
# sent) so its report can compare. Far above a production default (a few %): a campaign here reaches a
# few dozen sample customers, and 5% of that is one or two people, a group too small to compare with.
DEMO_HOLDOUT_PERCENT = 30
HOLDOUT_KINDS = ("marketing", "greeting")  # surveys ask, service notices inform: everyone gets those
MIN_GROUP = 10  # fewer mailed or held-out customers than this, and the demo says "too few to tell"
ORDERS_FILE = "orders-after-mail.csv"

MARKER = ".edm-demo"
# The demo's sender, so its mail shows an identity as real mail must (docs/identity.md).
DEMO_FROM = "Example Flow Controls <care@example.com>"
DEMO_BRAND: dict[str, Any] = {
    "company": {"en": "Example Flow Controls Ltd", "zh-Hans": "示例流体控制有限公司",
                "zh-Hant": "示例流體控制有限公司"},
    "postal_address": {"en": "88 Example Road, Pudong, Shanghai 200120, China",
                       "zh-Hans": "中国上海市浦东新区示例路88号 邮编200120",
                       "zh-Hant": "中國上海市浦東新區示例路88號 郵編200120"},
    "website": "https://www.example.com",
    "phone": "+86 21 5555 0188",
    "logo_url": "https://www.example.com/logo.png",
    "logo_width": 160,
    "logo_height": 40,
}
_BRAND_BLOCK = re.compile(r"^brand:.*?(?=^\S)", re.MULTILINE | re.DOTALL)
_DEFAULT_FROM = re.compile(r'^(  from_address: )"Customer Care <care@example\.com>"', re.MULTILINE)


@dataclass(frozen=True)
class DemoRun:
    """What the demo leaves for its last step (the console): its store, its settings with the
    throwaway key, and its clock at the simulated day it reached."""

    settings: Settings
    sessions: sessionmaker[Session]
    clock: FixedClock


def run_demo(folder: Path, *, customers: int, echo: Echo) -> DemoRun:
    if (folder / "edm.yaml").exists() and not (folder / MARKER).exists():
        raise EdmError(f"{folder} is a working folder of yours; the demo only recreates its own folders")
    for stale in ("edm.db", "edm.db-wal", "edm.db-shm", "mail", "campaigns", "edm.yaml", ORDERS_FILE):
        path = folder / stale
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    initialise_folder(folder, environ={})  # never the operator's database or relay
    settings = write_demo_identity(folder / "edm.yaml")
    held_out = hold_out(settings.campaigns_dir, DEMO_HOLDOUT_PERCENT)
    (folder / MARKER).touch()
    sessions = open_store(settings)
    clock = FixedClock(SystemClock().now())
    throwaway_key = SecretStr(secrets.token_urlsafe(32))  # never printed
    settings = settings.model_copy(update={"secret_keys": (throwaway_key,)})
    echo(f"1. Working folder {folder.resolve()} with database {settings.database_url}")

    people, history = generate_sample(clock.now().date(), customers=customers)
    files = write_sample(folder, people, history)
    imported = import_customers(sessions, files.customers_csv, clock)
    orders = import_orders(sessions, files.orders_csv)
    echo(f"2. Imported {count(imported.rows, 'customer')} and {count(orders.rows, 'order')} from {folder}")

    classes = recompute_profiles(sessions, settings.classification, clock)
    echo("3. Classified " + format_classification(classes))
    echo("  " + format_own_clock(own_clock_kinds(profile_rows(sessions), settings.classification)))

    app = create_tracking_app(sessions, settings.signing_keys(), clock, topics=settings.topics,
                              one_click=settings.compliance.one_click)
    with smtp_sink(settings.mail_dir) as (host, port), serve_in_background(app) as base_url:
        settings = settings.model_copy(update={
            "smtp": settings.smtp.model_copy(update={"host": host, "port": port}),
            "tracking": settings.tracking.model_copy(update={"base_url": base_url}),
        })
        echo(f"4. SMTP sink on {host}:{port} (mail in {settings.mail_dir}), tracking at {base_url}")

        campaigns = {name: loaded.campaign for name, loaded in load_campaigns(settings.campaigns_dir).items()}
        every = run_at_once(campaigns)
        at_once = [campaigns[name] for name in every]
        report = asyncio.run(run_campaigns(settings, sessions, clock, every))  # named: run now, due or not
        festivals = ", ".join(f"{name} on {next_due(c, clock.now().date())}"
                              for name, c in sorted(campaigns.items()) if c.holiday is not None)
        echo(f"5. Ran every campaign now, whatever its schedule (festival greetings wait for their day: "
             f"{festivals}); {DEMO_HOLDOUT_PERCENT}% of each marketing and greeting campaign's audience is "
             f"held out (recorded, never sent) to measure what the mail changed "
             f"({count(len(held_out), 'campaign')}). {campaign_days(at_once, clock.now())}:")
        for line in format_run(report):
            echo("   " + line)
        languages = mail_languages(settings.mail_dir)
        echo("   Mail by language (from the customer's locale): "
             + ", ".join(f"{language} {count}" for language, count in sorted(languages.items())))

        again = asyncio.run(run_campaigns(settings, sessions, clock, every))
        queued = sum(plan.queued for plan in again.plans)
        echo(f"6. Ran every campaign again at once: {count(queued, 'new message')} (each goes out once)")

        clock.advance(READ_AFTER)  # people read later; an open within seconds of delivery is a scanner's
        readers = random.Random(7)  # noqa: S311 - simulated readers, not security
        reactions = simulate_recipients(settings.mail_dir, readers)
        read = set(settings.mail_dir.glob("*.eml"))
        echo(f"7. {count(READ_AFTER.seconds // 3600, 'hour')} later recipients' mail clients fetched "
             f"{count(reactions.opens, 'pixel')}, followed {count(reactions.clicks, 'link')}, answered "
             f"{count(reactions.answers, 'survey')} in one click "
             f"({count(reactions.detractors, 'as a detractor', 'as detractors')}, "
             f"{number(reactions.comments)} with a comment) and sent "
             f"{count(reactions.unsubscribes, 'one-click unsubscribe')} over HTTP")

        clock.advance(NEXT_MORNING - READ_AFTER)
        answered = asyncio.run(run_campaigns(settings, sessions, clock, ANSWER_CAMPAIGNS))
        echo("8. The next morning the campaigns on survey answers run:")
        for line in format_run(answered):
            echo("   " + line)
        digests = send_digests(settings, sessions, clock)
        nothing = count(digests.empty, "manager had", "managers had")
        alerts = count(digests.items, "alert")
        echo(f"   Account managers' digests: {number(digests.sent)} mailed ({alerts}), "
             f"{nothing} nothing to report and got no mail")

        first_mail = clock.now() - NEXT_MORNING
        clock.advance(FOLLOW_UP_AFTER - NEXT_MORNING)
        follow_up = asyncio.run(run_campaigns(settings, sessions, clock, FOLLOW_UP_CAMPAIGNS))
        echo(f"9. {count(FOLLOW_UP_AFTER.days, 'day')} later the follow-up campaigns run again; intervals "
             "adapted "
             f"({follow_up.intervals.shortened} shortened, {follow_up.intervals.lengthened} lengthened):")
        for line in format_run(follow_up):
            echo("   " + line)
        echo("   " + explain_follow_up(sessions, clock.now() - FOLLOW_UP_AFTER))
        clock.advance(READ_AFTER)  # the mail of steps 8 and 9 is read too, or the report takes it for ignored
        unread = simulate_recipients(settings.mail_dir, readers, skip=read)
        echo(f"   {count(READ_AFTER.seconds // 3600, 'hour')} later the mail of steps 8 and 9 was read as "
             f"well: {count(unread.opens, 'pixel')}, {count(unread.clicks, 'link')} followed, "
             f"{count(unread.unsubscribes, 'one-click unsubscribe')}")

    days = settings.reports.attribution_days
    kinds = {name: campaign.kind for name, campaign in campaigns.items()}
    later = orders_after_mail(people, history, exposures(sessions, kinds), first_mail, days=days)
    clock.advance(first_mail + timedelta(days=days) + FOLLOW_UP_AFTER - clock.now())  # the last mail's window
    import_orders(sessions, write_orders(folder / ORDERS_FILE, later))
    revenue = sum((order.amount for order in later), Decimal(0))
    echo(f"10. {count(days, 'day')} after the last mail {count(len(later), 'customer')} had ordered since "
         f"their mail, revenue {revenue:,.2f} (imported from {ORDERS_FILE})")
    echo(f"    Simulated (edm/sample.py): each orders at their segment's {days}-day rate "
         f"({_rates_text(ORDER_RATES)}); the mailed with the effect of the mail on top, in points "
         f"({_effects_text(MAIL_EFFECTS | {f'other {kind}': e for kind, e in KIND_EFFECTS.items() if e})}); "
         "the holdout at the base rate")

    engagement = engagement_report(sessions, [["campaign"], ["tier"], ["stage"]], now=clock.now(),
                                   settings=settings.reports, campaigns=campaign_facts(campaigns))
    [path] = write_report(engagement, folder / "report.html", "html")
    echo(f"11. Engagement: {format_summary(engagement.figures)}")
    echo(f"    Report written to {path.resolve()}")
    satisfaction = satisfaction_report(sessions, now=clock.now(), min_answers=settings.reports.min_answers)
    [written] = write_report(satisfaction, folder / "satisfaction.html", "html")
    echo(f"    Satisfaction (NPS and CSAT by tier, industry and account manager): {written.resolve()}")
    uplift = next((table.frame for table in engagement.tables() if table.name == "uplift"), None)
    for line in what_worked(uplift, days, settings.reports.confidence, customers):
        echo(line)
    return DemoRun(settings, sessions, clock)


def run_at_once(campaigns: Mapping[str, Campaign]) -> list[str]:
    """The campaigns step 5 runs at once, whatever their schedule: all but the festivals, which keep
    their day."""
    return sorted(name for name, c in campaigns.items() if c.holiday is None)


def describe_run(campaigns_dir: Path) -> str:
    """What `edm demo` sends, read from the campaign files it copies (`edm demo --help`)."""
    campaigns = {name: loaded.campaign for name, loaded in load_campaigns(campaigns_dir).items()}
    at_once = run_at_once(campaigns)
    festivals = sorted(set(campaigns) - set(at_once))
    held = [name for name, campaign in campaigns.items() if campaign.kind in HOLDOUT_KINDS]
    waiting = count(len(festivals), "festival greeting")
    return (f"It runs {count(len(at_once), 'bundled campaign')} at once, whatever their schedule: "
            f"{', '.join(at_once)}. The {waiting} ({', '.join(festivals)}) wait for their day. "
            f"{DEMO_HOLDOUT_PERCENT}% of the audience of each marketing and greeting "
            f"campaign ({count(len(held), 'campaign')}) is held out: recorded, never sent. The next morning "
            f"{' and '.join(ANSWER_CAMPAIGNS)} answer the survey replies; "
            f"{count(FOLLOW_UP_AFTER.days, 'day')} later {' and '.join(FOLLOW_UP_CAMPAIGNS)} follow up.")


def campaign_days(campaigns: Iterable[Campaign], now: datetime) -> str:
    """Why the campaigns' days below may differ: each is today's date in its schedule's (or holiday's)
    time zone, UTC without one (`occurrence_of`): just after midnight in Shanghai it is still
    yesterday in UTC."""
    zones: dict[date, set[str]] = {}
    for campaign in campaigns:
        trigger = campaign.schedule or campaign.holiday
        zone = (trigger.timezone if trigger else None) or "UTC"
        zones.setdefault(occurrence_of(campaign, now), set()).add(zone)
    days = "; ".join(f"{day} in {', '.join(sorted(names))}" for day, names in sorted(zones.items()))
    return (f"It is {now.astimezone(UTC):%Y-%m-%d %H:%M} UTC; the date after each campaign's name is "
            f"today in its schedule's time zone (UTC without one): {days}")


def hold_out(campaigns_dir: Path, percent: float) -> list[str]:
    """Give the folder's marketing and greeting campaigns a holdout of `percent`, in their files
    (a campaign that already sets one keeps it); the names of those that hold out."""
    named = []
    for name, loaded in sorted(load_campaigns(campaigns_dir).items()):
        if loaded.campaign.kind not in HOLDOUT_KINDS:
            continue
        named.append(name)
        if loaded.campaign.holdout_percent:
            continue
        text = loaded.path.read_text(encoding="utf-8").rstrip("\n")
        loaded.path.write_text(f"{text}\nholdout_percent: {percent:g}  # edm demo: a group large enough "
                               "to compare with\n", encoding="utf-8")
    return named


def exposures(sessions: sessionmaker[Session], kinds: Mapping[str, str]) -> dict[str, Exposure]:
    """Per customer, from the outbox, the mail that counts for their orders (`orders_after_mail`):
    the sent one with the largest effect, else the first one held out, else the first one sent;
    the earliest among equals."""
    found: dict[str, tuple[tuple[float, int, datetime], Exposure]] = {}
    query = (select(Customer.external_id, OutboxMessage.campaign, OutboxMessage.state,
                    OutboxMessage.sent_at, OutboxMessage.next_attempt_at)
             .join(Customer, Customer.id == OutboxMessage.customer_id)
             .where(OutboxMessage.state.in_(("sent", "held_out"))))
    with sessions() as session:
        for external_id, campaign, state, sent_at, planned in session.execute(query):
            if state == "sent" and sent_at is not None:
                effect = mail_effect(campaign, kinds.get(campaign, ""))
                rank, exposure = (-effect, 0 if effect else 2, sent_at), Exposure(sent_at, effect, campaign)
            else:
                rank, exposure = (0.0, 1, planned), Exposure(planned, 0.0, f"holdout:{campaign}")
            if external_id not in found or rank < found[external_id][0]:
                found[external_id] = (rank, exposure)
    return {external_id: exposure for external_id, (_, exposure) in found.items()}


def what_worked(uplift: pd.DataFrame | None, days: int, confidence: float, customers: int) -> list[str]:
    """The demo's last lines, from the report's uplift table: per campaign with a holdout, the order
    rates of both groups and the difference with its interval; "too few to tell" under `MIN_GROUP`."""
    if uplift is None or uplift.empty:
        return ["What worked: no campaign had a holdout group, so there is nothing to compare with."]
    lines = [f"What worked (customers who ordered within {count(days, 'day')} of the mail, mailed "
             f"against the holdout; [the {confidence:.0%} interval of the difference], from the report's "
             "uplift table):"]
    unclear = 0
    for row in uplift.to_dict("records"):
        name, mailed, held = str(row["campaign"]), int(row["mailed"]), int(row["holdout"])
        if min(mailed, held) < MIN_GROUP or pd.isna(row["order_rate_low"]):
            lines.append(f"   {name}: too few to tell ({mailed} mailed, {held} in the holdout; "
                         f"{MIN_GROUP} of each at least)")
            unclear += 1
            continue
        low, high = float(row["order_rate_low"]), float(row["order_rate_high"])
        mailed_rate, held_rate = _whole(row["mailed_order_rate"]), _whole(row["holdout_order_rate"])
        line = (f"   {name}: {mailed_rate}% of mailed customers ordered within {count(days, 'day')} vs "
                f"{held_rate}% of the holdout, {_whole(row['order_rate_uplift']):+d} points "
                f"[{_whole(low)}, {_whole(high)}]")
        if low <= 0 <= high:
            line += " - no clear effect: the interval includes 0"
            unclear += 1
        lines.append(line)
    if unclear:
        more = max(3000, customers * 4)
        lines.append(f"   Small groups, wide intervals: edm demo --customers {more} narrows them.")
    return lines


def _whole(rate: float) -> int:
    """A rate (0.183) in whole percentage points (18)."""
    return round(float(rate) * 100)


def _rates_text(rates: Mapping[str, float]) -> str:
    return ", ".join(f"{segment} {rate:.0%}" for segment, rate in rates.items())


def _effects_text(effects: Mapping[str, float]) -> str:
    return ", ".join(f"{campaign} +{effect * 100:g}" for campaign, effect in effects.items())


ANNUAL_INTERVAL_DAYS = 300.0  # an expected interval this long: a customer who buys about once a year
ON_TIME_STAGES = ("growing", "mature")
OWN_CLOCK_COLUMNS = ("lifecycle_stage", "order_days", "expected_interval_days", "returned_at",
                     "recent_orders_per_year", "usual_orders_per_year", "probability_alive",
                     "last_order_at", "computed_at")


@dataclass(frozen=True)
class OwnClockKinds:
    """Customers only a judgement by their own rhythm tells apart, counted from their profiles."""

    annual_on_time: int  # about a year between orders, and growing or mature: silent for months, on time
    pace_fell: int  # at risk by a falling pace alone: buying at under half their pace, not yet 2x late
    one_time: int  # a single order day, and no longer new
    one_time_risk: tuple[float, float] | None  # their lowest and highest churn risk (None: unknown)
    back_long_ago: int  # returned after a lapse and since grown out of reacquired: growing or mature


_MIN_GROUP = re.compile(r"^(  min_group: )\d+.*$", re.M)


def write_demo_identity(path: Path) -> Settings:
    """Put the demo's brand (and a From name to match) into its settings file, keeping the rest."""
    text = path.read_text(encoding="utf-8")
    lines = yaml.safe_dump(DEMO_BRAND, allow_unicode=True, sort_keys=False).splitlines()
    block = "brand:  # the demo's sample company (edm init writes placeholders here)\n"
    block += "".join(f"  {line}\n" for line in lines)
    text, found = _BRAND_BLOCK.subn(lambda _: block + "\n", text, count=1)
    if not found:
        text = text.rstrip("\n") + "\n\n" + block
    text = _DEFAULT_FROM.sub(lambda m: f'{m.group(1)}"{DEMO_FROM}"', text, count=1)
    # a few hundred customers make groups of a few dozen: the demo reads uplift from MIN_GROUP on
    text, found = _MIN_GROUP.subn(lambda m: f"{m.group(1)}{MIN_GROUP}  # edm demo: small sample groups", text,
                                  count=1)
    path.write_text(text, encoding="utf-8")
    return load_settings(path, {})


def profile_rows(sessions: sessionmaker[Session]) -> list[Mapping[str, Any]]:
    """Every stored profile's figures that `own_clock_kinds` reads, as plain rows."""
    columns = [getattr(CustomerProfile, name) for name in OWN_CLOCK_COLUMNS]
    with sessions() as session:
        return [dict(row) for row in session.execute(select(*columns)).mappings()]


def own_clock_kinds(rows: Iterable[Mapping[str, Any]], rules: ClassificationSettings) -> OwnClockKinds:
    """Count the kinds from profile rows (keys: `OWN_CLOCK_COLUMNS`), as the product sees them.

    Annual buyer on time: expected interval at least `ANNUAL_INTERVAL_DAYS`, never lapsed,
    growing or mature. Pace fell: at risk, their usual pace known, their recent pace under
    `lifecycle.falling_ratio` of it, and not `lifecycle.at_risk_overdue` times their interval
    late (whole days since the last order, at `computed_at`): the pace, not the silence, put
    them at risk. One-time buyer: one order day, past new. Back long ago: returned after a lapse
    (`returned_at`) and growing or mature, no longer reacquired.
    """
    life = rules.lifecycle
    annual = fell = one_time = back = 0
    risks: list[float] = []
    for row in rows:
        stage, interval = row["lifecycle_stage"], row["expected_interval_days"]
        if row["returned_at"] is not None:
            back += stage in ON_TIME_STAGES
        elif interval is not None and interval >= ANNUAL_INTERVAL_DAYS:
            annual += stage in ON_TIME_STAGES
        if row["order_days"] == 1 and stage != "new":
            one_time += 1
            if row["probability_alive"] is not None:
                risks.append(1.0 - row["probability_alive"])
        usual, recent = row["usual_orders_per_year"], row["recent_orders_per_year"]
        if stage == "at_risk" and usual is not None and recent < life.falling_ratio * usual and interval:
            silent_days = (row["computed_at"] - row["last_order_at"]).total_seconds() // 86_400
            fell += silent_days / interval < life.at_risk_overdue
    return OwnClockKinds(annual, fell, one_time, (min(risks), max(risks)) if risks else None, back)


def format_own_clock(kinds: OwnClockKinds) -> str:
    """One line for the demo, e.g. "Judged by their own clock: 14 annual buyers on time, ..."."""
    risk = f"{kinds.one_time_risk[0]:.0%}–{kinds.one_time_risk[1]:.0%}" if kinds.one_time_risk else "n/a"
    return (f"Judged by their own clock: {kinds.annual_on_time} annual buyers on time, "
            f"{kinds.pace_fell} whose pace fell (at risk before they were late), "
            f"{kinds.one_time} one-time buyers (churn risk {risk}), "
            f"{kinds.back_long_ago} back after a lapse long ago (now growing or mature)")


@dataclass
class Reactions:
    opens: int = 0
    clicks: int = 0
    unsubscribes: int = 0
    answers: int = 0
    detractors: int = 0
    comments: int = 0


_HTML_LANG = re.compile(r'<html lang="([^"]+)"')
_PIXEL = re.compile(r'<img[^>]+src="([^"]+/o/[^"]+)"')
_LINK = re.compile(r'href="([^"]+/c/[^"]+)"')
_SURVEY = re.compile(r'href="([^"]+/s/[^"]+)"')
COMMENTS = ("Delivery was late twice this quarter.", "交货比约定晚了一周。", "報價流程太慢，希望能改善。")


def simulate_recipients(mail_dir: Path, rng: random.Random, skip: Collection[Path] = ()) -> Reactions:
    """Behave like recipients: about half open, a fifth of those click, a few unsubscribe; most
    who open a survey answer it (mostly kindly), and some of the unhappy say why. The mails in
    `skip` were read before."""
    reactions = Reactions()
    no_redirects = urllib.request.build_opener(_NoRedirect)
    for path in sorted(set(mail_dir.glob("*.eml")) - set(skip)):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        html_part = message.get_body(("html",))
        html = html_part.get_content() if html_part else ""
        roll = rng.random()
        if roll < 0.5 and (pixel := _PIXEL.search(html)):
            _fetch(no_redirects, pixel.group(1))
            reactions.opens += 1
            if scores := _SURVEY.findall(html):
                _answer_survey(no_redirects, scores, rng, reactions)
            elif roll < 0.2 and (link := _LINK.search(html)):
                _fetch(no_redirects, link.group(1))
                reactions.clicks += 1
        elif roll > 0.97 and message["List-Unsubscribe"]:  # a manager's digest has none
            unsubscribe = str(message["List-Unsubscribe"]).strip("<>")
            _fetch(no_redirects, unsubscribe, data=b"List-Unsubscribe=One-Click")
            reactions.unsubscribes += 1
    return reactions


def mail_languages(mail_dir: Path) -> Counter[str]:
    """How many of the sent mails are in each language (the html part's `lang`), to show the
    locale chain at work: en, zh-Hans and zh-Hant among the sample customers."""
    found: Counter[str] = Counter()
    for path in mail_dir.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        html_part = message.get_body(("html",))
        match = _HTML_LANG.search(html_part.get_content() if html_part else "")
        found[match.group(1) if match else "?"] += 1
    return found


def _answer_survey(
    opener: urllib.request.OpenerDirector, links: list[str], rng: random.Random, reactions: Reactions
) -> None:
    """Click one score of the row (links in scale order: NPS 0-10 or CSAT 1-5), leaning high."""
    if rng.random() < 0.2:
        return
    position = min(len(links) - 1, int(len(links) * rng.betavariate(4, 1.6)))
    _fetch(opener, links[position])
    reactions.answers += 1
    survey: Survey = "nps" if len(links) == len(SCALES["nps"]) else "csat"
    if position < len(links) * 0.6:  # NPS 0-6, CSAT 1-2 and 3: the unhappy
        reactions.detractors += satisfaction_of(survey, SCALES[survey][position]) == "detractor"
        if rng.random() < 0.5:
            comment = rng.choice(COMMENTS).encode()
            _fetch(opener, links[position], data=b"comment=" + urllib.parse.quote_plus(comment).encode())
            reactions.comments += 1


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A click's 302 goes to the shop's site, which the demo does not need to reach."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _fetch(opener: urllib.request.OpenerDirector, url: str, data: bytes | None = None) -> int:
    try:
        with opener.open(url, data=data, timeout=10) as response:
            status: int = response.status
    except urllib.error.HTTPError as redirect:
        status = redirect.code
    return status


def explain_follow_up(sessions: sessionmaker[Session], first_run: datetime) -> str:
    """Check, from the store, that the follow-up reached only customers who had reacted."""
    with sessions() as session:
        later = session.scalars(
            select(OutboxMessage.customer_id).where(OutboxMessage.campaign.in_(FOLLOW_UP_CAMPAIGNS),
                                                    OutboxMessage.created_at > first_run)
        ).all()
        reacted = set(session.scalars(select(Event.customer_id).where(Event.kind.in_(("open", "click")))))
        intervals = [days for days in session.scalars(select(CustomerProfile.contact_interval_days))
                     if days is not None]
    engaged = sum(1 for customer in later if customer in reacted)
    shortest, longest = min(intervals, default=0), max(intervals, default=0)
    return (f"{number(engaged)} of {count(len(later), 'follow-up')} went to customers who had opened or "
            f"clicked; contact intervals now range {day_range(shortest, longest)}")
