"""The confirmation mail of a sign-up, and sending it straight to the relay, durably.

A service message in the brand's identity, plain text and HTML, in the sign-up's language
(templates `edm/templates/service/signup_confirm/`, rendered in the sandbox as campaign mail is),
built by the delivery code's `MessageBuilder` (names are data: no header injection), DKIM-signed
when configured, sent over `SmtpTransport`. Durable: a sign-up's `mailed_at` is set only once the
relay accepted its mail, so whatever a failing relay or a crash left unsent is sent by the next
`edm signup send` (or the daemon's `signup` job). An address the relay refuses for good (5xx) is
expired at once: it cannot confirm.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from edm.clock import Clock
from edm.config import Settings
from edm.delivery.brand import Brands
from edm.delivery.dkim import signer_from_settings
from edm.delivery.message import Mailbox, MessageBuilder, addr_spec, message_id
from edm.delivery.transport import Delivery, Outgoing, SmtpTransport
from edm.errors import ConfigError, EdmError, PermanentDeliveryError
from edm.render import Renderer, one_line
from edm.resources import templates_dir
from edm.signup import signups
from edm.signup.pages import SignupTexts
from edm.signup.signups import PendingSignup
from edm.signup.tokens import confirm_token
from edm.store import Signup
from edm.tracking.pages import Language, language_of

log = logging.getLogger(__name__)

TEMPLATE = "signup_confirm"
SERVICE_TEMPLATES = templates_dir() / "service"
SUBJECTS: dict[Language, str] = {
    "en": "Please confirm your sign-up to {company}",
    "zh-Hans": "请确认订阅{company}的邮件",
    "zh-Hant": "請確認訂閱{company}的郵件",
}
# the form's own request sends its mail; a batch run leaves a sign-up this young to it
SETTLE_SECONDS = 60.0


@dataclass
class Sent:
    """What one sending run did: accepted by the relay, to try again later, refused for good."""

    sent: int = 0
    deferred: int = 0
    refused: int = 0
    errors: list[str] = field(default_factory=list)


class ConfirmationMail:
    """Composes confirmation mails; everything constant per sender is prepared once."""

    def __init__(self, settings: Settings, keys: Sequence[bytes]) -> None:
        sender = settings.sender
        self._keys = tuple(keys)
        self._texts = SignupTexts(settings)
        self._renderer = Renderer(SERVICE_TEMPLATES)
        self._brands = Brands(settings.brand, sender.from_address)
        from_ = _mailbox(sender.from_address, "sender.from_address")
        reply_to = _mailbox(sender.reply_to, "sender.reply_to") if sender.reply_to else None
        self._builder = MessageBuilder(sender=from_, reply_to=reply_to)
        self._from_address = sender.from_address
        self.envelope_sender = (_mailbox(sender.return_path, "sender.return_path")
                                if sender.return_path else from_).address
        self._signer = signer_from_settings(sender)
        self._base = settings.tracking.base_url.rstrip("/")

    def confirm_url(self, signup_id: int, nonce: str) -> str:
        return f"{self._base}/signup/confirm/{confirm_token(signup_id, nonce, self._keys)}"

    def _in_order(self, topics: Sequence[str]) -> list[str]:
        """The chosen topics in the order the form offers them."""
        offered = self._texts.offered
        return sorted(topics, key=lambda t: (offered.index(t) if t in offered else len(offered), t))

    def compose(self, signup: PendingSignup, now: datetime) -> Outgoing:
        """The mail for `signup`; TemplateError or ValueError (its address) when it cannot be made."""
        language = language_of(signup.locale)
        context = {
            "brand": self._brands,
            "greeting_name": one_line(signup.name or ""),
            "confirm_url": self.confirm_url(signup.id, signup.nonce),
            "hours": self._texts.hours,
            "topics": [self._texts.topic_title(topic, language) for topic in self._in_order(signup.topics)],
            "recipient_address": signup.email,
        }
        body = self._renderer.render(TEMPLATE, language, context)
        written = language_of(body.language)
        subject = SUBJECTS[written].format(company=self._brands.view(written).company)
        data = self._builder.build(
            to=Mailbox(one_line(signup.name or ""), addr_spec(signup.email)),
            subject=subject,
            text=body.text,
            html=body.html,
            message_id=message_id(f"signup{signup.id}x{round(now.timestamp())}", self._from_address,
                                  self._keys[0]),
            unsubscribe_url=None,  # it belongs to no list: nothing to unsubscribe from
            date=now,
        )
        if self._signer is not None:
            data = self._signer.sign(data)
        return Outgoing(signup.id, self.envelope_sender, addr_spec(signup.email), data)


class ConfirmationSender:
    """Sends the confirmations of pending sign-ups and records the relay's answers."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session], keys: Sequence[bytes],
                 clock: Clock) -> None:
        self.mail = ConfirmationMail(settings, keys)
        self._settings = settings
        self._sessions = sessions
        self._clock = clock

    async def send(self, signup_ids: Sequence[int] | None = None) -> Sent:
        """Mail the given sign-ups (the form's request), or every one still unsent (a batch run)."""
        found = await run_in_threadpool(self._due, signup_ids)
        result = Sent()
        outgoing: list[Outgoing] = []
        now = self._clock.now()
        for signup in found:
            try:
                outgoing.append(self.mail.compose(signup, now))
            except (EdmError, ValueError) as exc:  # a template to fix: the others still go
                result.deferred += 1
                result.errors.append(f"sign-up {signup.id}: {exc}")
                log.error("signup mail id=%d not composed: %s", signup.id, exc)
        if not outgoing:
            return result
        answers = await _deliver(self._settings, outgoing)
        await run_in_threadpool(self._record, answers)
        for answer in answers:
            if answer.error is None:
                result.sent += 1
            elif isinstance(answer.error, PermanentDeliveryError):
                result.refused += 1
            else:
                result.deferred += 1
                result.errors.append(f"sign-up {answer.outbox_id}: {answer.error}")
        log.info("signup mail sent=%d deferred=%d refused=%d", result.sent, result.deferred, result.refused)
        return result

    def _due(self, signup_ids: Sequence[int] | None) -> list[PendingSignup]:
        now = self._clock.now()
        with self._sessions() as session:
            if signup_ids is None:
                return signups.due_for_mail(session, now, now - timedelta(seconds=SETTLE_SECONDS))
            rows = session.scalars(select(Signup).where(
                Signup.id.in_(sorted(set(signup_ids))), Signup.state == signups.STATE_PENDING,
                Signup.mailed_at.is_(None)))
            return [signups.pending(row) for row in rows]

    def _record(self, answers: Sequence[Delivery]) -> None:
        now = self._clock.now()
        with self._sessions.begin() as session:
            signups.mark_mailed(session, [a.outbox_id for a in answers if a.error is None], now)
            refused = [a.outbox_id for a in answers if isinstance(a.error, PermanentDeliveryError)]
            if refused:
                signups.expire(session, now, refused)


def send_confirmations(settings: Settings, sessions: sessionmaker[Session], keys: Sequence[bytes],
                       clock: Clock) -> Sent:
    """`edm signup send` and the daemon's job: every pending sign-up whose mail the relay has not taken."""
    return asyncio.run(ConfirmationSender(settings, sessions, keys, clock).send())


async def _deliver(settings: Settings, outgoing: Sequence[Outgoing]) -> list[Delivery]:
    transport = SmtpTransport(settings.smtp, environ=os.environ,
                              give_up_after=settings.smtp.give_up_after_seconds)
    try:
        return await transport.send(outgoing)
    finally:
        await transport.close()


def _mailbox(value: str, setting: str) -> Mailbox:
    try:
        return Mailbox.parse(value)
    except ValueError as exc:
        raise ConfigError(f"{setting}: {exc} (expected e.g. 'Acme <care@acme.example>')") from exc
