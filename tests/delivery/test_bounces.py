"""Reading bounces: RFC 3464 reports and the common non-standard ones, from sample files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from edm.delivery.bounces import Bounce, MailReference, Severity, classify, mail_reference, parse_bounce
from edm.delivery.message import message_id

SAMPLES = Path(__file__).parent / "data" / "bounces"
HARD, SOFT = Severity.HARD, Severity.SOFT


def _sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


@pytest.mark.parametrize(("name", "severity", "prefix", "recipient", "status"), [
    ("postfix_user_unknown.eml", HARD, "3f9a1c0e5b7d42e8a6c1f0d9b2e47a15", "wang.li@customer.example.cn",
     "5.1.1"),
    ("postfix_delayed.eml", SOFT, "d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6", "buyer@slow.example.org", "4.4.1"),
    ("gmail_user_unknown.eml", HARD, "8c2d4e6f0a1b3c5d7e9f1a2b3c4d5e6f", "old.friend.1987@gmail.com",
     "5.1.1"),
    ("gmail_over_quota.eml", SOFT, "1a2b3c4d5e6f70819203a4b5c6d7e8f9", "lisa.chen@gmail.com", "5.2.2"),
    ("outlook_not_found.eml", HARD, "c0ffee00c0ffee00c0ffee00c0ffee00", "purchasing@contoso.com", "5.1.10"),
    ("spam_block.eml", SOFT, "ab12ab12ab12ab12ab12ab12ab12ab12", "zhang@bigcorp.example", "5.7.1"),
    ("qmail_plain.eml", HARD, "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "owner@smallshop.example", "5.1.1"),
    ("exim_plain.eml", HARD, "5e5e5e5e1a1a1a1a2b2b2b2b3c3c3c3c", "info@closed-company.example", "5.2.1"),
    ("qq_mailbox_not_found.eml", HARD, "9a8b7c6d5e4f30211203f4e5d6c7b8a9", "chen.jie@qq.com", ""),
    ("netease_163_mailbox_full.eml", SOFT, "7b7b7b7b6a6a6a6a5959595948484848", "liu.yang@163.com", ""),
])
def test_each_sample_names_our_mail_its_recipient_and_how_bad(
    name: str, severity: Severity, prefix: str, recipient: str, status: str
) -> None:
    bounce = parse_bounce(_sample(name))
    assert bounce is not None
    assert (bounce.severity, _prefix(bounce), bounce.recipient, bounce.status) == (
        severity, prefix, recipient, status
    )
    assert bounce.message_id == f"<{prefix}@example.com>"


def test_the_remote_servers_words_are_kept_on_one_line() -> None:
    bounce = parse_bounce(_sample("postfix_user_unknown.eml"))
    assert bounce is not None
    assert bounce.diagnostic == ("550 5.1.1 <wang.li@customer.example.cn>: Recipient address rejected: "
                                 "User unknown in virtual mailbox table")
    assert bounce.reply.startswith("5.1.1 550 5.1.1 <wang.li@")
    assert bounce.arrived_at == datetime(2026, 11, 24, 9, 14, 3, tzinfo=UTC)


def test_a_plain_text_bounce_takes_the_line_with_the_reply() -> None:
    chinese = parse_bounce(_sample("netease_163_mailbox_full.eml"))
    assert chinese is not None
    assert chinese.diagnostic.endswith("552 Requested mail action aborted: exceeded mailbox size limit")
    qq = parse_bounce(_sample("qq_mailbox_not_found.eml"))
    assert qq is not None and qq.diagnostic.endswith("550 Mailbox not found or access denied")


@pytest.mark.parametrize("name", ["delivered_notice.eml", "out_of_office.eml"])
def test_success_notices_and_auto_replies_are_no_bounce(name: str) -> None:
    assert parse_bounce(_sample(name)) is None


def test_a_bounce_about_someone_elses_mail_has_no_key() -> None:
    bounce = parse_bounce(_sample("not_ours.eml"))
    assert bounce is not None and bounce.severity is HARD
    assert _prefix(bounce) is None


def test_ordinary_mail_is_no_bounce() -> None:
    raw = (b"From: Zhao Min <zhao@customer.example>\r\nTo: care@example.com\r\nSubject: Re: price list\r\n"
           b"Message-ID: <x@customer.example>\r\n\r\nCould you send the 550 series prices?\r\n")
    assert parse_bounce(raw) is None


def test_a_complaint_report_is_no_bounce() -> None:
    raw = (b"From: abuse@isp.example\r\nContent-Type: multipart/report; report-type=feedback-report; "
           b"boundary=b\r\n\r\n--b\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\n"
           b"\r\n--b--\r\n")
    assert parse_bounce(raw) is None


def test_threading_headers_find_the_original_when_no_copy_is_attached() -> None:
    raw = (b"From: Mail Delivery System <MAILER-DAEMON@relay.example>\r\nSubject: Undeliverable\r\n"
           b"In-Reply-To: <00112233445566778899aabbccddeeff@example.com>\r\n\r\n"
           b"Delivery to the following recipient failed permanently:\r\n\r\n  gone@old.example\r\n\r\n"
           b"Technical details of permanent failure:\r\n550 5.1.1 user unknown\r\n")
    bounce = parse_bounce(raw)
    assert bounce is not None and bounce.severity is HARD
    assert (_prefix(bounce), bounce.recipient) == ("00112233445566778899aabbccddeeff", "gone@old.example")


def test_a_verp_return_address_finds_the_original() -> None:
    raw = (b"From: MAILER-DAEMON@relay.example\r\n"
           b"To: bounces+00112233445566778899AABBCCDDEEFF@example.com\r\n"
           b"Subject: failure notice\r\n\r\n<gone@old.example>: 550 5.1.1 no such user\r\n")
    bounce = parse_bounce(raw)
    assert bounce is not None and _prefix(bounce) == "00112233445566778899aabbccddeeff"


def test_the_reference_is_what_message_id_wrote_and_only_its_key_proves_it() -> None:
    key = "0123456789abcdef" * 4
    reference = mail_reference(message_id(key, "Care <care@example.com>", b"k" * 32))
    assert reference is not None and reference.prefix == key[:32]
    assert reference.genuine([b"old" * 11, b"k" * 32])  # any configured key: rotation keeps old mail's
    assert not reference.genuine([b"x" * 32])
    assert not MailReference(key[:32], None).genuine([b"k" * 32])  # untagged: anyone could write it
    forged = MailReference(key[:32], "0" * 20)
    assert not forged.genuine([b"k" * 32])


@pytest.mark.parametrize("foreign", [
    "<CAF=hand-written-reply-123@mail.example.com>",
    "<0123456789abcdef0123456789abcde@example.com>",  # 31 digits
    "<0123456789abcdef0123456789abcdef0@example.com>",  # 33 digits
    "<0123456789abcdef0123456789abcdeg@example.com>",
    "<0123456789abcdef0123456789abcdef.0123@example.com>",  # a tag too short
    "<0123456789abcdef0123456789abcdef>",
    "",
])
def test_ids_that_are_not_ours_have_no_reference(foreign: str) -> None:
    assert mail_reference(foreign) is None


@pytest.mark.parametrize(("action", "status", "diagnostic", "expected"), [
    ("failed", "5.1.1", "550 5.1.1 user unknown", HARD),
    ("failed", "5.1.2", "bad destination system address", HARD),
    ("failed", "5.4.4", "unable to route: no such domain", HARD),
    ("failed", "5.0.0", "550 5.1.1 no such user", HARD),  # the diagnostic is more specific
    ("failed", "5.0.0", "550 sorry, no mailbox here", HARD),
    ("failed", "4.2.2", "452 4.2.2 mailbox full", SOFT),
    ("failed", "5.2.2", "552 5.2.2 over quota", SOFT),
    ("failed", "5.3.4", "552 5.3.4 message too big", SOFT),
    ("failed", "5.7.1", "550 5.7.1 rejected as spam", SOFT),
    ("failed", "5.7.26", "550 5.7.26 unauthenticated email is not accepted", SOFT),
    ("failed", "", "550 Mail content denied", SOFT),
    ("failed", "", "550 用户不存在", HARD),
    ("failed", "", "对方邮箱空间不足", SOFT),
    ("delayed", "4.4.1", "connection timed out", SOFT),
    ("failed", "4.4.7", "delivery time expired", SOFT),
    ("delivered", "2.0.0", "250 ok", None),
    ("relayed", "2.0.0", "", None),
])
def test_classification(action: str, status: str, diagnostic: str, expected: Severity | None) -> None:
    assert classify(action, status, diagnostic) == expected


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.binary(max_size=2000))
def test_any_bytes_parse_without_raising(raw: bytes) -> None:
    assert parse_bounce(raw) is None or isinstance(parse_bounce(raw), Bounce)


# Each sample's Content-Type charset: gmail's "UTF-8" at 1001, QQ's "utf-8" at 500, Outlook's
# "us-ascii" at 841. A NUL there once raised `ValueError: embedded null character` from the codecs.
@settings(max_examples=500, deadline=None, derandomize=True)
@given(st.integers(min_value=0, max_value=4300), st.binary(min_size=1, max_size=40))
@example(at=1001, junk=b"\x00")
@example(at=501, junk=b"\x00")
@example(at=843, junk=b"\x00")
@example(at=1003, junk=b"\x00\xff\x00")
def test_damaged_samples_parse_without_raising(at: int, junk: bytes) -> None:
    for name in ("gmail_user_unknown.eml", "qq_mailbox_not_found.eml", "outlook_not_found.eml"):
        raw = _sample(name)
        for damaged in (raw[:at] + junk + raw[at:], raw[:at]):
            assert parse_bounce(damaged) is None or isinstance(parse_bounce(damaged), Bounce)


def _damaged(name: str, old: bytes, new: bytes) -> bytes:
    raw = _sample(name)
    assert raw.count(old) >= 1, old
    return raw.replace(old, new, 1)


@pytest.mark.parametrize(("name", "old", "new"), [
    ("gmail_user_unknown.eml", b'charset="UTF-8"', b'charset="UTF-\x008"'),  # a NUL in the charset name
    ("qq_mailbox_not_found.eml", b'charset="utf-8"', b'charset="\x00"'),
    ("outlook_not_found.eml", b'charset="us-ascii"', b'charset="x-no-such-charset"'),  # unknown codec
    ("gmail_user_unknown.eml", b'charset="UTF-8"', b"charset*=utf-8''%00%00"),  # RFC 2231, NUL encoded
])
def test_a_damaged_charset_still_reads_the_bounce(name: str, old: bytes, new: bytes) -> None:
    expected = parse_bounce(_sample(name))
    assert expected is not None
    bounce = parse_bounce(_damaged(name, old, new))
    assert bounce is not None
    assert (bounce.severity, _prefix(bounce), bounce.recipient) == (
        expected.severity, _prefix(expected), expected.recipient)


@pytest.mark.parametrize("raw", [
    b"From: MAILER-DAEMON\nSubject: Undelivered\nContent-Type: text/plain; charset=\"a\x00b\"\n\n"
    b"550 5.1.1 <gone@example.com> user unknown\n",
    b"From: MAILER-DAEMON\nSubject: Undelivered\nContent-Transfer-Encoding: base64\n\n!!!not*base64===\n",
    b"From: MAILER-DAEMON\nSubject: Undelivered\nContent-Transfer-Encoding: quoted-printable\n\n=ZZ=\n=0",
    b"From: MAILER-DAEMON\nSubject: Undelivered\nContent-Transfer-Encoding: x-uuencode\n\n"
    b"begin 644 x\n\xff\xfe",
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n--b\n"
    b"Content-Type: message/delivery-status\n\nReporting-MTA: dns; x\n\nFinal-Recipient: rfc822; a@",
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n--b\n"
    b"Content-Type: text/rfc822-headers; charset=\"\x00\"\n\nMessage-ID: <x@y>\n--",
    b"Subject: =?x\x00y?B?AAA?=\nFrom: =?unknown?Q?a?= <postmaster@example.com>\n\n5.1.1 user unknown",
])
def test_damaged_messages_are_read_as_far_as_they_go(raw: bytes) -> None:
    bounce = parse_bounce(raw)
    assert bounce is None or isinstance(bounce, Bounce)


def test_a_plain_bounce_with_a_nul_in_its_charset_still_suppresses() -> None:
    raw = (b"From: MAILER-DAEMON@mx.example.net\nSubject: Undelivered Mail\n"
           b"Content-Type: text/plain; charset=\"utf-8\x00\"\n\n"
           b"<gone@example.com>: 550 5.1.1 user unknown\n")
    bounce = parse_bounce(raw)
    assert bounce is not None
    assert (bounce.severity, bounce.recipient, bounce.status) == (HARD, "gone@example.com", "5.1.1")


def _prefix(bounce: Bounce | None) -> str | None:
    return bounce.reference.prefix if bounce is not None and bounce.reference is not None else None
