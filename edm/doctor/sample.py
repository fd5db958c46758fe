"""A sample message built exactly as sending builds it (the real `Composer`), and what receivers
check in it: a DKIM signature covering the one-click unsubscribe headers, Message-ID and Date,
RFC 8058 one-click unsubscribe over https, and a Return-Path in the From domain.

`sample_message` composes (I/O-free, but it reads the key file); `message_checks` is pure.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr

from edm.config import Settings
from edm.delivery.sender import OutboxRow
from edm.doctor.dkim_key import parse_tags
from edm.doctor.dmarc import organizational_domain
from edm.doctor.report import Check, error, ok, warn
from edm.errors import ConfigError, TemplateError

SECTION = "message"
SAMPLE_TEMPLATE = "key_account_greeting"  # a shipped template that needs no links or params
ONE_CLICK = "List-Unsubscribe=One-Click"


def sample_message(settings: Settings, now: datetime) -> tuple[str, bytes]:
    """(envelope sender, message bytes) of a marketing mail to a synthetic customer; raises ConfigError
    or TemplateError when the settings cannot make one (a bad address, an unusable DKIM key)."""
    from edm.campaigns.check import synthetic_samples
    from edm.campaigns.schema import Campaign
    from edm.delivery.compose import Composer
    from edm.render import Renderer
    from edm.tracking import TrackingLinks

    try:
        keys = settings.signing_keys()
    except ConfigError:
        keys = [secrets.token_bytes(32)]  # links are not what is judged here
    composer = Composer(Renderer(), TrackingLinks(settings.tracking.base_url, keys), settings.sender,
                        compliance=settings.compliance, brand=settings.brand)
    campaign = Campaign(name="doctor_sample", template=SAMPLE_TEMPLATE, subject={"en": "edm doctor sample"})
    sample = synthetic_samples(["en"], now)[0]
    row = OutboxRow(1, "doctor-sample", campaign.name, 0, None, sample.email, now.date())
    composed = composer.compose(row, sample.customer, sample.profile, campaign, now)
    return composed.sender, composed.data


def build_checks(settings: Settings, now: datetime) -> list[Check]:
    try:
        envelope, data = sample_message(settings, now)
    except (ConfigError, TemplateError) as exc:
        return [error(SECTION, "sample message", f"cannot build a message: {exc}", "fix the setting named")]
    return message_checks(data, envelope, dkim_configured=settings.sender.dkim_selector is not None)


def message_checks(data: bytes, envelope_sender: str, *, dkim_configured: bool) -> list[Check]:
    """What receivers check in the headers of `data`, sent with MAIL FROM `envelope_sender`."""
    parsed = message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    from_domain = parseaddr(str(parsed.get("From", "")))[1].rpartition("@")[2].lower()
    return [
        _signature(parsed, dkim_configured),
        _present(parsed),
        _unsubscribe(parsed),
        _return_path(envelope_sender, from_domain),
    ]


def _signature(message: EmailMessage, dkim_configured: bool) -> Check:
    name = "DKIM signature"
    header = message.get("DKIM-Signature")
    if header is None:
        why = "DKIM is not configured" if not dkim_configured else "the signer added none"
        return error(SECTION, name, f"the message is not signed ({why}): Gmail, Yahoo and Outlook refuse "
                     "unsigned bulk mail", "set sender.dkim_selector and the DKIM private key")
    tags = parse_tags(str(header))
    signed = {field.strip().lower() for field in tags.get("h", "").split(":")}
    wanted = ("from", "list-unsubscribe", "list-unsubscribe-post")
    missing = [field for field in wanted if field not in signed]
    if missing:
        return error(SECTION, name, f"the signature does not cover {', '.join(missing)}: RFC 8058 wants the "
                     "unsubscribe headers signed", "sign them (edm.delivery.dkim SIGNED_HEADERS)")
    return ok(SECTION, name, f"d={tags.get('d')} s={tags.get('s')}, covers From and List-Unsubscribe(-Post)")


def _present(message: EmailMessage) -> Check:
    missing = [field for field in ("Message-ID", "Date") if not message.get(field)]
    if missing:
        return error(SECTION, "Message-ID and Date", f"missing {', '.join(missing)}: RFC 5322 wants both, "
                     "Gmail refuses mail without them", "report this as a bug in edm")
    return ok(SECTION, "Message-ID and Date", f"{message['Message-ID']}, {message['Date']}")


def _unsubscribe(message: EmailMessage) -> Check:
    name = "one-click unsubscribe"
    links = str(message.get("List-Unsubscribe", ""))
    post = str(message.get("List-Unsubscribe-Post", "")).strip()
    if not links or post != ONE_CLICK:
        return error(SECTION, name, "List-Unsubscribe or List-Unsubscribe-Post is missing: Gmail and Yahoo "
                     "demand one-click unsubscribe (RFC 8058)", "report this as a bug in edm")
    if "<https://" not in links:
        return error(SECTION, name, "the unsubscribe link is not https: one-click unsubscribe (RFC 8058) "
                     "needs an https URL that recipients' providers can POST to",
                     "set tracking.base_url to the public https address of `edm track serve`")
    return ok(SECTION, name, "List-Unsubscribe https link with List-Unsubscribe-Post: One-Click")


def _return_path(envelope_sender: str, from_domain: str) -> Check:
    name = "From / Return-Path"
    envelope_domain = envelope_sender.rpartition("@")[2].lower()
    if organizational_domain(envelope_domain) != organizational_domain(from_domain):
        return warn(SECTION, name, f"Return-Path {envelope_sender} is not in From's domain ({from_domain}): "
                    "NetEase and QQ Mail show it as sent on behalf of (代发) another domain",
                    f"set sender.return_path to an address at {from_domain}")
    return ok(SECTION, name, f"Return-Path {envelope_sender}, From domain {from_domain}")


__all__ = ["build_checks", "message_checks", "sample_message"]
