"""Issue 25: every shipped message reads well whatever the customer's name: no doubled full stops
after a name ending in ".", "。", a quote or a bracket, nothing broken by a 200-character company name.

Each bundled campaign's every message (step × variant) is composed through the real `Composer`
(as `edm.campaigns.check.Checker` and the sender do) in en, zh-Hans and zh-Hant, personalised
and not, for a company and a person with such names; the subject, the text and the html are read.
"""

from __future__ import annotations

import email
import re
import secrets
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edm.campaigns.check import _contents
from edm.campaigns.direct import SampleData
from edm.campaigns.loader import load_campaigns
from edm.campaigns.schema import Campaign
from edm.config import BrandSettings, SenderSettings, Settings, SignupSettings
from edm.delivery.compose import Composer
from edm.delivery.sender import CustomerRow, OutboxRow, ProfileRow
from edm.render import RenderedBody, Renderer
from edm.resources import bundled_config_dir
from edm.signup.mail import ConfirmationMail
from edm.signup.signups import PendingSignup
from edm.tracking import TrackingLinks
from edm.wording import TERMINALS, count, day_range, days, number, sentence_end

NOW = datetime(2027, 1, 20, 2, tzinfo=UTC)
LANGUAGES = ("en", "zh-Hans", "zh-Hant")
LONG = "Pacific Rim Precision Components and Industrial Supplies " * 4
NAMES = [
    "Pacific Rim Components Ltd.",
    "示例贸易有限公司。",
    'Acme "Best Co."',
    "O'Brien & Sons Inc.",
    "「示例貿易」",
    "Hello!",
    (LONG[:199] + ".")[:200],
]
# A sentence ended twice: a full stop (or ! ?) and, after an optional closing quote, another full stop;
# an ellipsis "..." is not one
DOUBLED = re.compile(r"(?<!\.)[.。!?！？]\s?[\"'”’」』)）]?\s?[.。](?!\.)")


class Recorder(Renderer):
    """The sending renderer, keeping every body and subject it rendered."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[RenderedBody] = []
        self.subjects: list[str] = []

    def render(self, template: str, locale: str, context: Mapping[str, Any]) -> RenderedBody:
        body = super().render(template, locale, context)
        self.bodies.append(body)
        return body

    def render_subject(self, source: str, context: Mapping[str, Any], *, name: str = "subject") -> str:
        subject = super().render_subject(source, context, name=name)
        self.subjects.append(subject)
        return subject


@pytest.fixture(scope="module")
def shipped() -> dict[str, Campaign]:
    folder = bundled_config_dir() / "campaigns"
    return {name: loaded.campaign for name, loaded in load_campaigns(folder).items()}


def customers(name: str, language: str) -> Iterator[tuple[CustomerRow, ProfileRow]]:
    """A long-standing key account named `name` whose contact is named `name` too, and a person so named;
    each personalised and not."""
    company = ProfileRow("high", "mature", 24, "paper, ink", NOW - timedelta(days=3 * 365 + 10),
                         NOW - timedelta(days=45), 30.0, NOW - timedelta(days=15))
    person = ProfileRow("low", "new", 1, None, NOW - timedelta(days=5), NOW - timedelta(days=5), None, None)
    for personalised in (True, False):
        yield (CustomerRow(1, name, name, "company", "retail", language, "Sam Wong.", "sam@example.com",
                           personalised), company)
        yield CustomerRow(2, name, None, "person", None, language, None, None, personalised), person


def composed(campaign: Campaign, name: str, language: str) -> Recorder:
    recorder = Recorder()
    composer = Composer(recorder, TrackingLinks("https://t.example.com", [secrets.token_bytes(32)]),
                        SenderSettings(), brand=BrandSettings(company="Example Flow Controls Ltd.",
                                                              signature="Li Wei."))
    for step, variant, _, _, _ in _contents(campaign):
        for customer, profile in customers(name, language):
            row = OutboxRow(0, "key", campaign.name, step, variant, "someone@example.com", NOW.date())
            data = SampleData() if campaign.api else None
            composer.compose(row, customer, profile, campaign, NOW, data=data)
    return recorder


class Markup(HTMLParser):
    """Start and end tags in order; a body's tags must nest."""

    VOID = frozenset({"br", "img", "meta", "hr", "link", "input", "col", "area", "base", "source", "wbr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.broken: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.open or self.open[-1] != tag:
            self.broken.append(f"</{tag}> closes {self.open[-1:] or 'nothing'}")
            return
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def visible(html: str) -> tuple[str, list[str]]:
    parser = Markup()
    parser.feed(html)
    parser.close()
    return " ".join(parser.text), parser.broken + [f"<{tag}> never closed" for tag in parser.open]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", NAMES, ids=lambda name: name[:24])
def test_every_shipped_message_ends_a_sentence_after_a_name_once(
    shipped: dict[str, Campaign], name: str, language: str,
) -> None:
    problems = []
    for campaign in shipped.values():
        recorder = composed(campaign, name, language)
        assert recorder.bodies and recorder.subjects, campaign.name
        for subject in recorder.subjects:
            if DOUBLED.search(subject):
                problems.append(f"{campaign.name} subject: {subject!r}")
        for body in recorder.bodies:
            text, broken = visible(body.html)
            problems += [f"{campaign.name} html: {fault}" for fault in broken]
            for part, words in (("text", body.text), ("html", text)):
                for found in DOUBLED.finditer(words):
                    around = words[found.start() - 40:found.end() + 20]
                    problems.append(f"{campaign.name} {part}: ...{around!r}")
        if campaign.name != "spring_festival_closure":  # a notice to all, named or not
            assert any(name in body.text for body in recorder.bodies), campaign.name  # whole, once named
    assert not problems, "\n".join(dict.fromkeys(problems))


def test_names_are_shown_whole_and_escaped_in_html(shipped: dict[str, Campaign]) -> None:
    name = 'Acme <b>"Best" & Co.</b>'
    recorder = composed(shipped["win_back"], name, "en")
    personal = [body for body in recorder.bodies if name in body.text]
    assert personal
    for body in personal:
        assert "<b>" not in body.html.replace("<b>Is", "")  # the name's tags are text, not markup
        assert "Acme &lt;b&gt;" in body.html
        assert not visible(body.html)[1]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", NAMES, ids=lambda name: name[:24])
def test_the_sign_up_confirmation_ends_a_sentence_after_the_company_once(name: str, language: str) -> None:
    settings = Settings(sender=SenderSettings(from_address="Care <care@example.com>"),
                        brand=BrandSettings(company={"en": name, "zh-Hans": name, "zh-Hant": name}),
                        signup=SignupSettings(enabled=True))
    mail = ConfirmationMail(settings, [secrets.token_bytes(32)])
    outgoing = mail.compose(PendingSignup(1, "ada@example.com", name, language, "n", ("news",), NOW), NOW)
    message = email.message_from_bytes(outgoing.data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    text, html = (message.get_body((kind,)) for kind in ("plain", "html"))
    assert isinstance(text, EmailMessage) and isinstance(html, EmailMessage)
    shown, broken = visible(html.get_content())
    assert not broken
    for words in (str(message["Subject"]), text.get_content(), shown):
        assert not DOUBLED.search(words), words


# --- the filter and the number words -------------------------------------------------------


@pytest.mark.parametrize(("name", "mark", "expected"), [
    ("Acme", ".", "Acme."),
    ("Acme Ltd.", ".", "Acme Ltd."),
    ("Acme Ltd.  ", ".", "Acme Ltd."),
    ("示例公司", "。", "示例公司。"),
    ("示例公司。", "。", "示例公司。"),
    ("Acme Ltd.", "。", "Acme Ltd."),
    ('Acme "Best Co."', ".", 'Acme "Best Co."'),
    ('Acme "Best"', ".", 'Acme "Best".'),
    ("「示例貿易。」", "。", "「示例貿易。」"),
    ("「示例貿易」", "。", "「示例貿易」。"),
    ("Yahoo!", ".", "Yahoo!"),
    ("What?", "。", "What?"),
    ("", ".", ""),
])
def test_sentence_end_adds_the_mark_only_where_the_name_does_not_end_a_sentence(
    name: str, mark: str, expected: str,
) -> None:
    assert sentence_end(name, mark) == expected


@given(st.text(max_size=80), st.sampled_from([".", "。"]))
def test_sentence_end_never_doubles_a_full_stop_and_never_drops_the_name(name: str, mark: str) -> None:
    ended = sentence_end(name, mark)
    assert ended.startswith(name.rstrip())
    assert len(ended) - len(name.rstrip()) <= 1
    if name.strip():
        assert ended[-1] in TERMINALS or ended.rstrip("\"'”’»」』)）]】〉》")[-1:] in TERMINALS
    for stop in ".。":
        assert not ended.endswith(stop + mark) or name.rstrip().endswith(stop + mark)


@pytest.mark.parametrize(("value", "unit", "digits", "expected"), [
    (1, "order", 0, "1 order"),
    (0, "order", 0, "0 orders"),
    (2, "order", 0, "2 orders"),
    (1.04, "order", 1, "1 order"),
    (1.5, "order", 1, "1.5 orders"),
    (12500, "customer", 0, "12,500 customers"),
    (float("nan"), "order", 1, "unknown orders"),
])
def test_counts_read_as_english(value: float, unit: str, digits: int, expected: str) -> None:
    assert count(value, unit, digits=digits) == expected


def test_days_have_one_decimal_and_ranges_an_en_dash() -> None:
    assert days(32.81) == "32.8 days"
    assert days(1) == "1 day"
    assert days(1.0) == "1 day"
    assert day_range(3.5, 32.81) == "3.5–32.8 days"
    assert day_range(7, 7.01) == "7 days"
    assert number(1234567.891) == "1,234,567.89"
    assert number(-0.001) == "0"
