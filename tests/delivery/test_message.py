from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy

from hypothesis import given
from hypothesis import strategies as st

from edm.delivery.message import build_message, message_id

NOW = datetime(2026, 11, 24, 9, tzinfo=UTC)


def _build(name: str = "王芳", subject: str = "新年快乐", to: str = "wang@example.com") -> bytes:
    message = build_message(
        from_address="Acme 客户关怀 <care@example.com>", to_name=name, to_address=to, subject=subject,
        text="你好", html="<p>你好</p>", message_id=message_id("a" * 64, "care@example.com"),
        unsubscribe_url="https://t.example.com/u/token", date=NOW,
    )
    return message.as_bytes()


def test_message_is_multipart_text_and_html_with_encoded_chinese_headers() -> None:
    raw = _build()
    assert raw.isascii(), "headers must be RFC 2047 encoded, bodies transfer-encoded"
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert parsed["Subject"] == "新年快乐"
    assert parsed["To"].addresses[0].display_name == "王芳"
    assert parsed["From"].addresses[0].display_name == "Acme 客户关怀"
    assert parsed["Message-ID"] == "<" + "a" * 32 + "@example.com>"
    assert parsed["List-Unsubscribe"] == "<https://t.example.com/u/token>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@given(st.text(max_size=40), st.text(max_size=40))
def test_no_value_can_inject_a_header(name: str, subject: str) -> None:
    name = name + "\r\nBcc: victim@example.net"
    subject = subject + "\nX-Injected: yes"
    parsed = email.message_from_bytes(_build(name=name, subject=subject), policy=policy.default)
    assert parsed["Bcc"] is None
    assert parsed["X-Injected"] is None
    assert len(parsed.get_all("To")) == 1
