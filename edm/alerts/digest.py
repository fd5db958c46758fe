"""Mail each account manager their digest, and remember up to when it reported.

One run takes one `until` (the clock's now). Every manager's window is read and rendered,
the non-empty digests go out over one `SmtpTransport`, then the watermarks move in one
transaction: to `until` for a manager whose digest the relay accepted and for one with no
news; not for one whose digest failed, so their next digest covers the missed span too.
A dry run renders everything and changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.alerts.collect import ManagerDigestContent, collect, manager_windows
from edm.alerts.items import group, notice, reason, subject
from edm.campaigns.labels import display_name
from edm.clock import Clock
from edm.config import Settings
from edm.delivery.message import addr_spec
from edm.delivery.transport import Outgoing, SmtpTransport
from edm.errors import EdmError
from edm.render import Renderer, one_line
from edm.store import Customer, ManagerDigest, upsert

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE = "digest"
# CRLF line ends; bodies quoted-printable or base64, never raw 8-bit (not every relay takes it)
MAIL_POLICY = policy.SMTP.clone(cte_type="7bit")

DigestStatus = Literal["sent", "empty", "failed", "ready"]  # ready: a dry run's digest, not sent


@dataclass(frozen=True, slots=True)
class ManagerResult:
    """What became of one manager's digest."""

    email: str
    name: str | None
    customers: int
    items: int
    status: DigestStatus
    error: str | None = None


@dataclass(frozen=True, slots=True)
class DigestSummary:
    results: tuple[ManagerResult, ...] = ()
    dry_run: bool = False

    @property
    def managers(self) -> int:
        return len(self.results)

    @property
    def sent(self) -> int:
        return self._count("sent")

    @property
    def empty(self) -> int:
        return self._count("empty")

    @property
    def failed(self) -> int:
        return self._count("failed")

    @property
    def items(self) -> int:
        return sum(r.items for r in self.results)

    def _count(self, status: DigestStatus) -> int:
        return sum(r.status == status for r in self.results)


@dataclass(frozen=True, slots=True)
class Letter:
    """One digest as it goes on the wire."""

    recipient: str
    data: bytes


def send_digests(settings: Settings, sessions: sessionmaker[Session], clock: Clock, *,
                 dry_run: bool = False) -> DigestSummary:
    """Send every account manager with news their digest; see the module docstring for the watermarks."""
    until = clock.now()
    with sessions() as session:
        contents = collect(session, manager_windows(session, until, settings.alerts), settings.alerts)
    renderer = Renderer(templates_dir=TEMPLATES_DIR)
    titles = campaign_titles(settings.campaigns_dir)
    results: dict[str, ManagerResult] = {}
    letters: dict[str, Letter] = {}
    for content in contents:
        customers = len({item.customer_id for item in content.items})
        base = ManagerResult(content.manager_email, content.manager_name, customers, len(content.items),
                             "empty")
        if not content.items and not content.notices:
            results[content.manager_email] = base
            continue
        try:
            letter = compose(content, settings, renderer, until, titles)
        except (EdmError, ValueError) as exc:  # a template or an address to fix: the others still go
            results[content.manager_email] = _with(base, "failed", error=str(exc))
            continue
        letters[content.manager_email] = letter
        results[content.manager_email] = _with(base, "ready")
    if not dry_run and letters:
        errors = asyncio.run(_deliver(settings, list(letters.values())))
        for email, error in zip(letters, errors, strict=True):
            results[email] = _with(results[email], "failed" if error else "sent", error=error)
    summary = DigestSummary(tuple(results.values()), dry_run=dry_run)
    for result in summary.results:
        log.log(logging.WARNING if result.status == "failed" else logging.INFO,
                "digest manager=%s customers=%d items=%d status=%s%s%s", result.email, result.customers,
                result.items, result.status, " dry_run=1" if dry_run else "",
                f" error={result.error!r}" if result.error else "")
    if not dry_run:
        _record(sessions, contents, results, until)
    return summary


def _with(result: ManagerResult, status: DigestStatus, *, error: str | None = None) -> ManagerResult:
    return ManagerResult(result.email, result.name, result.customers, result.items, status, error)


def campaign_titles(campaigns_dir: Path) -> dict[str, dict[str, str]]:
    """Each campaign's `title:` by language, from the files that load (a broken file names its campaign
    by its humanised name; `edm campaign validate` tells of the file)."""
    from edm.campaigns.loader import read_campaigns

    if not campaigns_dir.is_dir():
        return {}
    return {name: dict(loaded.campaign.title) for name, loaded in read_campaigns(campaigns_dir).files.items()}


def compose(content: ManagerDigestContent, settings: Settings, renderer: Renderer, now: datetime,
            titles: Mapping[str, Mapping[str, str]] | None = None) -> Letter:
    """The digest mail for one manager: text and html alternatives, in the manager's language (the one
    most of their customers read; `alerts.language` when that does not decide)."""
    alerts = settings.alerts
    zone = ZoneInfo(alerts.timezone)
    language = content.language
    known = titles or {}
    customers = group(content.items, language, zone,
                      lambda name: display_name(name, known.get(name), language))
    title = subject(len(customers), language)
    body = renderer.render(TEMPLATE, language, {
        "manager_name": one_line(content.manager_name or ""),
        "count": len(customers),
        "since": f"{content.since.astimezone(zone):%Y-%m-%d %H:%M}",
        "until": f"{content.until.astimezone(zone):%Y-%m-%d %H:%M}",
        "timezone": alerts.timezone,
        "subject": title,
        "customers": customers,
        "notices": [notice(n, language, zone) for n in content.notices],
    })
    recipient = addr_spec(content.manager_email)
    message = EmailMessage(policy=MAIL_POLICY)
    message["From"] = one_line(settings.sender.from_address)
    message["To"] = Address(display_name=one_line(content.manager_name or ""), addr_spec=recipient)
    message["Subject"] = title
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid("edm-digest", domain=_domain(settings.sender.from_address))
    message.set_content(body.text)
    message.add_alternative(body.html, subtype="html")
    return Letter(recipient, message.as_bytes())


async def _deliver(settings: Settings, letters: Sequence[Letter]) -> list[str | None]:
    """Each letter's error as the relay put it (None: accepted)."""
    envelope = parseaddr(settings.sender.return_path or settings.sender.from_address)[1]
    transport = SmtpTransport(settings.smtp, environ=os.environ)
    try:
        answers = await transport.send([Outgoing(index, envelope, letter.recipient, letter.data)
                                        for index, letter in enumerate(letters)])
    finally:
        await transport.close()
    return [None if answer.error is None else str(answer.error) for answer in answers]


def _record(sessions: sessionmaker[Session], contents: Sequence[ManagerDigestContent],
            results: dict[str, ManagerResult], until: datetime) -> None:
    """Move the watermarks of the managers reported to (or with nothing to report); never backwards."""
    sent, empty = [], []
    for content in contents:
        if content.since >= until:  # the clock went back, or a run at this very instant: leave it
            continue
        status = results[content.manager_email].status
        if status == "sent":
            sent.append({"manager_email": content.manager_email, "covered_until": until, "sent_at": until})
        elif status == "empty":
            empty.append({"manager_email": content.manager_email, "covered_until": until, "sent_at": None})
    with sessions.begin() as session:
        upsert(session, ManagerDigest, sent, key="manager_email", update=["covered_until", "sent_at"])
        upsert(session, ManagerDigest, empty, key="manager_email", update=["covered_until"])
        _tell_webhooks(session, contents, until)


def _tell_webhooks(session: Session, contents: Sequence[ManagerDigestContent], now: datetime) -> None:
    """digest.alert per item (edm.webhooks), mailed or not: a chat group hears of it even when the mail
    failed. An item collected again next time (the mail failed) has the same id: sent once."""
    from edm.webhooks import events
    from edm.webhooks.emit import emit, wanted

    items = [(c.manager_email, c.language, item) for c in contents for item in c.items]
    if not items or not wanted(session, events.DIGEST_ALERT):
        return
    mentioned = {item.customer_id for _, _, item in items}
    emails = {i: e for i, e in session.execute(
        select(Customer.id, Customer.email).where(Customer.id.in_(mentioned)))}
    emit(session, [events.digest_alert(manager, (item.external_id, emails.get(item.customer_id, "")),
                                       item.kind,
                                       f"{item.customer_name}: {reason(item, language)}", item.occurred_at)
                   for manager, language, item in items], now)


def _domain(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2] or "localhost"
