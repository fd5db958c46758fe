"""The hand-written RFC 5322 bytes, read back by the stdlib's own (independent) parser."""

from __future__ import annotations

import base64
import email
import re
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edm.delivery.message import Mailbox, MessageBuilder, addr_spec, mail_tag, message_id, unstructured
from edm.render import one_line

NOW = datetime(2026, 11, 24, 9, 30, 5, tzinfo=UTC)
UNSUBSCRIBE = "https://t.example.com/u/token-abc_123"
HTML = (
    '<!DOCTYPE html>\n<html lang="zh"><body style="margin:0;">\n<p style="color:#333;">尊敬的王芳：</p>\n'
    + '<p>Long line ' + "x" * 300 + ' end=of line \t</p>\n<a href="https://e.example/c?a=1&b=2">领取</a>\n'
    + "</body></html>\n"
)
TEXT = "尊敬的王芳：\n\n您好！Trailing space \nA line with = and a tab\t\n.starts with a dot\n"
EXPECTED_HEADERS = {
    "From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
    "List-Unsubscribe", "List-Unsubscribe-Post",
}


def builder(from_address: str = "Acme 客户关怀 <care@example.com>", **kwargs: str) -> MessageBuilder:
    return MessageBuilder(sender=Mailbox.parse(from_address), **kwargs)  # type: ignore[arg-type]


def build(
    make: MessageBuilder | None = None,
    *,
    name: str = "王芳",
    to: str = "wang@example.com",
    subject: str = "王芳，新春快乐",
    text: str = TEXT,
    html: str = HTML,
) -> bytes:
    return (make or builder()).build(
        to=Mailbox(one_line(name), addr_spec(to)), subject=subject, text=text, html=html,
        message_id=message_id("a" * 64, "care@example.com", b"k" * 32), unsubscribe_url=UNSUBSCRIBE, date=NOW,
    )


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def display_name(raw: bytes, field: str) -> str:
    """The display name as an RFC 2047 reader sees it.

    The stdlib's address parser keeps the folding space between two encoded words of a
    phrase (RFC 2047 6.2 says to drop it), so encoded names are read with the stdlib's
    RFC 2047 decoder instead; others with the address parser.
    """
    value = email.message_from_bytes(raw, policy=policy.compat32)[field]
    assert isinstance(value, str)
    phrase = value.rpartition("<")[0].strip()
    if "=?" not in phrase:
        return str(parse(raw)[field].addresses[0].display_name)
    return str(make_header(decode_header(phrase)))


def content(message: EmailMessage, kind: str) -> str:
    part = message.get_body((kind,))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")  # the parser keeps the wire's CRLF


def assert_well_formed(raw: bytes) -> None:
    """CRLF only, no line over 998 octets, encoded headers within 78, body lines within 76, no defects.

    (Only an ASCII word too long for any line is written as it is, on a longer line.)
    """
    assert raw.isascii(), "headers RFC 2047-encoded, bodies transfer-encoded: never raw 8-bit"
    assert re.search(rb"(?<!\r)\n", raw) is None, "bare LF"
    assert re.search(rb"\r(?!\n)", raw) is None, "bare CR"
    head, _, body = raw.partition(b"\r\n\r\n")
    assert max(len(line) for line in head.split(b"\r\n")) <= 998
    assert max((len(line) for line in head.split(b"\r\n") if b"=?" in line), default=0) <= 78
    assert max(len(line) for line in body.split(b"\r\n")) <= 76
    message = parse(raw)
    assert [part.defects for part in message.walk()] == [[], [], []]


def test_chinese_names_and_subject_decode_to_exactly_what_was_given() -> None:
    raw = build(builder(reply_to=Mailbox.parse("客服, Help <help@example.com>")))  # type: ignore[arg-type]
    assert_well_formed(raw)
    message = parse(raw)
    assert message["Subject"] == "王芳，新春快乐"
    assert message["To"].addresses[0].display_name == "王芳"
    assert message["To"].addresses[0].addr_spec == "wang@example.com"
    assert message["From"].addresses[0].display_name == "Acme 客户关怀"
    assert message["Reply-To"].addresses[0].display_name == "客服, Help"
    assert message["Date"].datetime == NOW
    assert message["Message-ID"] == f"<{'a' * 32}.{mail_tag('a' * 32, b'k' * 32)}@example.com>"
    assert message["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_multipart_alternative_text_then_html_both_decode_to_the_original() -> None:
    for html in (HTML, HTML.replace("尊敬的王芳：", "Dear Wang Fang,").replace("领取", "Claim")):
        message = parse(build(html=html))
        assert message.get_content_type() == "multipart/alternative"
        parts = list(message.iter_parts())
        assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
        assert [p.get_content_charset() for p in parts] == ["utf-8", "utf-8"]
        assert content(message, "plain") == TEXT
        assert content(message, "html") == html


def test_mostly_ascii_bodies_stay_quoted_printable_and_chinese_ones_base64() -> None:
    english = "Dear Alice,\n\nWe miss you.\n\nUnsubscribe / 退订: " + UNSUBSCRIBE + "\n"
    chinese = "尊敬的王芳：您好！距离您上次下单已经大约7个月了，说实话，我们真的很想念您。\n"
    message = parse(build(text=english, html=f"<p>{chinese}</p>"))
    encodings = [p["Content-Transfer-Encoding"] for p in message.iter_parts()]
    assert encodings == ["quoted-printable", "base64"]
    assert content(message, "plain") == english and content(message, "html") == f"<p>{chinese}</p>"


def test_cr_and_lf_in_bodies_become_crlf() -> None:
    message = parse(build(text="one\rtwo\r\nthree\n", html="<p>a</p>\r<p>b</p>"))
    assert content(message, "plain") == "one\ntwo\nthree\n"
    assert content(message, "html") == "<p>a</p>\n<p>b</p>"


def test_a_body_quoting_the_boundary_cannot_end_its_part() -> None:
    make = builder()
    boundary = parse(build(make)).get_boundary()
    assert boundary is not None and boundary.startswith("=_")
    sneaky = f"before\n--{boundary}\nContent-Type: text/html\n\n<p>injected</p>\n--{boundary}--\nafter\n"
    message = parse(build(make, text=sneaky, html=sneaky + "<p>中文</p>" * 20))
    assert len(list(message.iter_parts())) == 2
    assert content(message, "plain") == sneaky
    assert content(message, "html") == sneaky + "<p>中文</p>" * 20


def test_every_message_has_its_own_boundary() -> None:
    """One boundary for every mail of an installation is a fingerprint filters key on."""
    make = builder()
    raws = [build(make) for _ in range(50)]
    boundaries = [parse(raw).get_boundary() for raw in raws]
    assert len(set(boundaries)) == len(raws)
    for raw, boundary in zip(raws, boundaries, strict=True):
        assert boundary is not None and re.fullmatch(r"=_edm_[0-9a-f]{24}", boundary)
        assert raw.count(boundary.encode()) == 4  # the header, two part openings, the close
        message = parse(raw)
        assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
        assert content(message, "plain") == TEXT


def test_one_click_unsubscribe_offers_the_https_link_and_the_optional_mailto() -> None:
    message = parse(build(builder(unsubscribe_mailto="unsubscribe@example.com")))
    assert message["List-Unsubscribe"] == (
        f"<{UNSUBSCRIBE}>, <mailto:unsubscribe@example.com?subject=unsubscribe>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_message_id_is_stable_per_outbox_key_and_in_the_senders_domain() -> None:
    key, tag_key, sender = "f" * 64, b"k" * 32, "care@acme.example"
    assert message_id(key, "Acme <care@acme.example>", tag_key) == message_id(key, sender, tag_key)
    assert message_id(key, sender, tag_key) == f"<{'f' * 32}.{mail_tag('f' * 32, tag_key)}@acme.example>"
    assert message_id("0" * 64, sender, tag_key) != message_id(key, sender, tag_key)
    assert message_id(key, sender, b"j" * 32) != message_id(key, sender, tag_key)


def test_date_keeps_its_offset_and_must_be_aware() -> None:
    shanghai = NOW.astimezone(timezone(timedelta(hours=8)))
    make = builder()
    raw = make.build(to=Mailbox("", "a@example.com"), subject="s", text="t", html="h", message_id="<x@y>",
                     unsubscribe_url=UNSUBSCRIBE, date=shanghai)
    assert parse(raw)["Date"] == "Tue, 24 Nov 2026 17:30:05 +0800"
    with pytest.raises(ValueError, match="timezone-aware"):
        make.build(to=Mailbox("", "a@example.com"), subject="s", text="t", html="h", message_id="<x@y>",
                   unsubscribe_url=UNSUBSCRIBE, date=NOW.replace(tzinfo=None))


@pytest.mark.parametrize(
    ("value", "name", "address"),
    [
        ("care@example.com", "", "care@example.com"),
        ("Acme <care@example.com>", "Acme", "care@example.com"),
        ('"Acme, Inc." <care@Example.COM>', "Acme, Inc.", "care@example.com"),
        ("Acme, Inc. <care@example.com>", "Acme, Inc.", "care@example.com"),
        ('"say \\"hi\\"" <a@example.com>', 'say "hi"', "a@example.com"),
        ("张三 <zhang@例子.中国>", "张三", "zhang@xn--fsqu00a.xn--fiqs8s"),
    ],
)
def test_mailbox_parsing(value: str, name: str, address: str) -> None:
    assert Mailbox.parse(value) == Mailbox(name, address)


@pytest.mark.parametrize(
    "value", ["", "no-at-sign", "a b@example.com", "a@b@example.com", "x@example.com>\r\nBcc: v@e.net",
              "用户@example.com", "a..b@example.com", "a@-example.com", "<a@example.com"],
)
def test_what_is_not_a_plain_address_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match=r"address|domain"):
        addr_spec(value)


def test_a_literal_encoded_word_in_a_subject_is_not_decoded_by_the_reader() -> None:
    subject = "Price =?utf-8?b?5L2g5aW9?= today"
    assert parse(build(subject=subject))["Subject"] == subject


def test_long_chinese_subjects_and_names_fold_into_whole_character_encoded_words() -> None:
    subject = "尊敬的客户，感谢您多年来的支持与信任😀" * 4
    name = "深圳市某某计算机系统有限公司华南区客户服务中心"
    raw = build(subject=subject, name=name)
    assert_well_formed(raw)
    assert parse(raw)["Subject"] == subject
    assert display_name(raw, "To") == name
    words = re.findall(rb"=\?utf-8\?b\?([A-Za-z0-9+/=]*)\?=", raw)
    assert len(words) > 4
    for word in words:
        base64.b64decode(word).decode("utf-8")  # each word is whole characters on its own
        assert len(word) + len("=?utf-8?b??=") <= 75


def test_long_ascii_subjects_fold_at_spaces_and_stay_readable() -> None:
    subject = " ".join(["Spring"] * 40)
    header = unstructured("Subject", subject)
    assert "=?" not in header and all(len(line) <= 78 for line in header.split("\r\n"))
    assert parse(build(subject=subject))["Subject"] == subject


# Characters that break naive header writers: line breaks of every kind, NUL, quotes, the
# encoded-word markers, backslashes, long runs with no space to fold at, four-byte emoji.
_TRICKY = st.sampled_from(
    ["\r", "\n", "\r\n", "\x00", "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\t", '"', "\\", "=?", "?=",
     "<", ">", ",", ":", ";", "@", "(", ")", "王", "芳", "é", "😀", " ", "Bcc: x@evil.example", "a" * 90]
)
_VALUES = st.lists(st.one_of(_TRICKY, st.text(max_size=20)), max_size=25).map("".join)


@settings(max_examples=300, deadline=None)
@given(name=_VALUES, subject=_VALUES, from_name=_VALUES)
def test_no_value_can_inject_a_header_and_every_value_reads_back_exactly(
    name: str, subject: str, from_name: str
) -> None:
    make = MessageBuilder(sender=Mailbox(one_line(from_name), "care@example.com"))
    raw = build(make, name=name, subject=subject)
    assert_well_formed(raw)
    message = parse(raw)
    assert set(message.keys()) == EXPECTED_HEADERS and len(message.keys()) == len(EXPECTED_HEADERS)
    assert message["Subject"] == one_line(subject)
    [to] = message["To"].addresses
    assert (display_name(raw, "To"), to.addr_spec) == (one_line(name), "wang@example.com")
    [sender] = message["From"].addresses
    assert (display_name(raw, "From"), sender.addr_spec) == (one_line(from_name), "care@example.com")


@settings(max_examples=150, deadline=None)
@given(text=st.text(), html=st.text())
def test_any_body_reads_back_exactly_with_line_ends_as_crlf(text: str, html: str) -> None:
    raw = build(text=text, html=html)
    assert_well_formed(raw)
    message = parse(raw)

    def expected(body: str) -> str:
        return body.replace("\r\n", "\n").replace("\r", "\n")

    assert content(message, "plain") == expected(text)
    assert content(message, "html") == expected(html)
