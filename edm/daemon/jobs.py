"""What the leading daemon runs on schedule: plan, react to new events and orders, reclassify, poll
bounces, mail the weekly report and the account managers' digests.

APScheduler's SQLAlchemy job store keeps each job as a reference ("edm.daemon.jobs:plan")
and pickled arguments in the database. So the jobs take no arguments: settings hold secrets
(the signing key, relay passwords) that must never be written there. The running daemon
`install`s its context here instead, once, before its scheduler starts.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.planner import PlanResult
from edm.clock import Clock
from edm.config import Settings
from edm.daemon.metrics import DaemonState
from edm.delivery.transport import Outgoing, SmtpTransport
from edm.errors import DeliveryError
from edm.reactions import Cursor
from edm.runner import plan_campaigns, refresh_profiles
from edm.store.faults import is_store_fault, store_error

log = logging.getLogger(__name__)

REPORT_DAYS = 7
REPORT_GROUPINGS = (("campaign",), ("tier",), ("stage",))


@dataclass(frozen=True)
class JobContext:
    settings: Settings
    sessions: sessionmaker[Session]
    clock: Clock
    state: DaemonState


_context: JobContext | None = None


def install(context: JobContext) -> None:
    global _context
    _context = context


def _current() -> JobContext:
    if _context is None:
        raise RuntimeError("edm.daemon.jobs: no daemon context installed (call install first)")
    return _context


def _run(name: str, work: Callable[[JobContext], str]) -> None:
    """Run one job, log its outcome; a failure is counted and logged, and the job runs again next time."""
    context = _current()
    try:
        outcome = work(context)
    except Exception as exc:
        context.state.failed(name)
        if is_store_fault(exc):  # disk full, connection lost...: one line, not a driver's traceback
            fault = store_error(exc, context.settings.database_url)
            log.error("job=%s pid=%d failed: %s", name, os.getpid(), fault)
        else:
            log.exception("job=%s pid=%d failed", name, os.getpid())
        return
    log.info("job=%s pid=%d %s", name, os.getpid(), outcome)


def plan() -> None:
    """Plan every campaign due today and every due sequence step; the sender workers send them."""

    def work(context: JobContext) -> str:
        report = plan_campaigns(context.settings, context.sessions, context.clock)
        context.state.last_plan = context.clock.now()
        for problem in report.problems:  # a broken campaign never stops the others: say why it was left out
            log.warning("job=plan campaign not planned: %s", problem.replace("\n", " | "))
        if report.problems:
            context.state.failed("plan")  # counted in /metrics, so someone hears of it
        results = report.plans
        return (f"campaigns={len(results)} queued={sum(r.queued for r in results)} "
                f"not_planned={len(report.problems)}")

    _run("plan", work)


_cursor: Cursor | None = None  # the last event and order reacted to, in this daemon
_checked: dict[Path, tuple[int, bool]] = {}  # reactive campaign file -> (mtime, passes the template check)


def react() -> None:
    """Refresh and plan for each customer with a new event or order (edm.reactions), every few seconds.

    The first run only notes where the store is: what came before is the plan job's (event campaigns
    are planned on every plan run too)."""
    from edm.campaigns.loader import read_campaigns
    from edm.reactions import current_cursor, react_to_new, reactive
    from edm.runner import check_campaigns

    def work(context: JobContext) -> str:
        global _cursor
        if _cursor is None:
            _cursor = current_cursor(context.sessions)
            return "cursor=set"
        files = read_campaigns(context.settings.campaigns_dir).files  # the plan job reports broken ones
        wanted = reactive(loaded.campaign for loaded in files.values())
        # as the plan job: a campaign whose mail does not render is not planned; judged once per file version
        changed = [files[c.name] for c in wanted if _checked.get(files[c.name].path, (None,))[0]
                   != files[c.name].path.stat().st_mtime_ns]
        if changed:
            refused = check_campaigns(context.settings, context.sessions, changed, context.clock.now())
            for loaded in changed:
                _checked[loaded.path] = (loaded.path.stat().st_mtime_ns, loaded.campaign.name not in refused)
        campaigns = [c for c in wanted if _checked[files[c.name].path][1]]
        _cursor, queued = react_to_new(context.sessions, context.settings, context.clock, _cursor, campaigns)
        return f"queued={queued}"

    _run("react", work)


def reclassify() -> None:
    """Recompute every profile when the last run is older than `classification.max_age_hours`."""

    def work(context: JobContext) -> str:
        summary = refresh_profiles(context.sessions, context.settings.classification, context.clock)
        return f"customers={summary.total}" if summary else "profiles=fresh"

    _run("reclassify", work)


def poll() -> None:
    """Read the configured bounce mailboxes once."""
    from edm.delivery.mailbox import poll_bounces

    def work(context: JobContext) -> str:
        s = poll_bounces(context.sessions, context.settings.bounces, context.clock,
                         context.settings.signing_keys())
        return f"hard={s.hard} soft={s.soft} complaints={s.complaint} unknown={s.unknown}"

    _run("bounces", work)


def weekly_report() -> None:
    """Mail the last week's engagement report to `daemon.report_to` through the SMTP relays."""
    _run("report", lambda c: f"recipients={mail_report(c.settings, c.sessions, c.clock)}")


def webhooks() -> None:
    """Deliver the due outbound webhook events (`webhooks:`; edm.webhooks.deliver)."""
    from edm.webhooks.deliver import deliver_due

    def work(context: JobContext) -> str:
        s = deliver_due(context.sessions, context.settings.webhooks, context.clock)
        for problem in s.problems:  # a missing secret holds that target's events; the others go
            log.warning("webhooks: not delivered: %s", problem)
        return f"sent={s.sent} retry={s.retried} dead={s.dead}"

    _run("webhooks", work)


def signup() -> None:
    """Expire the sign-ups past their time, then send the confirmations a relay failure left unsent."""
    from edm.signup.mail import send_confirmations
    from edm.signup.signups import expire_due

    def work(context: JobContext) -> str:
        expired = expire_due(context.sessions, context.clock.now())
        s = send_confirmations(context.settings, context.sessions, context.settings.signing_keys(),
                               context.clock)
        return f"expired={expired} sent={s.sent} retry={s.deferred} refused={s.refused}"

    _run("signup", work)


def retention() -> None:
    """Apply the `retention:` limits (edm.privacy.retention), daily at `retention.cron`."""
    from edm.privacy.service import retention_request

    def work(context: JobContext) -> str:
        r = retention_request(context.settings, context.sessions, "daemon", context.clock.now())
        return (f"events={r.events} totals={r.totals} bodies={r.bodies} signups={r.signups} "
                f"audit={r.audit_entries}")

    _run("retention", work)


def digest() -> None:
    """Mail each account manager the digest of their customers who need attention (`alerts.digest_cron`)."""
    _run("digest", send_manager_digests)


def send_manager_digests(context: JobContext) -> str:
    """The digest job's work; a digest that did not go out fails the job (counted), after the others went."""
    from edm.alerts.digest import send_digests

    if not context.settings.alerts.enabled:
        return "alerts=off"
    s = send_digests(context.settings, context.sessions, context.clock)
    outcome = f"managers={s.managers} sent={s.sent} empty={s.empty} failed={s.failed} items={s.items}"
    if s.failed:
        raise DeliveryError(f"not every digest went out: {outcome}")
    return outcome


def plan_due(settings: Settings, sessions: sessionmaker[Session], clock: Clock) -> list[PlanResult]:
    """`edm campaign run --all` without the sending: the daemon's workers send."""
    return plan_campaigns(settings, sessions, clock).plans


def mail_report(settings: Settings, sessions: sessionmaker[Session], clock: Clock) -> int:
    """Send the report (summary in the body, the HTML attached); returns how many recipients took it."""
    from edm.reports import format_summary, write_engagement_report
    from edm.reports.campaigns import read_facts

    recipients = settings.daemon.report_to
    if not recipients:
        return 0
    now = clock.now()
    since = now - timedelta(days=REPORT_DAYS)
    with tempfile.TemporaryDirectory(prefix="edm-report-") as folder:
        paths, summary = write_engagement_report(
            sessions, REPORT_GROUPINGS, out=Path(folder) / "engagement.html", fmt="html", now=now,
            since=since, settings=settings.reports, campaigns=read_facts(settings.campaigns_dir),
        )
        html = paths[0].read_bytes()
    message = EmailMessage()
    message["From"] = settings.sender.from_address
    message["To"] = ", ".join(recipients)
    message["Subject"] = f"edm engagement report {since:%Y-%m-%d} – {now:%Y-%m-%d}"
    message["Date"] = formatdate(now.timestamp())
    message["Message-ID"] = make_msgid(domain=_domain(settings.sender.from_address))
    message.set_content(f"Engagement from {since:%Y-%m-%d} to {now:%Y-%m-%d} (UTC):\n\n"
                        f"{format_summary(summary)}\n\nThe full report is attached.\n")
    message.add_attachment(html, maintype="text", subtype="html", filename=f"engagement-{now:%Y-%m-%d}.html")
    return asyncio.run(_send(settings, message.as_bytes(), recipients))


async def _send(settings: Settings, data: bytes, recipients: Sequence[str]) -> int:
    envelope = parseaddr(settings.sender.return_path or settings.sender.from_address)[1]
    transport = SmtpTransport(settings.smtp, environ=os.environ)
    try:
        answers = await transport.send([Outgoing(0, envelope, to, data) for to in recipients])
    finally:
        await transport.close()
    errors = [a.error for a in answers if a.error is not None]
    if errors:
        raise DeliveryError(f"the report reached {len(answers) - len(errors)} of {len(answers)} analysts: "
                            f"{errors[0]}")
    return len(answers)


def _domain(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2] or "localhost"
