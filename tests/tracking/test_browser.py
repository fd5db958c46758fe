"""As a person's mail client would do it: a delivered message's HTML opened in headless Chromium
with images on, its link clicked. Real message (Composer, the shipped win_back template), real
SMTP (aiosmtpd), real tracking server (uvicorn), real browser; the target site is local."""

from __future__ import annotations

import shutil
import smtplib
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.schema import Campaign
from edm.config import SenderSettings
from edm.delivery.compose import Composer
from edm.render import Renderer
from edm.store import Customer, OutboxMessage
from edm.tracking import TrackingLinks
from tests.conftest import SmtpServer
from tests.tracking.conftest import KEY, NOW, OLD_KEY, add_mail, stored_events

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")


class Shop(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>Offer</title><h1>Welcome back</h1>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def shop() -> Iterator[str]:
    """The campaign's landing page, on loopback: no internet needed."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Shop)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/offer?utm_source=edm"
    server.shutdown()
    server.server_close()


def _delivered_html(sessions: sessionmaker[Session], smtp: SmtpServer, base_url: str, offer: str) -> str:
    """Compose the win_back mail for a customer, send it over SMTP, and read back its HTML part."""
    mail = add_mail(sessions, "wang@example.com", sent_at=NOW - timedelta(hours=2))
    campaign = Campaign.model_validate({
        "name": "win_back", "template": "win_back",
        "subject": {"en": "We miss you, {{ greeting_name }}"},
        "params": {"discount": "15%", "offer_code": "BACK15"}, "links": {"offer": offer},
    })
    composer = Composer(Renderer(), TrackingLinks(base_url, [KEY, OLD_KEY]),
                        SenderSettings(from_address="Acme <care@acme.example>"))
    with sessions() as session:
        row, customer = session.get(OutboxMessage, mail.outbox_id), session.get(Customer, mail.customer_id)
        assert row is not None and customer is not None
        composed = composer.compose(row, customer, None, campaign, NOW - timedelta(hours=2))
    with smtplib.SMTP(smtp.host, smtp.port) as client:
        client.sendmail(composed.sender, ["wang@example.com"], composed.data)
    [message] = smtp.handler.to("wang@example.com")
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def _wait_for(sessions: sessionmaker[Session], kind: str) -> int:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        found = [e for e in stored_events(sessions) if e.kind == kind]
        if found:
            return len(found)
        time.sleep(0.1)
    return 0


def test_a_mail_client_opens_the_pixel_and_the_click_lands_on_the_sealed_url(
    sessions: sessionmaker[Session], smtp_server: SmtpServer, base_url: str, shop: str, tmp_path: Path
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    html = _delivered_html(sessions, smtp_server, base_url, shop)
    assert f"{base_url}/o/" in html and f"{base_url}/c/" in html
    page_file = tmp_path / "message.html"
    page_file.write_text(html, encoding="utf-8")

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(page_file.as_uri(), wait_until="load")
            assert page.evaluate("[...document.images].some(i => i.src.includes('/o/') && i.complete)")
            assert _wait_for(sessions, "open") == 1

            with page.expect_navigation(url=shop):
                page.click(f'a[href^="{base_url}/c/"] >> nth=0')
            assert page.url == shop
            assert page.locator("h1").inner_text() == "Welcome back"
        finally:
            browser.close()

    assert _wait_for(sessions, "click") == 1
    events = stored_events(sessions)
    assert sorted(e.kind for e in events) == ["click", "open"]
    assert all(not e.machine for e in events)  # a person reading hours after sending
    [click] = [e for e in events if e.kind == "click"]
    assert click.url == shop and "Chrome" in (click.user_agent or "")
