"""Issue 25, point 5: the pages people open from our mail are touch-friendly. Every button, tick box
(its label) and link acting as a button is at least 44 x 44 CSS px, and nothing is wider than the
screen, on a 390 px phone and at 1280 px; the mail's 0-10 survey scale wraps into two rows (0-5,
6-10) on the phone. Real mail (Composer, shipped templates), real signed links, the real tracking
server (uvicorn) with sign-up, and Chromium with JavaScript off: every form works without it.
Screenshots go to build/test-artifacts (tests/conftest.py `screenshots`)."""

from __future__ import annotations

import email
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from email import policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.schema import Campaign
from edm.clock import FixedClock
from edm.config import DEFAULT_TOPICS, SenderSettings
from edm.delivery.compose import Composer
from edm.delivery.sink import free_port
from edm.render import Renderer
from edm.signup.routes import signup_routes
from edm.store import Customer, OutboxMessage
from edm.tracking import TrackingLinks, create_tracking_app, serve_in_background
from tests.conftest import SmtpServer, screenshot
from tests.signup.conftest import settings_for
from tests.tracking.conftest import KEY, NOW, Mail, add_mail

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")

VIEWPORTS = {"phone": (390, 844), "desktop": (1280, 800)}
LONG_EMAIL = "wang.fang.purchasing.department.shanghai@example-trading-company.com.cn"
CONFIRM_LINK = re.compile(r"https?://[^\s\"<>]+/signup/confirm/[A-Za-z0-9_.-]+")

# What a finger presses: links, buttons, fields; a tick box's target is its label when it has one.
# Labels of text fields are not targets (the field is), nor is anything hidden from people (the
# sign-up's honeypot). Returns the targets under 44 x 44, how many there were, and what sticks out.
MEASURE = """(selector) => {
  const root = document.documentElement;
  const seen = new Set();
  const small = [];
  for (const element of document.querySelectorAll(selector)) {
    if (element.closest('[aria-hidden="true"]')) continue;
    let target = element;
    if (element.matches('input[type=checkbox], input[type=radio]')) {
      target = element.closest('label') || element;
    }
    if (seen.has(target)) continue;
    const box = target.getBoundingClientRect();
    if (box.width === 0 || getComputedStyle(target).visibility === 'hidden') continue;
    seen.add(target);
    if (box.width < 44 || box.height < 44) {
      small.push(`${target.outerHTML.slice(0, 90)} ${box.width.toFixed(1)}x${box.height.toFixed(1)}`);
    }
  }
  const wide = [...document.body.querySelectorAll('*')]
    .filter(e => !e.closest('[aria-hidden="true"]'))
    .filter(e => e.getBoundingClientRect().right > root.clientWidth + 0.5)
    .map(e => e.outerHTML.slice(0, 90));
  return {small, targets: seen.size, scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, wide};
}"""
PAGE_TARGETS = "a[href], button, input:not([type=hidden]), select, textarea"
SCALE_TARGETS = 'a[href*="/s/"]'  # in the mail: its footer's links are links in running text


@dataclass(frozen=True)
class Browser:
    """A Chromium page at one viewport, JavaScript off, saving a screenshot of each page it checks."""

    page: Any
    viewport: str
    shots: Path

    def check(self, name: str, selector: str = PAGE_TARGETS, *, targets: int = 1) -> None:
        """Every target on the page is 44 x 44 or more, there are at least `targets`, none too wide."""
        screenshot(self.page, self.shots / f"{name}-{self.viewport}.png")
        found = self.page.evaluate(MEASURE, selector)
        assert found["small"] == [], f"{name} at {self.viewport}: targets under 44 x 44"
        assert found["targets"] >= targets, f"{name} at {self.viewport}: {found['targets']} targets"
        assert found["scrollWidth"] <= found["clientWidth"], f"{name} at {self.viewport}: {found['wide']}"
        assert found["wide"] == []


@pytest.fixture(params=list(VIEWPORTS))
def browser(request: pytest.FixtureRequest, screenshots: Path) -> Iterator[Browser]:
    sync_api = pytest.importorskip("playwright.sync_api")
    width, height = VIEWPORTS[request.param]
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            phone = request.param == "phone"
            context = chromium.new_context(viewport={"width": width, "height": height},
                                           java_script_enabled=False, is_mobile=phone, has_touch=phone)
            yield Browser(context.new_page(), request.param, screenshots)
        finally:
            chromium.close()


@pytest.fixture
def site(
    sessions: sessionmaker[Session], clock: FixedClock, smtp_server: SmtpServer
) -> Iterator[TrackingLinks]:
    """The tracking server with the default topics and the sign-up, its confirmations to `smtp_server`."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = settings_for(url, smtp_server.port)
    app = create_tracking_app(sessions, [KEY], clock, settings.tracking, topics=DEFAULT_TOPICS,
                              signup=signup_routes(sessions, [KEY], clock, settings))
    with serve_in_background(app, port=port):
        yield TrackingLinks(url, [KEY])


def survey_mail(sessions: sessionmaker[Session], links: TrackingLinks, mail: Mail, template: str) -> str:
    """The HTML part of the shipped survey mail `template` as composed for `mail`."""
    campaign = Campaign.model_validate(
        {"name": template, "template": template, "subject": {"en": "One question"}})
    composer = Composer(Renderer(), links, SenderSettings(from_address="Acme <care@acme.example>"))
    with sessions() as session:
        row, customer = session.get(OutboxMessage, mail.outbox_id), session.get(Customer, mail.customer_id)
        assert row is not None and customer is not None
        composed = composer.compose(row, customer, None, campaign, NOW - timedelta(hours=1))
    message = email.message_from_bytes(composed.data, policy=policy.default)
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def boxes(browser: Browser, selector: str) -> list[dict[str, float]]:
    found: list[dict[str, float]] = browser.page.eval_on_selector_all(
        selector, "els => els.map(e => { const b = e.getBoundingClientRect();"
                  " return {left: b.left, right: b.right, top: b.top, bottom: b.bottom}; })")
    return found


def test_the_nps_scale_in_the_mail_wraps_into_two_rows_on_a_phone_and_answers_with_a_tap(
    sessions: sessionmaker[Session], site: TrackingLinks, browser: Browser, tmp_path: Path
) -> None:
    mail = add_mail(sessions, LONG_EMAIL)
    message = tmp_path / "nps.html"
    message.write_text(survey_mail(sessions, site, mail, "nps_survey"), encoding="utf-8")
    browser.page.goto(message.as_uri())
    browser.check("nps-mail", SCALE_TARGETS, targets=11)

    numbers = boxes(browser, SCALE_TARGETS)
    assert browser.page.locator(SCALE_TARGETS).all_inner_texts() == [str(score) for score in range(11)]
    rows = sorted({round(box["top"]) for box in numbers})
    if browser.viewport == "phone":  # 0-5 above 6-10, each row starting at the left
        assert len(rows) == 2
        assert [round(box["top"]) for box in numbers] == [rows[0]] * 6 + [rows[1]] * 5
        assert round(numbers[0]["left"]) == round(numbers[6]["left"])
    else:
        assert len(rows) == 1
    # the ends' labels: "not at all" under 0 (left-aligned), "extremely" under 10 (right-aligned)
    low, high = (browser.page.get_by_text(label, exact=True).bounding_box()
                 for label in ("Not at all likely", "Extremely likely"))
    assert low is not None and high is not None
    assert abs(low["x"] - numbers[0]["left"]) < 4 and low["y"] >= numbers[0]["bottom"]
    assert abs(high["x"] + high["width"] - numbers[10]["right"]) < 4 and high["y"] >= numbers[10]["bottom"]

    browser.page.get_by_role("link", name="8", exact=True).click()
    assert browser.page.get_by_text("you answered 8").is_visible()
    browser.check("survey-thanks", targets=2)  # the comment box and Send
    browser.page.fill("#comment", "Faster delivery, please.")
    browser.page.get_by_role("button", name="Send").click()
    assert browser.page.get_by_text("We have your comment").is_visible()
    browser.check("survey-commented", targets=0)


def test_the_csat_scale_stays_on_one_row(
    sessions: sessionmaker[Session], site: TrackingLinks, browser: Browser, tmp_path: Path
) -> None:
    message = tmp_path / "csat.html"
    message.write_text(survey_mail(sessions, site, add_mail(sessions), "csat_survey"), encoding="utf-8")
    browser.page.goto(message.as_uri())
    browser.check("csat-mail", SCALE_TARGETS, targets=5)
    assert len({round(box["top"]) for box in boxes(browser, SCALE_TARGETS)}) == 1


def test_a_scanner_looking_click_gets_a_confirm_button_big_enough_to_tap(
    sessions: sessionmaker[Session], site: TrackingLinks, browser: Browser
) -> None:
    mail = add_mail(sessions, sent_at=NOW - timedelta(seconds=3))  # seconds after sending: a scanner's
    browser.page.goto(site.survey_url(mail.outbox_id, mail.customer_id, "nps", 9))
    browser.check("survey-confirm")
    browser.page.get_by_role("button", name="Yes, my answer is 9").click()
    assert browser.page.get_by_text("you answered 9").is_visible()


@pytest.mark.parametrize(("locale", "everything"), [("en", "Unsubscribe from everything"),
                                                    ("zh-CN", "退订全部邮件"), ("zh-TW", "取消訂閱全部郵件")])
def test_the_unsubscribe_page_and_its_answers_are_easy_to_tap(
    sessions: sessionmaker[Session], site: TrackingLinks, browser: Browser, locale: str, everything: str
) -> None:
    mail = add_mail(sessions, LONG_EMAIL, locale=locale)
    url = site.unsubscribe_url(mail.outbox_id, mail.customer_id, "offers")
    browser.page.goto(url)
    browser.check(f"unsubscribe-{locale}", targets=9)  # everything, 2 pauses, less, 4 topics, personal, save
    browser.page.get_by_role("button", name=everything).click()
    browser.check(f"unsubscribed-{locale}", targets=0)


def test_each_preference_answer_page_fits_the_screen(
    sessions: sessionmaker[Session], site: TrackingLinks, browser: Browser
) -> None:
    for name, press in [("paused", "Pause for 30 days"), ("less", "Send me less email"),
                        ("choices", "Save my choices")]:
        mail = add_mail(sessions, f"{name}.{LONG_EMAIL}")
        browser.page.goto(site.unsubscribe_url(mail.outbox_id, mail.customer_id))
        if name == "choices":
            browser.page.get_by_label("Offers and promotions").uncheck()  # pressing the label's text
        browser.page.get_by_role("button", name=press).click()
        assert browser.page.locator("h1").inner_text() == "Preferences saved"
        browser.check(f"saved-{name}", targets=0)


def test_the_sign_up_form_its_answers_and_its_confirmation_are_easy_to_tap(
    site: TrackingLinks, clock: FixedClock, browser: Browser, smtp_server: SmtpServer
) -> None:
    base = site.unsubscribe_url(1, 1).split("/u/")[0]
    for lang in ("zh-Hans", "zh-Hant"):
        browser.page.goto(f"{base}/signup?lang={lang}")
        browser.check(f"signup-{lang}", targets=7)  # 2 language links, email, name, 3 topics, sign up
    browser.page.goto(f"{base}/signup?lang=en")
    browser.check("signup-en", targets=8)
    for topic in ("News", "Offers", "Greetings"):  # none chosen: the form comes back with an error
        browser.page.get_by_text(topic, exact=True).click()
    browser.page.fill("#edm-email", LONG_EMAIL)
    clock.advance(timedelta(seconds=5))
    browser.page.get_by_role("button", name="Sign up").click()
    assert browser.page.get_by_text("Please choose at least one.").is_visible()
    browser.check("signup-error", targets=8)

    browser.page.get_by_text("Offers", exact=True).click()
    clock.advance(timedelta(seconds=5))
    browser.page.get_by_role("button", name="Sign up").click()
    assert browser.page.locator("h1").inner_text() == "Check your inbox"
    browser.check("signup-sent", targets=0)

    link = CONFIRM_LINK.search(_mail_text(smtp_server, LONG_EMAIL))
    assert link is not None
    browser.page.goto(link.group(0))
    browser.check("signup-confirm")
    browser.page.get_by_role("button", name="Confirm").click()
    assert browser.page.locator("h1").inner_text() == "Thank you"

    browser.page.goto(f"{base}/signup/confirm/not-a-token")
    browser.check("signup-invalid")  # "Sign up again": a link acting as a button
    browser.page.get_by_role("link", name="Sign up again").click()
    assert browser.page.locator("h1").inner_text() == "Sign up"


def _mail_text(smtp: SmtpServer, address: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while not smtp.handler.to(address):
        assert time.monotonic() < deadline, f"no mail to {address}"
        time.sleep(0.05)
    body = smtp.handler.to(address)[0].get_body(("plain",))
    assert body is not None
    return str(body.get_content())
