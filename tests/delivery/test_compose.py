"""Row + customer + campaign -> the bytes that go on the wire: real templates, real links, real parser."""

from __future__ import annotations

import email
import re
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from edm.campaigns.schema import Campaign
from edm.config import BrandSettings, SenderSettings
from edm.delivery.compose import Composed, Composer
from edm.delivery.message import mail_tag
from edm.errors import ConfigError, TemplateError
from edm.render import Renderer
from edm.store import Customer, CustomerProfile, OutboxMessage
from edm.tracking import TrackingLinks

NOW = datetime(2026, 11, 24, 9, tzinfo=UTC)
LINKS = TrackingLinks("https://t.acme.example", [b"k" * 32])
WIN_BACK = Campaign.model_validate(
    {
        "name": "win_back",
        "template": "win_back",
        "subject": {"en": "We miss you, {{ greeting_name }}", "zh": "{{ greeting_name }}，我们想念您"},
        "params": {"discount": "15%", "offer_code": "BACK15"},
        "links": {"offer": "https://www.acme.example/offer"},
    }
)


def customer(locale: str = "zh-CN", contact: str | None = "王芳") -> Customer:
    return Customer(
        id=7,
        external_id="C7",
        name="深圳某某贸易有限公司",
        contact_name=contact,
        email="wang@example.com",
        kind="company",
        locale=locale,
        timezone="Asia/Shanghai",
        created_at=NOW,
    )


def profile() -> CustomerProfile:
    return CustomerProfile(
        customer_id=7,
        value_tier="high",
        lifecycle_stage="churned",
        order_count=4,
        last_order_at=datetime(2026, 3, 1, tzinfo=UTC),
    )


def row(key: str = "f" * 64, to: str = "wang@example.com") -> OutboxMessage:
    return OutboxMessage(
        id=42,
        key=key,
        campaign="win_back",
        step=0,
        customer_id=7,
        occurrence=NOW.date(),
        to_address=to,
        variant=None,
    )


def compose(
    sender: SenderSettings | None = None,
    *,
    renderer: Renderer | None = None,
    campaign: Campaign = WIN_BACK,
    locale: str = "zh-CN",
    to: str = "wang@example.com",
) -> Composed:
    composer = Composer(
        renderer or Renderer(),
        LINKS,
        sender or SenderSettings(from_address="Acme 客户关怀 <care@acme.example>"),
    )
    return composer.compose(row(to=to), customer(locale), profile(), campaign, NOW)


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def body(message: EmailMessage, kind: str) -> str:
    part = message.get_body((kind,))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def test_a_chinese_customer_gets_a_complete_personal_message() -> None:
    composed = compose()
    assert (composed.sender, composed.subject, composed.language) == (
        "care@acme.example",
        "王芳，我们想念您",
        "zh-Hans",  # the template's language; the campaign's legacy `zh` subject is read as Simplified
    )
    message = parse(composed.data)
    assert message["Subject"] == "王芳，我们想念您"
    assert message["To"].addresses[0].display_name == "王芳"
    assert message["From"].addresses[0].display_name == "Acme 客户关怀"
    assert message["Message-ID"] == f"<{'f' * 32}.{mail_tag('f' * 32, LINKS.key)}@acme.example>"
    assert message["Date"].datetime == NOW
    unsubscribe = LINKS.unsubscribe_url(42, 7)
    assert message["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html, text = body(message, "html"), body(message, "plain")
    assert "王芳" in html and "BACK15" in html and unsubscribe in html and LINKS.open_url(42, 7) in html
    assert "王芳" in text and LINKS.click_url(42, 7, "https://www.acme.example/offer") in text


def test_the_same_row_always_carries_the_same_message_id() -> None:
    first, again = parse(compose().data), parse(compose().data)
    assert first["Message-ID"] == again["Message-ID"]
    other = Composer(Renderer(), LINKS, SenderSettings()).compose(
        row(key="0" * 64), customer(), profile(), WIN_BACK, NOW
    )
    assert parse(other.data)["Message-ID"] != first["Message-ID"]


def test_return_path_reply_to_and_mailto_unsubscribe_come_from_the_settings() -> None:
    sender = SenderSettings(
        from_address="Acme <care@acme.example>",
        reply_to="Help Desk <help@acme.example>",
        return_path="bounces@bounce.acme.example",
        unsubscribe_mailto="unsub@acme.example",
    )
    composed = compose(sender, locale="en")
    message = parse(composed.data)
    assert composed.sender == "bounces@bounce.acme.example"  # the envelope, where bounces go
    assert message["From"].addresses[0].addr_spec == "care@acme.example"
    assert message["Reply-To"].addresses[0].display_name == "Help Desk"
    assert message["List-Unsubscribe"] == (
        f"<{LINKS.unsubscribe_url(42, 7)}>, <mailto:unsub@acme.example?subject=unsubscribe>"
    )


@pytest.mark.parametrize("setting", ["from_address", "reply_to", "return_path", "unsubscribe_mailto"])
def test_an_address_setting_that_is_not_an_address_is_a_config_error(setting: str) -> None:
    with pytest.raises(ConfigError, match=f"sender.{setting}"):
        Composer(Renderer(), LINKS, SenderSettings(**{setting: "Acme care at acme"}))


def test_a_row_whose_address_cannot_be_written_fails_as_that_row_only() -> None:
    with pytest.raises(TemplateError, match="cannot address the message"):
        compose(to="wang@example.com\r\nBcc: victim@example.net")


def test_dkim_signs_when_configured_and_the_from_domain_is_the_signing_domain() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    sender = SenderSettings(
        from_address="Acme <care@acme.example>", dkim_selector="s1", dkim_private_key=SecretStr(pem)
    )
    message = parse(compose(sender).data)
    assert message["DKIM-Signature"] is not None
    assert " d=acme.example;" in str(message["DKIM-Signature"])
    assert parse(compose().data)["DKIM-Signature"] is None


HTML_ONLY = """<!DOCTYPE html>
<html><head><style>
p { color: #123456; margin: 0 0 8px; }
.note { font-size: 12px; }
</style></head>
<body><p>Dear {{ greeting_name }},</p><p class="note">We miss you.</p>
<p><a href="{{ link('offer') }}">Your offer</a></p>
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>
"""


def test_an_html_only_template_gets_a_derived_text_part_and_its_css_inlined(tmp_path: Path) -> None:
    (tmp_path / "win_back").mkdir()
    (tmp_path / "win_back" / "en.html.j2").write_text(HTML_ONLY, encoding="utf-8")
    composed = compose(renderer=Renderer(tmp_path), locale="en")
    message = parse(composed.data)
    html, text = body(message, "html"), body(message, "plain")
    assert "<style" not in html
    styles = dict(re.findall(r'<p (?:class="note" )?style="([^"]*)">([^<]*)</p>', html)[:2])
    assert {words: style.replace(" ", "").rstrip(";") for style, words in styles.items()} == {
        "Dear 王芳,": "color:#123456;margin:008px",
        "We miss you.": "color:#123456;margin:008px;font-size:12px",
    }
    offer = LINKS.click_url(42, 7, "https://www.acme.example/offer")
    lines = [line for line in text.splitlines() if line]
    assert lines[:3] == ["Dear 王芳,", "We miss you.", f"[Your offer]({offer})"]
    assert LINKS.unsubscribe_url(42, 7) in text and "color" not in text


def test_a_shipped_hand_written_text_part_wins_over_a_derived_one() -> None:
    text = body(parse(compose(locale="en").data), "plain")
    assert text.startswith("Dear 王芳,\n\nIt has been")  # en.txt.j2's wording, not the html's layout
    assert "](" not in text


def test_a_campaign_in_the_account_managers_name_signs_and_replies_as_them() -> None:
    campaign = Campaign.model_validate({
        "name": "key_account_greeting", "template": "key_account_greeting", "sender": "account_manager",
        "subject": {"en": "Thank you, {{ greeting_name }}", "zh": "{{ greeting_name }}，感谢这一年的信任"},
    })
    composer = Composer(Renderer(), LINKS, SenderSettings(from_address="Acme <care@acme.example>",
                                                          reply_to="Service <service@acme.example>"))
    managed = customer()
    managed.account_manager, managed.account_manager_email = "李雷", "li.lei@acme.example"
    message = parse(composer.compose(row(), managed, profile(), campaign, NOW).data)
    assert message["From"].addresses[0].display_name == "李雷"
    assert message["From"].addresses[0].addr_spec == "care@acme.example"  # our domain: DMARC aligned
    assert str(message["Reply-To"]) == "李雷 <li.lei@acme.example>"
    # signed by them
    assert "敬礼\n李雷" in body(message, "plain") and "<br>李雷</p>" in body(message, "html")

    unmanaged = parse(composer.compose(row(), customer(), profile(), campaign, NOW).data)
    assert str(unmanaged["From"]) == "Acme <care@acme.example>"
    assert str(unmanaged["Reply-To"]) == "Service <service@acme.example>"
    # a campaign with the default sender ignores the manager
    default = parse(composer.compose(row(), managed, profile(), WIN_BACK, NOW).data)
    assert str(default["From"]) == "Acme <care@acme.example>"


BRAND = BrandSettings(company={"en": "Acme Trading", "zh-Hans": "艾克米贸易"},
                      postal_address="1 Acme Road, Shenzhen", signature={"zh-Hans": "{company} 售后服务部"})


@pytest.mark.parametrize(
    ("locale", "params", "signed"),
    [
        ("zh-CN", {}, "艾克米贸易 售后服务部"),  # the brand's own, in the message's language
        ("en-US", {}, "Acme Trading Customer Service"),  # no English one set: the default, in English
        ("zh-TW", {}, "艾克米贸易 售后服务部"),  # Traditional falls back to Simplified, as templates do
        ("zh-CN", {"signature": "{company} 王经理"}, "艾克米贸易 王经理"),  # the campaign's
        ("en-US", {"signature": "Wang Fang", "signature.zh-Hans": "王芳"}, "Wang Fang"),
        ("zh-CN", {"signature": "Wang Fang", "signature.zh-Hans": "王芳"}, "王芳"),  # per language first
    ],
)
def test_mail_is_signed_in_its_language_by_the_brand_or_the_campaign(
    locale: str, params: dict[str, str], signed: str
) -> None:
    campaign = WIN_BACK.model_copy(update={"params": {**WIN_BACK.params, **params}})
    sender = SenderSettings(from_address="Customer Care <care@acme.example>")
    composer = Composer(Renderer(), LINKS, sender, brand=BRAND)
    message = parse(composer.compose(row(), customer(locale), profile(), campaign, NOW).data)
    for kind in ("plain", "html"):
        text = body(message, kind)
        assert signed in text and "1 Acme Road, Shenzhen" in text
        assert "Customer Care" not in text  # the From name is not the signature
