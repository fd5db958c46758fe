"""One run of the product path: refresh intervals, plan the campaigns, send.

This wires the parts together for the CLI, the demo and (later) the daemon;
each part stays usable on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError
from sqlalchemy import func, make_url, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.ab import WinnerResult, pick_winners
from edm.campaigns.approvals import standing_approvals
from edm.campaigns.check import Checker, Sample
from edm.campaigns.decisions import Watcher
from edm.campaigns.loader import CampaignFile, CampaignFolder, describe_problems, read_campaigns
from edm.campaigns.planner import PlanResult, plan_campaign
from edm.campaigns.schema import Campaign
from edm.campaigns.sequence import plan_follow_ups
from edm.campaigns.triggers import occasion, occurrence_of, timing_for
from edm.clock import Clock
from edm.config import ClassificationSettings, Settings, load_settings
from edm.delivery.compose import Composer
from edm.delivery.sender import SendSummary, Until, send_due
from edm.delivery.transport import SmtpTransport, Transport
from edm.engagement import EngagementSummary, refresh_engagement
from edm.errors import CampaignError, ConfigError
from edm.render import Renderer
from edm.resources import bundled_config_dir, package_dirs
from edm.settings_profiles import apply_profile
from edm.store import (
    CampaignRecord,
    ClassificationRun,
    Customer,
    CustomerProfile,
    make_engine,
    session_factory,
    upsert,
)
from edm.store.migrate import upgrade_schema
from edm.tracking import TrackingLinks
from edm.webhooks.emit import attach

if TYPE_CHECKING:
    from edm.customers.profiles import ClassificationSummary

STORE_SAMPLES = 6  # real customers every template is also rendered for before planning

log = logging.getLogger(__name__)


def open_store(settings: Settings) -> sessionmaker[Session]:
    """Sessions on the configured database, migrated to the newest schema (created if new)."""
    engine = make_engine(settings.database_url)
    upgrade_schema(engine)
    return attach(session_factory(engine), settings.webhooks)  # events reach the configured webhooks


def initialise_folder(
    folder: Path, environ: Mapping[str, str] | None = None, profile: str = "default"
) -> Settings:
    """Copy the bundled settings and campaigns into `folder` (never overwriting) and create the store.

    Never inside the installed package: its defaults are read, not written. `profile`
    (edm.settings_profiles) changes a few settings, e.g. `cn`: advertising marks on, Beijing time.
    """
    if any(folder.resolve().is_relative_to(installed) for installed in package_dirs()):
        raise ConfigError(f"{folder} is inside the installed edm package: make the working folder elsewhere")
    folder.mkdir(parents=True, exist_ok=True)
    bundled = bundled_config_dir()
    if not (folder / "edm.yaml").exists():
        text = apply_profile((bundled / "edm.yaml").read_text(encoding="utf-8"), profile)
        (folder / "edm.yaml").write_text(text, encoding="utf-8")
    (folder / "campaigns").mkdir(exist_ok=True)
    for source in sorted((bundled / "campaigns").glob("*.yaml")):
        if not (folder / "campaigns" / source.name).exists():
            shutil.copy(source, folder / "campaigns" / source.name)
    settings = load_settings(folder / "edm.yaml", environ)
    open_store(settings)
    return settings


@dataclass
class RunReport:
    intervals: EngagementSummary
    classification: ClassificationSummary | None = None  # when the profiles were due a recompute
    plans: list[PlanResult] = field(default_factory=list)
    delivery: SendSummary | None = None
    dry_run: bool = False  # planned to report, nothing queued
    # one entry per campaign not planned (file, line, why): broken files, messages that fail to render
    problems: list[str] = field(default_factory=list)
    winners: list[WinnerResult] = field(default_factory=list)  # A/B tests decided in this run
    awaiting_approval: list[str] = field(default_factory=list)  # `approval: required`, none given yet


async def run_campaigns(
    settings: Settings,
    sessions: sessionmaker[Session],
    clock: Clock,
    names: Sequence[str] | None = None,
    *,
    dry_run: bool = False,
    transport: Transport | None = None,
    watch: Watcher | None = None,
    stop: asyncio.Event | None = None,
) -> RunReport:
    """Plan the named campaigns, or every campaign due today when `names` is None; then send.

    Named campaigns run whether or not their schedule or holiday is today: that is how a
    marketer sends one by hand (at once, unless its holiday is due: then at its hour, as the
    scheduler would). Unnamed, only what is due runs (cron, or the daemon). `watch` sees
    every planning decision (`edm.campaigns.dry_run`). `stop` set
    (`stop_on_signals`) during planning: planning finishes, nothing is sent; during sending:
    see `send_due`. No relay reachable for `smtp.give_up_after_seconds`: the sending ends, the
    rest stays queued (`report.delivery.unreachable` says why).
    """
    if not dry_run:
        settings.signing_keys()  # fail before planning, not halfway through sending
        # the relays' settings too (a login over plain text is refused before anything is queued)
        transport = transport or SmtpTransport(settings.smtp, environ=os.environ,
                                               give_up_after=settings.smtp.give_up_after_seconds)
    folder = read_campaigns(settings.campaigns_dir)  # once: planning and sending see the same files
    files = folder.files
    report = plan_campaigns(settings, sessions, clock, names, dry_run=dry_run, files=files,
                            broken=folder.problems, watch=watch)
    if not dry_run:
        report.delivery = await send_pending(settings, sessions, clock, sendable_campaigns(sessions, folder),
                                             transport, stop=stop)
    return report


def sendable_campaigns(sessions: sessionmaker[Session], folder: CampaignFolder) -> dict[str, Campaign]:
    """What queued mail is composed with: the files that load and, for a file broken since its mail
    was planned, the definition it was planned with, so that mail is sent as planned, not failed."""
    available = {name: loaded.campaign for name, loaded in folder.files.items()}
    if folder.problems:
        available = {**last_definitions(sessions, exclude=available), **available}
    return available


def last_definitions(sessions: sessionmaker[Session], exclude: Collection[str]) -> dict[str, Campaign]:
    """The definitions the last runs planned with (`remember_campaigns`), of campaigns not in `exclude`.

    While a campaign file is broken its queued mail is sent as it was planned, instead of failing as
    if the campaign had been deleted; a definition the schema no longer accepts is left out.
    """
    with sessions() as session:
        rows = session.execute(select(CampaignRecord.name, CampaignRecord.definition)).all()
    found = {}
    for name, definition in rows:
        if name in exclude:
            continue
        try:
            found[name] = Campaign.model_validate(definition)
        except ValidationError:
            continue
    return found


def plan_campaigns(
    settings: Settings,
    sessions: sessionmaker[Session],
    clock: Clock,
    names: Sequence[str] | None = None,
    *,
    dry_run: bool = False,
    files: Mapping[str, CampaignFile] | None = None,
    broken: Sequence[str] = (),
    watch: Watcher | None = None,
) -> RunReport:
    """Fresh profiles and engagement, then the outbox rows of the chosen campaigns and due steps.

    The planning half of `run_campaigns`; the daemon calls it alone (its workers send).
    `files`: the campaigns already loaded from `settings.campaigns_dir` (else read here), `broken`
    the files among them that did not load. A campaign whose messages do not render (`check.py`)
    is not planned; it and the broken files are in the report's `problems`, the others are planned.
    `watch`: sees each audience member's decision, send or held and why (a dry run's account).
    Before planning, A/B tests that are over are decided and their rest released (`campaigns/ab.py`).
    """
    if files is None:
        folder = read_campaigns(settings.campaigns_dir)
        files, broken = folder.files, folder.problems
    available = {name: loaded.campaign for name, loaded in files.items()}
    unknown = [name for name in names or () if name not in available]
    if unknown:
        also = "".join(f"\n{line}" for line in broken)
        raise CampaignError(
            f"no campaign named {', '.join(map(repr, unknown))} in {settings.campaigns_dir} "
            f"(found: {', '.join(sorted(available)) or 'none'}){also}"
        )
    now = clock.now()
    occasions = {name: occasion(c, now) for name, c in available.items()}
    if names:
        chosen = [available[name] for name in names]  # named: run now, due or not
    else:
        chosen = [c for c in available.values() if occasions[c.name] is not None]
    chosen.sort(key=lambda c: -c.priority)  # under one_per_day the first to plan a customer wins
    advancing = [c for c in (chosen if names else available.values()) if c.follow_ups]  # every run
    unapproved = _awaiting_approval(sessions, [*chosen, *advancing])
    chosen = [c for c in chosen if c.name not in unapproved]
    advancing = [c for c in advancing if c.name not in unapproved]
    checked = dict.fromkeys(c.name for c in [*chosen, *advancing] if c.name in files)
    refused = check_campaigns(settings, sessions, [files[name] for name in checked], now)
    chosen = [c for c in chosen if c.name not in refused]
    classification = None if dry_run else refresh_profiles(sessions, settings.classification, clock)
    intervals = refresh_engagement(sessions, settings.engagement, clock)
    report = RunReport(intervals, classification, dry_run=dry_run)
    report.problems = [*broken, *("\n".join(refused[name]) for name in sorted(refused))]
    report.awaiting_approval = sorted(unapproved)
    if not dry_run:
        remember_campaigns(sessions, [files[c.name] for c in chosen], now)
        # A/B tests that are over, of any campaign (due today or not): the rest gets the winner
        testing = [c for c in available.values() if c.pick_winner is not None and c.name not in refused]
        report.winners = pick_winners(sessions, testing, now, settings.policy)
    for campaign in chosen:
        due = occasions[campaign.name]
        report.plans.append(
            plan_campaign(
                sessions,
                campaign,
                occurrence=due or occurrence_of(campaign, now),
                now=now,
                rules=settings.engagement,
                policy=settings.policy,
                dry_run=dry_run,
                timing=timing_for(campaign, now, due=due is not None),
                watch=watch,
                consent=settings.consent,
            )
        )
    for campaign in advancing:
        if campaign.name not in refused:
            steps = plan_follow_ups(sessions, campaign, now, dry_run=dry_run, watch=watch,
                                    consent=settings.consent)
            # only steps someone was due; those who left the sequence long ago are news to a dry run only
            report.plans.extend(step for step in steps if step.audience > (0 if dry_run else step.exited))
    return report


def _awaiting_approval(sessions: sessionmaker[Session], campaigns: Sequence[Campaign]) -> set[str]:
    """The campaigns among `campaigns` that require an approval (`approval: required`) none gave yet."""
    required = {c.name for c in campaigns if c.approval == "required"}
    if not required:
        return set()
    with sessions() as session:
        return required - set(standing_approvals(session, required))


def check_campaigns(
    settings: Settings, sessions: sessionmaker[Session] | None, files: Sequence[CampaignFile], now: datetime
) -> dict[str, list[str]]:
    """The campaigns among `files` whose messages fail to render (`campaigns/check.py`), with the
    lines that say why; checked for synthetic customers and a few of the store's (if `sessions`)."""
    if not files:
        return {}
    checker = Checker(sender=settings.sender, brand=settings.brand, topics=settings.topics)
    samples = store_samples(sessions) if sessions is not None else []
    refused = {}
    for loaded in files:
        problems = checker.check(loaded.campaign, samples, now)
        if problems:
            refused[loaded.campaign.name] = describe_problems(loaded, problems)
    return refused


def store_sessions(settings: Settings) -> sessionmaker[Session] | None:
    """Sessions on the configured store without creating or migrating it; None if its SQLite file
    does not exist (`edm campaign validate` only reads customers, when there are any)."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).is_file()):
        return None
    return attach(session_factory(make_engine(settings.database_url)), settings.webhooks)


def store_samples(sessions: sessionmaker[Session], limit: int = STORE_SAMPLES) -> list[Sample]:
    """A few real customers for the template check: the first of each locale and kind (their data may
    hold what synthetic customers do not), at most `limit`; none when the store cannot be read (yet)."""
    query = (
        select(Customer, CustomerProfile)
        .join(CustomerProfile, CustomerProfile.customer_id == Customer.id)
        .order_by(Customer.id)
        .limit(50 * limit)
    )
    picked: dict[tuple[str, str], Sample] = {}
    try:
        with sessions() as session:
            for customer, profile in session.execute(query).all():
                key = (customer.locale.lower(), customer.kind)
                if key not in picked:
                    label = f"customer {customer.external_id}"
                    picked[key] = Sample(customer, profile, customer.email, label)
                    if len(picked) >= limit:
                        break
    except SQLAlchemyError:
        return []
    return list(picked.values())


def refresh_profiles(
    sessions: sessionmaker[Session], rules: ClassificationSettings, clock: Clock
) -> ClassificationSummary | None:
    """Recompute every profile when the last classification is older than `rules.max_age_hours`.

    Classes move with time alone (a customer who stops ordering drifts to at_risk), so
    audiences must not be picked from stale profiles; a run within the age reuses them.
    """
    with sessions() as session:
        last = session.scalar(select(func.max(ClassificationRun.computed_at)))
    now = clock.now()
    if last is not None and now - last < timedelta(hours=rules.max_age_hours):
        return None
    from edm.customers.profiles import recompute_profiles  # here: pandas and scipy only when classifying

    return recompute_profiles(sessions, rules, clock)


def remember_campaigns(sessions: sessionmaker[Session], files: Sequence[CampaignFile], now: datetime) -> None:
    """Keep the definition each run used, so reports and audits can tell what was sent."""
    rows = [
        {
            "name": f.campaign.name,
            "source": str(f.path),
            "definition": f.campaign.model_dump(mode="json", by_alias=True, exclude_none=True),
            "updated_at": now,
        }
        for f in files
    ]
    with sessions.begin() as session:
        upsert(session, CampaignRecord, rows, key="name", update=["source", "definition", "updated_at"])


async def send_pending(
    settings: Settings,
    sessions: sessionmaker[Session],
    clock: Clock,
    campaigns: dict[str, Campaign],
    transport: Transport | None = None,
    *,
    until: Until = Until.NOTHING_DUE,
    stop: asyncio.Event | None = None,
    progress: Callable[[SendSummary], None] | None = None,
) -> SendSummary:
    """Send the outbox through the configured relays (credentials from the environment).

    Unless `until` is `STOPPED` (a worker, which waits for the relays), the run gives up when
    no relay has been reachable for `smtp.give_up_after_seconds`."""
    give_up = None if until is Until.STOPPED else settings.smtp.give_up_after_seconds
    composer = Composer(
        Renderer(), TrackingLinks(settings.tracking.base_url, settings.signing_keys()), settings.sender,
        compliance=settings.compliance, brand=settings.brand,
    )
    return await send_due(
        sessions,
        campaigns=campaigns,
        composer=composer,
        transport=transport or SmtpTransport(settings.smtp, environ=os.environ, give_up_after=give_up),
        settings=settings.smtp,
        clock=clock,
        until=until,
        stop=stop,
        progress=progress,
        deliverability=settings.deliverability,
    )


async def run_sender(
    settings: Settings,
    clock: Clock,
    *,
    until: Until,
    progress: Callable[[SendSummary], None] | None = None,
) -> SendSummary:
    """`edm send` and `edm worker`: send until `until`; SIGTERM or SIGINT stops claiming, gives
    what is on the wire `smtp.stop_timeout_seconds`, records every answer, puts the rest back and
    returns normally (from the first line: a signal while starting up sends nothing)."""
    with stop_on_signals() as stop:
        settings.signing_keys()  # fail before claiming anything
        sessions = open_store(settings)
        folder = read_campaigns(settings.campaigns_dir)  # a broken file must not stop the sending
        for problem in folder.problems:
            log.warning("campaign file skipped: %s", problem)
        campaigns = sendable_campaigns(sessions, folder)
        return await send_pending(settings, sessions, clock, campaigns, until=until, stop=stop,
                                  progress=progress)


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[asyncio.Event]:
    """An event SIGTERM or SIGINT sets while the block runs, instead of ending the process at once.

    Call it in the running event loop of the main thread; the default handling is back after it.
    A signal that comes while the loop runs blocking code (planning) is seen when that returns."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    try:
        yield stop
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
