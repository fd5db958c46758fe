"""The bounce mailbox: read it, record what each bounce or complaint says, mark it processed.

Bounces that arrive after the relay accepted a mail land in a mailbox: a Maildir, an
mbox file, or an IMAP folder. Each is a `BounceSource`; `poll_bounces` reads every
configured one once (the daemon calls it on a schedule, `edm bounces poll` by hand).

Feedback-loop reports (ARF, JMRP; edm.delivery.arf) arrive in the same mailbox: a complaint
about one of our mails records a `complaint` event (source "arf", the report kept as detail)
and suppresses the address that mail went to.

A message is marked processed only after its effect is committed, so a crash in between
reads it again next time; `record_bounce` is idempotent, so that changes nothing.
"""

from __future__ import annotations

import hashlib
import imaplib
import logging
import mailbox
import ssl
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.clock import Clock
from edm.config import BounceSettings, ImapSettings
from edm.delivery.arf import Complaint, parse_feedback
from edm.delivery.bounces import Bounce, Severity, parse_bounce
from edm.errors import ConfigError
from edm.store import Event, OutboxMessage
from edm.suppression import HARD_BOUNCE, suppress
from edm.tracking.events import Feedback, FeedbackOutcome, record_feedback

log = logging.getLogger(__name__)

HARD_EVENT = "bounce"
SOFT_EVENT = "soft_bounce"
PROCESSED_FOLDER = "processed"
MBOX_STATE_SUFFIX = ".edm-processed"


class Outcome(StrEnum):
    HARD = "hard"  # outbox row bounced, address suppressed
    SOFT = "soft"  # an event recorded, nothing else
    COMPLAINT = "complaint"  # a feedback-loop complaint: event recorded, address suppressed
    UNKNOWN = "unknown"  # a bounce, but not about a mail in our outbox
    SKIPPED = "skipped"  # no bounce at all: an auto-reply, a success notice, unreadable mail
    REPEATED = "repeated"  # this bounce was recorded before


@dataclass
class PollSummary:
    hard: int = 0
    soft: int = 0
    complaint: int = 0
    unknown: int = 0
    skipped: int = 0
    repeated: int = 0

    def add(self, outcome: Outcome) -> None:
        setattr(self, outcome.value, getattr(self, outcome.value) + 1)


class BounceSource(Protocol):
    """One place bounces arrive."""

    name: str

    def unread(self) -> Iterator[tuple[str, bytes]]:
        """(id, raw message) of each message not processed yet."""
        ...

    def mark_processed(self, ident: str) -> None:
        """Never yield this message again."""
        ...

    def close(self) -> None: ...


def poll_bounces(sessions: sessionmaker[Session], settings: BounceSettings, clock: Clock,
                 keys: Sequence[bytes]) -> PollSummary:
    """Process every configured bounce mailbox once; `keys` (the signing keys) prove our Message-IDs."""
    summary = PollSummary()
    with ExitStack() as stack:
        for source in open_sources(settings):
            stack.callback(source.close)
            process_source(sessions, source, clock, keys, summary)
    return summary


def open_sources(settings: BounceSettings) -> list[BounceSource]:
    sources: list[BounceSource] = []
    if settings.maildir is not None:
        sources.append(MaildirSource(settings.maildir))
    if settings.mbox is not None:
        sources.append(MboxSource(settings.mbox))
    if settings.imap is not None:
        sources.append(ImapSource(settings.imap))
    if not sources:
        raise ConfigError("no bounce mailbox is configured: set bounces.maildir, .mbox or .imap")
    return sources


def process_source(
    sessions: sessionmaker[Session], source: BounceSource, clock: Clock, keys: Sequence[bytes],
    summary: PollSummary | None = None,
) -> PollSummary:
    """Record every unread message of `source`, then mark it processed."""
    summary = PollSummary() if summary is None else summary
    with _converted(source.name):
        for ident, raw in source.unread():
            report = _parse(raw, source.name, ident)
            with sessions.begin() as session:
                if isinstance(report, Complaint):
                    outcome = record_complaint(session, report, clock.now(), keys)
                else:
                    outcome = record_bounce(session, report, clock.now(), keys)
            source.mark_processed(ident)
            summary.add(outcome)
            log.info("bounce source=%s id=%s outcome=%s status=%s", source.name, ident, outcome,
                     _status(report))
    return summary


def record_complaint(session: Session, complaint: Complaint, now: datetime, keys: Sequence[bytes]) -> Outcome:
    """Apply one feedback report: a complaint about a mail of ours records a `complaint` event and
    suppresses the address that mail went to. A report anyone could have mailed us is only believed
    about our own mail (found by its Message-ID, its tag made with one of `keys`), never about an
    address it merely names."""
    if not complaint.is_complaint:
        return Outcome.SKIPPED
    feedback = Feedback("complaint", "arf", complaint.recipient, complaint.message_ids, complaint.arrived_at,
                        complaint.detail)
    outcome = record_feedback(session, feedback, now, authenticated=False, keys=keys)
    return {FeedbackOutcome.RECORDED: Outcome.COMPLAINT, FeedbackOutcome.REPEATED: Outcome.REPEATED}.get(
        outcome, Outcome.UNKNOWN)


def _status(report: Bounce | Complaint | None) -> str:
    if isinstance(report, Complaint):
        return f"feedback:{report.feedback_type}"
    return report.status if report else "-"


def record_bounce(session: Session, bounce: Bounce | None, now: datetime, keys: Sequence[bytes]) -> Outcome:
    """Apply one bounce to the store. The same bounce twice changes nothing the second time.

    Only a bounce about a mail of ours counts: its Message-ID's tag made with one of `keys`. Anyone
    can mail the bounce mailbox, and an untagged id could be guessed (edm.delivery.message.message_id)."""
    if bounce is None:
        return Outcome.SKIPPED
    reference = bounce.reference
    row = _outbox_row(session, reference.prefix) if reference and reference.genuine(keys) else None
    if row is None:
        return Outcome.UNKNOWN
    when = bounce.arrived_at or now
    if bounce.severity is Severity.HARD:
        if row.state == "bounced":
            return Outcome.REPEATED
        row.state, row.claimed_until, row.last_reply = "bounced", None, bounce.reply[:1000]
        session.add(Event(kind=HARD_EVENT, customer_id=row.customer_id, outbox_id=row.id, occurred_at=when))
        suppress(session, [row.to_address], HARD_BOUNCE, now)
        return Outcome.HARD
    earlier = select(Event.id).where(Event.kind == SOFT_EVENT, Event.outbox_id == row.id)
    if bounce.arrived_at is not None:  # a dated report is told apart from a later one by its date
        earlier = earlier.where(Event.occurred_at == bounce.arrived_at)
    if session.scalar(earlier.limit(1)) is not None:
        return Outcome.REPEATED
    session.add(Event(kind=SOFT_EVENT, customer_id=row.customer_id, outbox_id=row.id, occurred_at=when))
    return Outcome.SOFT


def _outbox_row(session: Session, prefix: str) -> OutboxMessage | None:
    """The row whose key starts with `prefix` (keys are lowercase hex: a range any B-tree index serves)."""
    return session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.key >= prefix, OutboxMessage.key < prefix + "g")
        .order_by(OutboxMessage.key)
        .limit(1)
        .with_for_update()
    ).first()


def _parse(raw: bytes, source: str, ident: str) -> Bounce | Complaint | None:
    try:
        return parse_feedback(raw) or parse_bounce(raw)
    except Exception:  # hostile or broken mail must not stop every later poll at the same message
        log.exception("bounce source=%s id=%s unreadable, skipped", source, ident)
        return None


@contextmanager
def _converted(name: str) -> Iterator[None]:
    """The one place mailbox, file and IMAP errors become ours."""
    try:
        yield
    except (OSError, mailbox.Error, imaplib.IMAP4.error) as exc:  # ssl.SSLError is an OSError
        raise ConfigError(f"bounce mailbox {name}: {exc}") from exc


class MaildirSource:
    """A Maildir: messages in new/ and cur/; processed ones move to the `.processed` subfolder."""

    def __init__(self, path: Path) -> None:
        self.name = f"maildir {path}"
        with _converted(self.name):
            self._box = mailbox.Maildir(path, factory=None, create=False)
        self._done: mailbox.Maildir | None = None

    def unread(self) -> Iterator[tuple[str, bytes]]:
        for key in list(self._box.keys()):
            yield key, self._box.get_bytes(key)

    def mark_processed(self, ident: str) -> None:
        if self._done is None:
            self._done = self._box.add_folder(PROCESSED_FOLDER)
        message = self._box.get_message(ident)
        message.set_subdir("cur")
        message.add_flag("S")
        self._done.add(message)
        self._box.discard(ident)

    def close(self) -> None:
        self._box.close()


class MboxSource:
    """An mbox file, left as it is (the MTA owns it); the sha-256 of each processed message is kept beside."""

    def __init__(self, path: Path) -> None:
        self.name = f"mbox {path}"
        self._state_path = path.with_name(path.name + MBOX_STATE_SUFFIX)
        self._state: IO[str] | None = None
        with _converted(self.name):
            self._box = mailbox.mbox(path, create=False)

    def unread(self) -> Iterator[tuple[str, bytes]]:
        done = set(self._state_path.read_text("ascii").split()) if self._state_path.exists() else set()
        self._box.lock()  # the MTA may be appending: read whole messages only
        try:
            for key in self._box.iterkeys():
                raw = self._box.get_bytes(key)
                digest = hashlib.sha256(raw).hexdigest()
                if digest not in done:
                    done.add(digest)
                    yield digest, raw
        finally:
            self._box.unlock()

    def mark_processed(self, ident: str) -> None:
        if self._state is None:
            self._state = self._state_path.open("a", encoding="ascii")
        self._state.write(ident + "\n")
        self._state.flush()

    def close(self) -> None:
        if self._state is not None:
            self._state.close()
        self._box.close()


class ImapSource:
    """An IMAP folder over TLS: unseen messages are read (without marking them), processed ones get \\Seen."""

    def __init__(self, settings: ImapSettings, ssl_context: ssl.SSLContext | None = None) -> None:
        self.name = f"imap {settings.username}@{settings.host}:{settings.port}/{settings.folder}"
        if settings.password is None:
            raise ConfigError("bounces.imap is set but EDM_BOUNCES__IMAP__PASSWORD is not")
        context = ssl_context or ssl.create_default_context()
        with _converted(self.name):
            if settings.starttls:
                self._imap = imaplib.IMAP4(settings.host, settings.port, timeout=settings.timeout_seconds)
            else:
                self._imap = imaplib.IMAP4_SSL(settings.host, settings.port, timeout=settings.timeout_seconds,
                                               ssl_context=context)
            try:
                if settings.starttls:
                    self._imap.starttls(context)
                self._imap.login(settings.username, settings.password.get_secret_value())
                status, detail = self._imap.select(_quoted(settings.folder))
                if status != "OK":
                    raise imaplib.IMAP4.error(f"cannot open folder {settings.folder!r}: {detail!r}")
            except BaseException:
                self._imap.shutdown()
                raise

    def unread(self) -> Iterator[tuple[str, bytes]]:
        _, found = self._imap.uid("SEARCH", "UNSEEN")
        for uid in (found[0] or b"").decode().split():
            _, parts = self._imap.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next((part[1] for part in parts if isinstance(part, tuple)), None)
            if isinstance(raw, bytes):
                yield uid, raw

    def mark_processed(self, ident: str) -> None:
        self._imap.uid("STORE", ident, "+FLAGS", "(\\Seen)")

    def close(self) -> None:
        try:
            self._imap.close()
        finally:
            self._imap.logout()


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
