"""Read a bounce: which of our mails it is about, for whom, and whether the address is dead.

Pure functions, bytes in and a `Bounce` out, so every provider's quirk is a sample file
and a test. RFC 3464 delivery status notifications are read field by field; the common
non-standard bounces (qmail, Exim, QQ Mail and 163 in Chinese, ...) by the SMTP reply
and the words in their text.

The rule the mechanics apply: a HARD bounce says the address itself is dead (unknown
user, no such domain, disabled mailbox) and suppresses it; a SOFT one (4.x.x, delayed,
mailbox full, message too big, a spam or policy block on our side) is only recorded,
because mailing the customer again later may well work.
"""

from __future__ import annotations

import email
import hmac
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.errors import MessageError
from email.header import decode_header, make_header
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses, parsedate_to_datetime
from enum import StrEnum

from edm.delivery.message import mail_tag

# Our Message-IDs are `<{outbox key[:32]}.{tag}@{domain}>` (edm.delivery.message.message_id); a
# VERP return path may carry the same `{prefix}.{tag}` after a "+". Ids without the tag are older
# mail's: a verified webhook may still name them, a report mailed to us may not.
_OUR_ID = re.compile(r"^<?([0-9a-fA-F]{32})(?:\.([0-9a-fA-F]{20}))?@[^>\s]+>?$")
_VERP = re.compile(r"^[^@+]+\+([0-9a-fA-F]{32})(?:\.([0-9a-fA-F]{20}))?@", re.ASCII)
_MESSAGE_ID_LINE = re.compile(r"^[ \t>]*Message-ID:[ \t]*(<[^>\s]+>)", re.IGNORECASE | re.MULTILINE)
_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_BASIC = re.compile(r"(?<![\w.\-])([45][0-5]\d)(?=[\s\-:])")
_COPY_FOLLOWS = re.compile(r"^.*(?:below this line is a copy|this is a copy of the message|original message"
                           r"|原始邮件|原邮件)", re.IGNORECASE | re.MULTILINE)
_TAGS = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"\s+")

FULL_WORDS = ("mailbox full", "mailbox is full", "over quota", "quota exceeded", "exceeded storage",
              "mailbox size limit",
              "insufficient storage", "out of storage", "空间不足", "邮箱已满", "容量不足", "超出容量")
BLOCK_WORDS = ("spam", "blacklist", "blocklist", "blocked", "content denied", "content rejected",
               "reputation", "垃圾邮件", "被拒收", "内容被拒绝")
DEAD_WORDS = ("user unknown", "unknown user", "no such user", "does not exist", "doesn't exist",
              "not found", "recipient not found", "invalid recipient", "invalid mailbox", "no mailbox",
              "address rejected", "account disabled", "account has been disabled", "no such domain",
              "host not found", "domain not found", "recipnotfound", "不存在", "无此用户", "地址无效",
              "账户被禁用", "已停用", "已注销")
DELAY_WORDS = ("delayed", "will retry", "will be retried", "still trying", "has not yet been delivered",
               "暂时", "延迟", "延时")
PERMANENT_WORDS = ("permanent error", "permanent failure", "failed permanently", "could not be delivered",
                   "undeliverable", "delivery has failed", "退信", "无法投递", "投递失败", "发送失败")
BOUNCE_SENDERS = ("mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon")
BOUNCE_SUBJECTS = ("undeliver", "delivery status notification", "delivery failure", "failure notice",
                   "returned mail", "mail delivery failed", "delivery has failed", "not delivered",
                   "退信", "投递失败", "未能送达", "发送失败", "无法投递")

# Enhanced status codes (RFC 3463, "subject.detail") that are permanent but not about the address.
SOFT_PERMANENT = ("2.2", "2.3", "3.4", "4.7")  # mailbox full, too long for mailbox, too big, expired
NOT_A_FAILURE = ("delivered", "relayed", "expanded")


class Severity(StrEnum):
    HARD = "hard"
    SOFT = "soft"


@dataclass(frozen=True, slots=True)
class Bounce:
    """What one bounce says about one of our mails (the recipient that fared worst)."""

    severity: Severity
    reference: MailReference | None  # the outbox row our Message-ID names, if the mail looks like ours
    message_id: str | None  # the original's Message-ID as found, for logs
    recipient: str | None
    status: str  # enhanced status code, e.g. "5.1.1"; "" when the bounce gave none
    diagnostic: str  # the remote server's words, on one line
    arrived_at: datetime | None  # the bounce's own Date, UTC: tells one report from another

    @property
    def reply(self) -> str:
        """A line for `OutboxMessage.last_reply`."""
        return " ".join(part for part in (self.status, self.diagnostic) if part) or "bounced"


@dataclass(frozen=True, slots=True)
class _Recipient:
    address: str | None
    action: str
    status: str
    diagnostic: str
    evidence: str = ""  # a non-standard bounce's whole explanation, for its words


# What the email package and the codecs raise on damaged mail (a NUL in a charset name, an
# unknown codec, broken transfer encodings, truncated MIME): a mail we cannot read is no bounce.
DAMAGED = (ValueError, LookupError, IndexError, AssertionError, MessageError)  # UnicodeError is a ValueError


def parse_bounce(raw: bytes) -> Bounce | None:
    """The bounce `raw` reports, or None when it is no bounce (an auto-reply, a success notice, mail)
    or too damaged to read. Never raises: one broken message must not stop the mailbox poller."""
    try:
        return _parse(raw)
    except DAMAGED:
        return None


def _parse(raw: bytes) -> Bounce | None:
    message = email.message_from_bytes(raw)
    report = _report_type(message)
    if report is not None and report != "delivery-status":
        return None  # e.g. feedback-report (a complaint): not a delivery failure
    recipients = _dsn_recipients(message) if report == "delivery-status" else []
    if not recipients:
        if not _looks_like_bounce(message):
            return None
        recipients = [_recipient_from_text(message)]
    failures = [(severity, r) for r in recipients
                if (severity := classify(r.action, r.status, r.evidence or r.diagnostic))]
    if not failures:
        return None
    severity, worst = min(failures, key=lambda pair: pair[0] != Severity.HARD)
    ids = _candidate_ids(message)
    ours = [(i, reference) for i in ids if (reference := mail_reference(i))]
    return Bounce(
        severity=severity,
        reference=ours[0][1] if ours else None,
        message_id=ours[0][0] if ours else next((i for i in ids if i.startswith("<")), None),
        recipient=worst.address,
        status=worst.status,
        diagnostic=worst.diagnostic[:500],
        arrived_at=_date(message),
    )


def classify(action: str, status: str, diagnostic: str) -> Severity | None:
    """HARD, SOFT, or None for a recipient that was delivered after all."""
    action = action.lower()
    if action.startswith(NOT_A_FAILURE):
        return None
    text = diagnostic.lower()
    status = _specific_status(status, diagnostic)
    subject_detail = status.partition(".")[2]
    if action.startswith("delayed") or status.startswith("4"):
        return Severity.SOFT
    if any(word in text for word in FULL_WORDS) or subject_detail in SOFT_PERMANENT:
        return Severity.SOFT
    if subject_detail.startswith("7.") or any(word in text for word in BLOCK_WORDS):
        return Severity.SOFT  # our message or our server was refused, not the customer's address
    if status.startswith("5") or any(word in text for word in DEAD_WORDS):
        return Severity.HARD
    basic = _BASIC.search(diagnostic)
    if basic:
        return Severity.HARD if basic.group(1).startswith("5") else Severity.SOFT
    if any(word in text for word in DELAY_WORDS):
        return Severity.SOFT
    return Severity.HARD if any(word in text for word in PERMANENT_WORDS) else Severity.SOFT


@dataclass(frozen=True, slots=True)
class MailReference:
    """What one of our Message-IDs (or VERP addresses) says: the outbox key's prefix, and its tag."""

    prefix: str  # lower-case hex
    tag: str | None  # None: an id without one (mail sent before ids were tagged)

    def genuine(self, keys: Sequence[bytes]) -> bool:
        """The tag was made with one of `keys`: the id is ours, not guessed from a customer id."""
        return self.tag is not None and any(hmac.compare_digest(self.tag, mail_tag(self.prefix, key))
                                            for key in keys)


def mail_reference(message_id: str) -> MailReference | None:
    """The outbox reference in one of our Message-IDs (or VERP addresses); None for any other id."""
    value = message_id.strip()
    found = _OUR_ID.match(value) or _VERP.match(value.strip("<>"))
    if not found:
        return None
    tag = found.group(2)
    return MailReference(found.group(1).lower(), tag.lower() if tag else None)


def _specific_status(status: str, diagnostic: str) -> str:
    """The status code, or a more specific one from the diagnostic when the field says x.0.0 or nothing."""
    found = _ENHANCED.search(status)
    code = ".".join(found.groups()) if found else ""
    if not code or code.endswith(".0.0"):
        detail = _ENHANCED.search(diagnostic)
        if detail and (not code or detail.group(1) == code[0]):
            return ".".join(detail.groups())
    return code


def _report_type(message: Message) -> str | None:
    if message.get_content_type() != "multipart/report":
        return None
    return str(message.get_param("report-type", "") or "").lower()


def _dsn_recipients(message: Message) -> list[_Recipient]:
    """The per-recipient fields of the message/delivery-status part (RFC 3464 section 2.3)."""
    found: list[_Recipient] = []
    for part in _own_parts(message):
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in _subparts(part)[1:]:  # the first block is per-message
            address = _field(block, "Final-Recipient") or _field(block, "Original-Recipient")
            found.append(_Recipient(
                address=_address_of(address),
                action=_field(block, "Action").lower(),
                status=_field(block, "Status"),
                diagnostic=_after_type(_field(block, "Diagnostic-Code")),
            ))
    return found


def _recipient_from_text(message: Message) -> _Recipient:
    """A non-standard bounce: the first status code and address in its explanation."""
    text = _COPY_FOLLOWS.split(_explanation(message), maxsplit=1)[0]
    enhanced = _ENHANCED.search(text)
    address = re.search(r"<?([\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+)>?", text)
    line = _reply_line(text)
    return _Recipient(
        address=address.group(1).lower() if address else None,
        action="failed",
        status=".".join(enhanced.groups()) if enhanced else "",
        diagnostic=line or _SPACES.sub(" ", text).strip()[:500],
        evidence=text,
    )


def _reply_line(text: str) -> str:
    """The line carrying the remote server's reply: the first with a status code."""
    for line in text.splitlines():
        if _ENHANCED.search(line) or _BASIC.search(line):
            return _SPACES.sub(" ", line).strip()
    return ""


def _looks_like_bounce(message: Message) -> bool:
    if str(message.get("Auto-Submitted", "")).lower().startswith("auto-replied"):
        return False  # out-of-office replies are not bounces
    sender = " ".join(addr for _, addr in getaddresses([str(message.get("From", ""))])).lower()
    subject = _decoded_header(message.get("Subject", "")).lower()
    return (str(message.get("Return-Path", "")).strip() == "<>" or any(s in sender for s in BOUNCE_SENDERS)
            or any(s in subject for s in BOUNCE_SUBJECTS))


def _candidate_ids(message: Message) -> list[str]:
    """Message-IDs that may be the original's, best first: attached copy, inline copy, threading, VERP."""
    ids: list[str] = []
    for part in _own_parts(message):
        kind = part.get_content_type()
        if kind == "message/rfc822":
            ids += [str(inner.get("Message-ID", "")) for inner in _subparts(part)[:1]]
        elif kind == "text/rfc822-headers":
            headers = HeaderParser().parsestr(_text(part))
            ids.append(str(headers.get("Message-ID", "")))
    ids += _MESSAGE_ID_LINE.findall(_explanation(message))
    for name in ("In-Reply-To", "References"):
        ids += re.findall(r"<[^>\s]+>", str(message.get(name, "")))
    for name in ("To", "Delivered-To", "X-Original-To"):
        ids += [addr for _, addr in getaddresses([str(v) for v in message.get_all(name, [])])]
    return [i.strip() for i in ids if i.strip()]


def _own_parts(message: Message) -> list[Message]:
    """Every part of the bounce itself, not descending into an attached original message."""
    parts = [message]
    if message.is_multipart() and message.get_content_type() != "message/rfc822":
        for part in _subparts(message):
            if part.get_content_maintype() == "multipart":
                parts += _own_parts(part)
            else:
                parts.append(part)
    return parts


def _subparts(message: Message) -> list[Message]:
    payload = message.get_payload()
    return [part for part in payload if isinstance(part, Message)] if isinstance(payload, list) else []


def _explanation(message: Message) -> str:
    """The human-readable text of the bounce (an inline copy of the original included), tags stripped."""
    texts = []
    for part in _own_parts(message):
        if part.get_content_type() == "text/plain":
            texts.append(_text(part))
        elif part.get_content_type() == "text/html":
            texts.append(html.unescape(_TAGS.sub(" ", _text(part))))
    return "\n".join(texts)


def _text(part: Message) -> str:
    """The part's text; undecodable bytes replaced, and an unknown or damaged charset read as UTF-8."""
    try:
        payload = part.get_payload(decode=True)
    except DAMAGED:  # e.g. a uuencoded body cut short
        return ""
    if not isinstance(payload, bytes):
        return ""
    try:
        charset = part.get_content_charset() or "utf-8"
    except DAMAGED:
        charset = "utf-8"
    if charset.lower() in ("gb2312", "gbk"):
        charset = "gb18030"  # the superset: Chinese mail often declares the narrower one
    try:
        return payload.decode(charset, errors="replace")
    except (LookupError, ValueError):  # an unknown codec, or a name the codec registry refuses (a NUL)
        return payload.decode("utf-8", errors="replace")


def _field(block: Message, name: str) -> str:
    return _SPACES.sub(" ", str(block.get(name, ""))).strip()


def _after_type(value: str) -> str:
    """`smtp; 550 5.1.1 ...` -> `550 5.1.1 ...` (RFC 3464 typed fields)."""
    kind, sep, rest = value.partition(";")
    return rest.strip() if sep and " " not in kind.strip() else value


def _address_of(value: str) -> str | None:
    address = _after_type(value).strip().strip("<>").lower()
    return address if "@" in address else None


def _decoded_header(value: object) -> str:
    try:
        return str(make_header(decode_header(str(value))))
    except (LookupError, UnicodeError, ValueError, MessageError):  # CharsetError among them
        return str(value)


def _date(message: Message) -> datetime | None:
    try:
        when = parsedate_to_datetime(str(message.get("Date", "")))
    except (TypeError, ValueError, IndexError):
        return None
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
