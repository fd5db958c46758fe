"""Sending services' webhooks: `POST /hooks/{provider}` turned into `Feedback` (edm.tracking.events).

Each provider module reads, verifies and normalises its own payloads (parse → verify → normalise,
the last pure); `Hooks.read` runs those steps for one request. A provider is on only when what
verifies it is configured (`HooksSettings`); secrets are never logged.
"""

from __future__ import annotations

import logging

from edm.clock import Clock
from edm.config import HooksSettings
from edm.errors import ConfigError
from edm.tracking.events import Feedback
from edm.tracking.hooks import mailgun, postmark, sendgrid, ses
from edm.tracking.hooks.common import HookMalformed, HookRefused, Incoming, ReplayGuard
from edm.tracking.hooks.ses import Fetch

log = logging.getLogger(__name__)

PROVIDERS = ("ses", "sendgrid", "mailgun", "postmark")


class Hooks:
    """The configured providers' verifiers, with their state (SNS certificates, Mailgun tokens seen)."""

    def __init__(self, settings: HooksSettings, clock: Clock, fetch: Fetch | None = None) -> None:
        self.settings = settings
        self._clock = clock
        self._fetch = fetch or ses.fetch_https
        self._certificates = ses.Certificates(self._fetch)
        self._tokens = ReplayGuard()
        try:
            self._sendgrid_key = (sendgrid.public_key(settings.sendgrid_public_key)
                                  if settings.sendgrid_public_key else None)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc

    @property
    def enabled(self) -> tuple[str, ...]:
        s = self.settings
        on = {"ses": bool(s.ses_topic_arns), "sendgrid": self._sendgrid_key is not None,
              "mailgun": s.mailgun_signing_key is not None,
              "postmark": s.postmark_username is not None and s.postmark_password is not None}
        return tuple(name for name in PROVIDERS if on[name])

    def read(self, provider: str, incoming: Incoming) -> list[Feedback]:
        """The feedback in one verified request; raises HookRefused or HookMalformed when it is none."""
        s = self.settings
        if provider == "postmark" and s.postmark_username is not None and s.postmark_password is not None:
            user, password = s.postmark_username.get_secret_value(), s.postmark_password.get_secret_value()
            postmark.verify(incoming, user, password)
            return postmark.normalise(postmark.parse(incoming.body))
        if provider == "sendgrid" and self._sendgrid_key is not None:
            sendgrid.verify(incoming, self._sendgrid_key)
            return sendgrid.normalise(sendgrid.parse(incoming.body))
        if provider == "mailgun" and s.mailgun_signing_key is not None:
            payload = mailgun.parse(incoming.body)
            key = s.mailgun_signing_key.get_secret_value().encode("utf-8")
            mailgun.verify(payload, key, self._clock.now(), s.max_age_seconds, self._tokens)
            return mailgun.normalise(payload)
        if provider == "ses" and s.ses_topic_arns:
            envelope = ses.parse(incoming.body)
            ses.verify(envelope, self._certificates, s.ses_topic_arns)
            if envelope.get("Type") == "SubscriptionConfirmation":
                self._confirm(envelope)
            return ses.normalise(envelope)
        raise LookupError(provider)

    def _confirm(self, envelope: dict[str, object]) -> None:
        """A verified subscription of a configured topic: confirm it if allowed, else say how."""
        url = ses.sns_url(envelope.get("SubscribeURL"))
        topic = envelope.get("TopicArn")
        if not self.settings.ses_confirm_subscriptions:
            log.warning("SNS subscription to %s awaits confirmation: open %s (or set "
                        "hooks.ses_confirm_subscriptions: true)", topic, url)
            return
        try:
            self._fetch(url)
        except OSError as exc:
            log.warning("SNS subscription to %s: confirming failed (%s); open %s", topic, exc, url)
            return
        log.info("SNS subscription to %s confirmed", topic)


__all__ = ["PROVIDERS", "HookMalformed", "HookRefused", "Hooks", "Incoming"]
