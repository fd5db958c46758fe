"""`survey('nps')` in a template: a row of signed links, one per score, read back as the server reads them."""

from __future__ import annotations

import email
import re
import shutil
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from html import unescape
from pathlib import Path

import pytest

from edm.campaigns.schema import Campaign
from edm.config import SenderSettings
from edm.delivery.compose import Composer
from edm.errors import TemplateError
from edm.render import Renderer
from edm.resources import templates_dir
from edm.store import Customer, OutboxMessage
from edm.surveys.scores import Survey
from edm.tracking import SurveyLink, TrackingLinks, read_survey_token

NOW = datetime(2026, 11, 24, 9, tzinfo=UTC)
KEYS = [b"k" * 32]
LINKS = TrackingLinks("https://t.acme.example", KEYS)
SURVEY_HTML = """<html><body><p>How likely are you to recommend us?</p>
{% import "macros.html.j2" as m %}
{{ m.survey_scale(survey(kind), "Not at all", "Very likely") }}
</body></html>
"""


def compose(tmp_path: Path, kind: str) -> EmailMessage:
    shutil.copy(templates_dir() / "macros.html.j2", tmp_path / "macros.html.j2")
    (tmp_path / "survey_mail").mkdir(exist_ok=True)
    (tmp_path / "survey_mail" / "en.html.j2").write_text(SURVEY_HTML.replace("kind", repr(kind)), "utf-8")
    campaign = Campaign.model_validate(
        {"name": "satisfaction", "template": "survey_mail", "subject": {"en": "How did we do?"}}
    )
    customer = Customer(id=7, external_id="C7", name="Acme", email="wang@example.com", kind="person",
                        locale="en", timezone="UTC", created_at=NOW)
    row = OutboxMessage(id=42, key="f" * 64, campaign="satisfaction", step=0, customer_id=7,
                        occurrence=NOW.date(), to_address="wang@example.com", variant=None)
    composer = Composer(Renderer(tmp_path), LINKS, SenderSettings(from_address="Acme <care@acme.example>"))
    composed = composer.compose(row, customer, None, campaign, NOW)
    message = email.message_from_bytes(composed.data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def survey_links(message: EmailMessage) -> list[tuple[str, str]]:
    """(shown number, href) of every survey link in the html part."""
    part = message.get_body(("html",))
    assert part is not None
    html = str(part.get_content())
    return [(shown, unescape(href)) for href, shown in
            re.findall(r'<a href="(https://t\.acme\.example/s/[^"]+)"[^>]*>(\d+)</a>', html)]


@pytest.mark.parametrize(("kind", "scale"), [("nps", range(0, 11)), ("csat", range(1, 6))])
def test_the_survey_row_links_each_score_to_a_token_carrying_it(
    tmp_path: Path, kind: Survey, scale: range
) -> None:
    found = survey_links(compose(tmp_path, kind))

    assert [int(shown) for shown, _ in found] == list(scale)
    for shown, url in found:
        token = url.rsplit("/", 1)[1]
        assert read_survey_token(token, KEYS) == SurveyLink(42, 7, kind, int(shown))
        assert read_survey_token(token, [b"another-key"]) is None


def test_an_unknown_survey_is_a_template_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="no survey 'bogus'"):
        compose(tmp_path, "bogus")
