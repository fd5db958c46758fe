"""The RFC 5322 bytes of one marketing mail, written directly: no `EmailMessage` per message.

The stdlib's MIME machinery manages about 900 messages a second here, a fraction of what
one SMTP connection carries, so `MessageBuilder` writes the bytes itself. Everything that
is the same for every mail of a sender (From, Reply-To, the MIME skeleton, the mailto
unsubscribe) is encoded once, when the builder is made; per message only To, Subject,
Date, Message-ID, List-Unsubscribe, the MIME boundary and the two transfer-encoded bodies
are written. The boundary is random per message: one shared by every mail of an
installation is a fingerprint spam filters key on.

Safety rests on three rules:
- every value that reaches a header goes through `one_line` first (CR, LF, NUL, U+2028 ...
  become a space), and what is not plain printable ASCII is RFC 2047-encoded, so no name or
  subject can start a header of its own;
- bodies are quoted-printable or base64, so no body line is longer than 76 octets and every
  line ends in CRLF;
- the boundary starts with "=_", which neither encoding can produce.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, parseaddr
from urllib.parse import quote

from edm.render import one_line

MAX_LINE = 78  # RFC 5322's "should" for header lines; 998 is the hard limit
# An ASCII word longer than a line is written as it is, on a line of its own (as the stdlib
# does): readable, and legal up to 998 octets. Only beyond this is it encoded.
_LONGEST_WORD = 900
_ENCODED_WORD_MAX = 75  # RFC 2047: an encoded word is at most 75 characters
_B_PREFIX = "=?utf-8?b?"
_B_OVERHEAD = len(_B_PREFIX) + len("?=")
_QP_LIMIT = 0.05  # above this share of non-ASCII (CJK) characters base64 is the smaller encoding
_QP_CACHE_SIZE = 20_000  # encoded lines kept per builder (a few MB at most)
# An atom per RFC 5322 (atext), the only ASCII display name written without quotes.
_ATOMS = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*$")
# A conservative addr-spec: printable ASCII, no spaces, quotes, brackets or commas.
_ADDR_SPEC = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")

LIST_UNSUBSCRIBE_POST = "List-Unsubscribe=One-Click"  # RFC 8058


@dataclass(frozen=True, slots=True)
class Mailbox:
    """A display name and an addr-spec, the address already in its on-the-wire (ASCII) form."""

    name: str
    address: str

    @classmethod
    def parse(cls, value: str) -> Mailbox:
        """'Name <user@example.com>', '"Name" <user@example.com>' or a bare address.

        Lenient on the name (a comma needs no quotes: this reads settings, not mail);
        ValueError when the address is not one.
        """
        text = one_line(value)
        if not (text.endswith(">") and "<" in text):
            return cls("", addr_spec(text))
        name, _, address = text[:-1].rpartition("<")
        name = name.strip()
        if len(name) >= 2 and name[0] == name[-1] == '"':
            name = re.sub(r"\\(.)", r"\1", name[1:-1])
        return cls(name.strip(), addr_spec(address))

    def header(self, field: str) -> str:
        """'Field: name <address>' as a folded, CRLF-terminated header."""
        if not self.name:
            return f"{field}: {self.address}\r\n"
        prefix = f"{field}: "
        return _fold(prefix, [*_phrase_words(self.name, MAX_LINE - len(prefix)), f"<{self.address}>"])


def addr_spec(value: str) -> str:
    """`value` as an ASCII addr-spec (an internationalised domain becomes its A-label).

    ValueError when it is not a plain address: the outbox only holds addresses that the
    import validated, so this guards an invariant, it does not judge user input. A local
    part that is not ASCII would need SMTPUTF8, which edm does not speak.
    """
    local, at, domain = value.strip().rpartition("@")
    if at and not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise ValueError(f"not a valid email domain: {value!r}") from exc
    address = f"{local}@{domain.lower()}"
    if not at or len(address) > 254 or not _ADDR_SPEC.match(address) or ".." in local:
        raise ValueError(f"not a plain ASCII email address: {value!r}")
    return address


def message_id(key: str, from_address: str, tag_key: bytes) -> str:
    """A stable Message-ID per outbox row: the same mail always carries the same id.

    `<{key[:32]}.{tag}@domain>`: the outbox key's prefix finds the row a bounce or complaint is
    about; the tag (`mail_tag`, keyed) proves the id is ours. Outbox keys are made of campaign,
    step, customer id and date with no secret (edm.campaigns.keys), so without the tag anyone could
    forge a bounce for any customer and suppress them.
    """
    prefix = key[:KEY_PREFIX_LENGTH]
    return f"<{prefix}.{mail_tag(prefix, tag_key)}@{_id_domain(from_address)}>"


KEY_PREFIX_LENGTH = 32  # hex digits of the outbox key in a Message-ID
TAG_LENGTH = 20  # hex digits of the tag: 80 bits


def mail_tag(prefix: str, key: bytes) -> str:
    """The keyed tag of an outbox key prefix (HMAC-SHA256 under a signing key, hex, shortened)."""
    return hmac.new(key, b"message-id:" + prefix.lower().encode(), hashlib.sha256).hexdigest()[:TAG_LENGTH]


@functools.lru_cache(maxsize=64)
def _id_domain(from_address: str) -> str:
    """The right-hand side of our Message-IDs; a sender has one, parsing it per message cost 7 %."""
    return parseaddr(from_address)[1].rpartition("@")[2] or "edm.invalid"


class MessageBuilder:
    """Bytes of marketing mails from one sender; cheap per message, safe to share."""

    def __init__(
        self,
        *,
        sender: Mailbox,
        reply_to: Mailbox | None = None,
        unsubscribe_mailto: str | None = None,
    ) -> None:
        self.sender = sender
        mailto = ""
        if unsubscribe_mailto:
            mailto = f"<mailto:{addr_spec(unsubscribe_mailto)}?subject={quote('unsubscribe')}>"
        self._mailto = mailto
        self._head = originator_headers(sender, reply_to)
        self._qp_lines: dict[str, bytes] = {}
        self._last_date: tuple[datetime | None, str] = (None, "")

    def _body(self, content: str) -> bytes:
        """A part's transfer-encoding header, blank line and body, CRLF line ends throughout.

        Quoted-printable for mostly ASCII text (readable, and spam filters distrust base64
        hiding plain text), base64 for mostly non-ASCII (CJK), where it is the smaller.
        """
        if "\r" in content:
            content = content.replace("\r\n", "\n").replace("\r", "\n")
        non_ascii = len(content) - len(content.encode("ascii", "ignore"))
        if non_ascii > _QP_LIMIT * len(content):
            return b"Content-Transfer-Encoding: base64\r\n\r\n" + _base64(content.encode("utf-8"))
        return b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + self._quoted_printable(content)

    def _quoted_printable(self, content: str) -> bytes:
        """Quoted-printable, line by line through a cache: the lines of a campaign's template
        repeat from mail to mail, only the personal ones are encoded afresh."""
        cache = self._qp_lines
        if len(cache) > _QP_CACHE_SIZE:
            cache.clear()
        encoded: list[bytes] = []
        for line in content.split("\n"):
            qp = cache.get(line)
            if qp is None:
                # The CRLF makes b2a_qp use CRLF for its soft line breaks too.
                qp = cache[line] = binascii.b2a_qp(line.encode("utf-8") + b"\r\n", istext=True)[:-2]
            encoded.append(qp)
        return b"\r\n".join(encoded)

    def _date(self, date: datetime) -> str:
        """The Date header's value; a batch is written within the same second, so keep the last."""
        last = self._last_date
        if last[0] != date:
            last = self._last_date = (date, format_datetime(date))
        return last[1]

    def build(
        self,
        *,
        to: Mailbox,
        subject: str,
        text: str,
        html: str,
        message_id: str,
        unsubscribe_url: str | None,
        date: datetime,
        originator: bytes | None = None,
        one_click: bool = True,
    ) -> bytes:
        """One multipart/alternative mail (text, then HTML) with one-click unsubscribe headers.

        `date` must be timezone-aware; `unsubscribe_url` is the signed https URL of RFC 8058
        (None: a mail that belongs to no list, such as a sign-up's confirmation: no List-Unsubscribe).
        `originator` (from `originator_headers`) replaces this builder's From and Reply-To.
        `one_click` False (service mail): List-Unsubscribe (RFC 2369) without List-Unsubscribe-Post.
        """
        if date.tzinfo is None:
            raise ValueError("the Date of a message must be timezone-aware")
        listed = ""
        if unsubscribe_url is not None:
            url = one_line(unsubscribe_url)
            if not url.isascii() or "<" in url or ">" in url or " " in url:
                raise ValueError(f"not a URL that can go in List-Unsubscribe: {unsubscribe_url!r}")
            links = [f"<{url}>,", self._mailto] if self._mailto else [f"<{url}>"]
            listed = _fold("List-Unsubscribe: ", links) + (
                f"List-Unsubscribe-Post: {LIST_UNSUBSCRIBE_POST}\r\n" if one_click else "")
        headers = (
            to.header("To")
            + unstructured("Subject", subject)
            + f"Date: {self._date(date)}\r\n"
            + f"Message-ID: {one_line(message_id)}\r\n"
            + listed
        )
        boundary = _boundary()
        return b"".join((
            originator or self._head, headers.encode("ascii"), _MIME_OPEN, boundary, _MIME_CLOSE,
            boundary, _TEXT_OPEN, self._body(text), _PART, boundary, _HTML_OPEN, self._body(html),
            _PART, boundary, b"--\r\n",
        ))


# The MIME skeleton around the boundary: "--" + boundary opens a part, "--" + boundary + "--" ends them.
_MIME_OPEN = b'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="'
_MIME_CLOSE = b'"\r\n\r\n--'
_TEXT_OPEN = b"\r\nContent-Type: text/plain; charset=utf-8\r\n"
_HTML_OPEN = b"\r\nContent-Type: text/html; charset=utf-8\r\n"
_PART = b"\r\n--"


def _boundary() -> bytes:
    """A fresh boundary: "=_" (which neither quoted-printable nor base64 writes) and 96 random bits."""
    return b"=_edm_" + secrets.token_hex(12).encode("ascii")


def originator_headers(sender: Mailbox, reply_to: Mailbox | None = None) -> bytes:
    """The From and (optional) Reply-To header lines, folded and encoded."""
    return (sender.header("From") + (reply_to.header("Reply-To") if reply_to else "")).encode()


def unstructured(field: str, value: str) -> str:
    """'Field: value' for a free-text header such as Subject: folded, encoded when it must be.

    Plain ASCII stays readable (spam filters frown on needless base64); anything else, or
    a value that looks like an encoded word, becomes UTF-8 "B" encoded words split on
    character boundaries.
    """
    text = one_line(value)
    prefix = f"{field}: "
    words = text.split(" ")
    if not (text.isascii() and "=?" not in text and all(len(w) <= _LONGEST_WORD for w in words)):
        words = _encoded_words(text, MAX_LINE - len(prefix))
    return _fold(prefix, words)


def _phrase_words(name: str, room: int) -> list[str]:
    """A display name as the words of an RFC 5322 phrase: atoms, one quoted string, or encoded words.

    `room` is what is left of the first line after the field name. (A long non-ASCII name
    takes several encoded words; RFC 2047 readers join them, but the stdlib's address
    parser leaves a space at each join.)
    """
    if name.isascii() and "=?" not in name:
        words = name.split(" ")
        if _ATOMS.match(name) and all(len(w) <= _LONGEST_WORD for w in words):
            return words
        quoted = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if len(quoted) <= _LONGEST_WORD:
            return [quoted]
    return _encoded_words(name, room)


def _encoded_words(text: str, room: int) -> list[str]:
    """`text` as UTF-8 "B" encoded words, each fitting its line, never splitting a character.

    The first word fits in `room`; later ones start a folded line after one space.
    """
    data = text.encode("utf-8")
    words: list[str] = []
    start = 0
    most = _encoded_bytes(min(room, _ENCODED_WORD_MAX))
    while len(data) - start > most:
        end = start + most
        while data[end] & 0xC0 == 0x80:  # a continuation byte: cut before its character
            end -= 1
        words.append(_encoded_word(data[start:end]))
        start = end
        most = _encoded_bytes(min(MAX_LINE - 1, _ENCODED_WORD_MAX))
    words.append(_encoded_word(data[start:]))
    return words


def _encoded_bytes(width: int) -> int:
    """How many bytes fit in a "B" encoded word of `width` characters."""
    return (width - _B_OVERHEAD) // 4 * 3


def _encoded_word(data: bytes) -> str:
    return _B_PREFIX + base64.b64encode(data).decode("ascii") + "?="


def _fold(prefix: str, words: list[str]) -> str:
    """`prefix` and the words joined by spaces, breaking the line (CRLF + space) before a word
    that would take it past 78 characters; CRLF-terminated."""
    line = prefix + words[0]
    lines: list[str] = []
    for word in words[1:]:
        if len(line) + 1 + len(word) > MAX_LINE:
            lines.append(line)
            line = " " + word
        else:
            line += " " + word
    lines.append(line)
    return "\r\n".join(lines) + "\r\n"


def _base64(data: bytes) -> bytes:
    """Base64 in lines of 76, CRLF-terminated."""
    encoded = binascii.b2a_base64(data, newline=False)
    return b"\r\n".join([encoded[i : i + 76] for i in range(0, len(encoded), 76)]) + b"\r\n"


__all__ = ["KEY_PREFIX_LENGTH", "LIST_UNSUBSCRIBE_POST", "TAG_LENGTH", "Mailbox", "MessageBuilder",
           "addr_spec", "mail_tag", "message_id", "unstructured"]
