"""APScheduler wiring: a job store in the edm database, and the jobs under fixed ids.

The job store (its own table) keeps each job's next run, so a daemon that takes over after
another died knows what was missed: a run late by less than `misfire_grace_seconds` still
runs, once (coalesced). Jobs are (re)added with `replace_existing` on every start, so the
schedules always follow edm.yaml; a job switched off there is removed from the store.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from edm.config import Settings

JOB_TABLE = "edm_scheduler_jobs"
PLAN, RECLASSIFY, BOUNCES, REPORT, DIGEST = "plan", "reclassify", "bounces", "weekly-report", "digest"
REACT = "react"
RETENTION = "retention"
WEBHOOKS = "webhooks"
SIGNUP = "signup"


def wanted_jobs(settings: Settings, now: datetime) -> dict[str, dict[str, Any]]:
    """Each job id with its `add_job` arguments; a job not configured is left out."""
    daemon = settings.daemon
    zone = ZoneInfo(daemon.timezone)
    jobs: dict[str, dict[str, Any]] = {
        # planning is idempotent: a new leader plans at once rather than a period later
        PLAN: {"func": "edm.daemon.jobs:plan", "next_run_time": now,
               "trigger": IntervalTrigger(seconds=daemon.plan_every_seconds, timezone=zone)},
        REACT: {"func": "edm.daemon.jobs:react", "next_run_time": now,
                "trigger": IntervalTrigger(seconds=daemon.react_seconds, timezone=zone)},
        RECLASSIFY: {"func": "edm.daemon.jobs:reclassify",
                     "trigger": CronTrigger.from_crontab(daemon.reclassify_cron, timezone=zone)},
    }
    bounces = settings.bounces
    if bounces.maildir or bounces.mbox or bounces.imap:
        jobs[BOUNCES] = {"func": "edm.daemon.jobs:poll", "next_run_time": now,
                         "trigger": IntervalTrigger(seconds=daemon.bounces_every_seconds, timezone=zone)}
    if daemon.report_to:
        jobs[REPORT] = {"func": "edm.daemon.jobs:weekly_report",
                        "trigger": CronTrigger.from_crontab(daemon.report_cron, timezone=zone)}
    alerts = settings.alerts
    if alerts.enabled:  # read in its own time zone: managers' mornings, not the servers'
        jobs[DIGEST] = {"func": "edm.daemon.jobs:digest",
                        "trigger": CronTrigger.from_crontab(alerts.digest_cron,
                                                            timezone=ZoneInfo(alerts.timezone))}
    kept = settings.retention
    limits = (kept.events_days, kept.bodies_days, kept.signups_days, kept.audit_days)
    if any(days is not None for days in limits):
        jobs[RETENTION] = {"func": "edm.daemon.jobs:retention",
                           "trigger": CronTrigger.from_crontab(kept.cron, timezone=zone)}
    hooks = settings.webhooks
    if hooks.endpoints or hooks.apprise:
        jobs[WEBHOOKS] = {"func": "edm.daemon.jobs:webhooks", "next_run_time": now,
                          "trigger": IntervalTrigger(seconds=hooks.every_seconds, timezone=zone)}
    if settings.signup.enabled:
        jobs[SIGNUP] = {"func": "edm.daemon.jobs:signup", "next_run_time": now,
                        "trigger": IntervalTrigger(seconds=settings.signup.every_seconds, timezone=zone)}
    return jobs


def start_scheduler(engine: Engine, settings: Settings, now: datetime) -> BackgroundScheduler:
    """A running scheduler with exactly the configured jobs; call only while holding the leader lock."""
    daemon = settings.daemon
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE)},
        # one job at a time: planning and reclassifying never compete for the same rows
        executors={"default": ThreadPoolExecutor(1)},
        job_defaults={"coalesce": True, "max_instances": 1,
                      "misfire_grace_time": daemon.misfire_grace_seconds},
        timezone=ZoneInfo(daemon.timezone),
    )
    scheduler.start(paused=True)  # running, so stored jobs can be replaced and removed before any fires
    wanted = wanted_jobs(settings, now)
    for job_id, arguments in wanted.items():
        scheduler.add_job(id=job_id, name=job_id, replace_existing=True, **arguments)
    every_job = {PLAN, REACT, RECLASSIFY, BOUNCES, REPORT, DIGEST, WEBHOOKS, SIGNUP, RETENTION}
    for job_id in every_job - set(wanted):
        with contextlib.suppress(JobLookupError):
            scheduler.remove_job(job_id)
    scheduler.resume()
    return scheduler
