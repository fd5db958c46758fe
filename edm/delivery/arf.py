"""Read a feedback-loop report: a recipient marked one of our mails as spam.

Pure, bytes in and a `Complaint` out, like bounces.py. Two shapes are read:
- ARF (RFC 5965): `multipart/report; report-type=feedback-report` with a
  `message/feedback-report` part (Feedback-Type, Original-Rcpt-To, ...) and the original as
  `message/rfc822` or `text/rfc822-headers`. Yahoo, Mail.ru, AOL, Comcast, Fastmail and most
  others send this; the recipient is often redacted, so the original's Message-ID is what counts.
- Microsoft's JMRP (Outlook.com, Hotmail) and some Chinese providers: a plain mail with the
  complained-about original attached as `message/rfc822`; JMRP marks it with
  `X-HmXmrOriginalRecipient`. Such a mail is a complaint only when the attachment carries that
  header or the report comes from a known feedback-loop sender.

Only the report's fields and the original's headers are kept as the detail, never its body.
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from edm.delivery.bounces import DAMAGED

COMPLAINT_TYPES = ("abuse", "fraud")  # a person's "this is spam"; not-spam, virus, auth-failure are not
JMRP_RECIPIENT = "X-HmXmrOriginalRecipient"
# Feedback loops that send the original as a bare attachment rather than ARF.
FBL_SENDERS = ("staff@hotmail.com", "jmrp@microsoft.com", "complaints@email-abuse.amazonses.com",
               "fbl@corp.mail.ru", "feedbackloop@", "fbl@", "abuse-report@")
HEADER_MAX = 2000  # characters kept of one header's value
HEADERS_MAX = 100  # headers kept of the original
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Complaint:
    """One feedback report about one of our mails."""

    feedback_type: str  # "abuse", "fraud", "not-spam", ... (lower case)
    message_ids: tuple[str, ...]  # the original's Message-ID(s), best first
    recipient: str | None  # Original-Rcpt-To, or the original's To / JMRP recipient; None when redacted
    arrived_at: datetime | None  # Arrival-Date, else the report's Date, UTC
    shape: str  # "arf" or "jmrp"
    detail: dict[str, Any] = field(default_factory=dict)  # report fields and the original's headers

    @property
    def is_complaint(self) -> bool:
        return self.feedback_type in COMPLAINT_TYPES


def parse_feedback(raw: bytes) -> Complaint | None:
    """The feedback report `raw` is, or None when it is none (a bounce, mail) or unreadable. Never raises."""
    try:
        return _parse(email.message_from_bytes(raw))
    except DAMAGED:
        return None


def _parse(message: Message) -> Complaint | None:
    if message.get_content_type() == "multipart/report":
        kind = str(message.get_param("report-type", "") or "").lower()
        return _arf(message) if kind == "feedback-report" else None
    return _attached_original(message)


def _arf(message: Message) -> Complaint | None:
    fields: Message | None = None
    original: Message | None = None
    for part in _parts(message):
        kind = part.get_content_type()
        if kind == "message/feedback-report" and fields is None:
            fields = _feedback_fields(part)
        elif kind == "message/rfc822" and original is None:
            original = next(iter(_subparts(part)), None)
        elif kind == "text/rfc822-headers" and original is None:
            original = HeaderParser().parsestr(_text(part))
    if fields is None:
        return None
    report = {name: _values(fields, name) for name in dict.fromkeys(k.lower() for k in fields)}
    recipient = _address(_one(fields, "Original-Rcpt-To")) or _recipient_of(original)
    arrival = _one(fields, "Arrival-Date") or _one(fields, "Received-Date")
    when = _date(arrival) or _date(str(message.get("Date", "")))
    return Complaint(
        feedback_type=_one(fields, "Feedback-Type").lower() or "abuse",
        message_ids=_ids(original),
        recipient=recipient,
        arrived_at=when,
        shape="arf",
        detail={"shape": "arf", "feedback_report": report, "original_headers": _headers(original)},
    )


def _attached_original(message: Message) -> Complaint | None:
    """JMRP and its imitators: an attached original with the complainant's address, or from a known FBL."""
    if not message.is_multipart():
        return None
    sender = " ".join(addr for _, addr in getaddresses([str(message.get("From", ""))])).lower()
    for part in _parts(message):
        if part.get_content_type() != "message/rfc822":
            continue
        original = next(iter(_subparts(part)), None)
        if original is None:
            continue
        marked = original.get(JMRP_RECIPIENT) is not None
        if not marked and not any(known in sender for known in FBL_SENDERS):
            return None
        return Complaint(
            feedback_type="abuse",
            message_ids=_ids(original),
            recipient=_address(str(original.get(JMRP_RECIPIENT, ""))) or _recipient_of(original),
            arrived_at=_date(str(message.get("Date", ""))),
            shape="jmrp",
            detail={"shape": "jmrp", "from": _clip(str(message.get("From", ""))),
                    "subject": _clip(str(message.get("Subject", ""))),
                    "original_headers": _headers(original)},
        )
    return None


def _feedback_fields(part: Message) -> Message:
    """The report's fields: the email package reads an unknown message/* part as one message."""
    inner = _subparts(part)
    if inner:
        return inner[0]
    return HeaderParser().parsestr(_text(part))


def _ids(original: Message | None) -> tuple[str, ...]:
    if original is None:
        return ()
    found = [str(v).strip() for v in original.get_all("Message-ID", []) if str(v).strip()]
    return tuple(found)


def _recipient_of(original: Message | None) -> str | None:
    if original is None:
        return None
    for _, address in getaddresses([str(v) for v in original.get_all("To", [])]):
        if _address(address):
            return _address(address)
    return None


def _address(value: str) -> str | None:
    """`rfc822; <a@b>` or `<a@b>` -> `a@b`; None for a redacted or empty one."""
    kind, sep, rest = value.partition(";")
    text = (rest if sep and "@" not in kind else value).strip().strip("<>").strip()
    local, at, domain = text.rpartition("@")
    if not at or not local or "." not in domain or " " in text or "redacted" in text.lower():
        return None
    return text


def _headers(original: Message | None) -> list[list[str]]:
    if original is None:
        return []
    return [[str(name), _clip(str(value))] for name, value in original.items()[:HEADERS_MAX]]


def _values(fields: Message, name: str) -> str | list[str]:
    values = [_clip(str(v)) for v in fields.get_all(name, [])]
    return values[0] if len(values) == 1 else values


def _one(fields: Message, name: str) -> str:
    return _SPACES.sub(" ", str(fields.get(name, ""))).strip()


def _clip(value: str) -> str:
    return _SPACES.sub(" ", value).strip()[:HEADER_MAX]


def _parts(message: Message) -> list[Message]:
    """Every part of the report, not descending into an attached message."""
    found = []
    for part in _subparts(message):
        if part.get_content_maintype() == "multipart":
            found += _parts(part)
        else:
            found.append(part)
    return found


def _subparts(message: Message) -> list[Message]:
    payload = message.get_payload()
    return [part for part in payload if isinstance(part, Message)] if isinstance(payload, list) else []


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        payload = str(part.get_payload()).encode("utf-8", "replace")
    return payload.decode("utf-8", errors="replace")


def _date(value: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
