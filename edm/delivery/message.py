"""Build the RFC 5322 message: multipart text + HTML, encoded headers, one-click unsubscribe.

Every value that reaches a header is folded onto one line first, so a CR or LF in a
customer's name or a subject can never start a new header.
"""

from __future__ import annotations

from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from edm.render import one_line


def build_message(
    *,
    from_address: str,
    to_name: str,
    to_address: str,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    unsubscribe_url: str,
    date: datetime,
    reply_to: str | None = None,
) -> EmailMessage:
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = _address(from_address)
    message["To"] = Address(display_name=one_line(to_name), addr_spec=one_line(to_address))
    if reply_to:
        message["Reply-To"] = _address(reply_to)
    message["Subject"] = one_line(subject)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text, cte=_transfer_encoding(text))
    message.add_alternative(html, subtype="html", cte=_transfer_encoding(html))
    return message


def message_id(key: str, from_address: str) -> str:
    """A stable Message-ID per outbox row: the same mail always carries the same id."""
    domain = parseaddr(from_address)[1].rpartition("@")[2] or "edm.invalid"
    return f"<{key[:32]}@{domain}>"


def _transfer_encoding(body: str) -> str:
    """Quoted-printable for ASCII (safe for long HTML lines), base64 otherwise: never raw 8-bit."""
    return "quoted-printable" if body.isascii() else "base64"


def _address(value: str) -> Address:
    name, addr = parseaddr(one_line(value))
    if "@" not in addr:
        raise ValueError(f"not an email address: {value!r}")
    return Address(display_name=name, addr_spec=addr)
