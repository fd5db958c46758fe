"""One run of the product path: refresh intervals, plan the campaigns, send.

This wires the parts together for the CLI, the demo and (later) the daemon;
each part stays usable on its own.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.loader import CampaignFile, load_campaigns
from edm.campaigns.planner import PlanResult, plan_campaign
from edm.campaigns.schema import Campaign
from edm.campaigns.sequence import plan_follow_ups
from edm.campaigns.triggers import occasion, occurrence_of, timing_for
from edm.clock import Clock
from edm.config import ClassificationSettings, Settings, load_settings
from edm.customers import ClassificationSummary, recompute_profiles
from edm.delivery.compose import Composer
from edm.delivery.sender import SendSummary, Until, send_due
from edm.delivery.transport import SmtpTransport, Transport
from edm.engagement import EngagementSummary, refresh_engagement
from edm.errors import CampaignError, ConfigError
from edm.render import Renderer
from edm.resources import bundled_config_dir, package_dirs
from edm.store import CampaignRecord, ClassificationRun, make_engine, session_factory, upsert
from edm.store.migrate import upgrade_schema
from edm.tracking import TrackingLinks


def open_store(settings: Settings) -> sessionmaker[Session]:
    """Sessions on the configured database, migrated to the newest schema (created if new)."""
    engine = make_engine(settings.database_url)
    upgrade_schema(engine)
    return session_factory(engine)


def initialise_folder(folder: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Copy the bundled settings and campaigns into `folder` (never overwriting) and create the store.

    Never inside the installed package: its defaults are read, not written.
    """
    if any(folder.resolve().is_relative_to(installed) for installed in package_dirs()):
        raise ConfigError(f"{folder} is inside the installed edm package: make the working folder elsewhere")
    folder.mkdir(parents=True, exist_ok=True)
    bundled = bundled_config_dir()
    if not (folder / "edm.yaml").exists():
        shutil.copy(bundled / "edm.yaml", folder / "edm.yaml")
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


async def run_campaigns(
    settings: Settings,
    sessions: sessionmaker[Session],
    clock: Clock,
    names: Sequence[str] | None = None,
    *,
    dry_run: bool = False,
    transport: Transport | None = None,
) -> RunReport:
    """Plan the named campaigns, or every campaign due today when `names` is None; then send.

    Named campaigns run whether or not their schedule or holiday is today: that is how a
    marketer sends one by hand (at once, unless its holiday is due: then at its hour, as the
    scheduler would). Unnamed, only what is due runs (cron, or the daemon).
    """
    if not dry_run:
        settings.signing_keys()  # fail before planning, not halfway through sending
    files = load_campaigns(settings.campaigns_dir)  # once: planning and sending see the same files
    report = plan_campaigns(settings, sessions, clock, names, dry_run=dry_run, files=files)
    if not dry_run:
        available = {name: loaded.campaign for name, loaded in files.items()}
        report.delivery = await send_pending(settings, sessions, clock, available, transport)
    return report


def plan_campaigns(
    settings: Settings,
    sessions: sessionmaker[Session],
    clock: Clock,
    names: Sequence[str] | None = None,
    *,
    dry_run: bool = False,
    files: Mapping[str, CampaignFile] | None = None,
) -> RunReport:
    """Fresh profiles and engagement, then the outbox rows of the chosen campaigns and due steps.

    The planning half of `run_campaigns`; the daemon calls it alone (its workers send).
    `files`: the campaigns already loaded from `settings.campaigns_dir` (else loaded here).
    """
    files = load_campaigns(settings.campaigns_dir) if files is None else files
    available = {name: loaded.campaign for name, loaded in files.items()}
    unknown = [name for name in names or () if name not in available]
    if unknown:
        raise CampaignError(
            f"no campaign named {', '.join(map(repr, unknown))} in {settings.campaigns_dir} "
            f"(found: {', '.join(sorted(available)) or 'none'})"
        )
    now = clock.now()
    occasions = {name: occasion(c, now) for name, c in available.items()}
    if names:
        chosen = [available[name] for name in names]  # named: run now, due or not
    else:
        chosen = [c for c in available.values() if occasions[c.name] is not None]
    chosen.sort(key=lambda c: -c.priority)  # under one_per_day the first to plan a customer wins
    classification = None if dry_run else refresh_profiles(sessions, settings.classification, clock)
    report = RunReport(refresh_engagement(sessions, settings.engagement, clock), classification)
    if not dry_run:
        remember_campaigns(sessions, [files[c.name] for c in chosen], now)
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
            )
        )
    for campaign in chosen if names else available.values():  # sequences advance every run
        if campaign.follow_ups:
            steps = plan_follow_ups(sessions, campaign, now, dry_run=dry_run)
            report.plans.extend(step for step in steps if step.audience)  # only steps someone was due
    return report


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
    """Send the outbox through the configured relays (credentials from the environment)."""
    composer = Composer(
        Renderer(), TrackingLinks(settings.tracking.base_url, settings.signing_keys()), settings.sender
    )
    return await send_due(
        sessions,
        campaigns=campaigns,
        composer=composer,
        transport=transport or SmtpTransport(settings.smtp, environ=os.environ),
        settings=settings.smtp,
        clock=clock,
        until=until,
        stop=stop,
        progress=progress,
    )


async def run_sender(
    settings: Settings,
    clock: Clock,
    *,
    until: Until,
    progress: Callable[[SendSummary], None] | None = None,
) -> SendSummary:
    """`edm send` and `edm worker`: send until `until`; SIGTERM or SIGINT stops claiming, finishes
    what is in flight and returns normally."""
    settings.signing_keys()  # fail before claiming anything
    sessions = open_store(settings)
    campaigns = {name: loaded.campaign for name, loaded in load_campaigns(settings.campaigns_dir).items()}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        return await send_pending(settings, sessions, clock, campaigns, until=until, stop=stop,
                                  progress=progress)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
