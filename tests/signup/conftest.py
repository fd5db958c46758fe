"""The sign-up tests' world: the tracking server with /signup on loopback (uvicorn), a real aiosmtpd relay
that records what it receives (and may be told to refuse), a SQLite file, and a clock the test moves."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from edm.clock import FixedClock
from edm.config import BrandSettings, SenderSettings, Settings, SignupSettings, SmtpSettings, TrackingSettings
from edm.delivery.sink import free_port
from edm.signup.routes import signup_routes
from edm.store import Consent, ConsentHistory, Customer, Signup
from edm.tracking import create_tracking_app, serve_in_background
from tests.conftest import SECRET_KEY, RecordingHandler

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
KEY = SECRET_KEY.encode()
TOPICS = {
    "news": {"en": "News", "zh-Hans": "新闻", "zh-Hant": "新聞"},
    "offers": {"en": "Offers", "zh-Hans": "优惠", "zh-Hant": "優惠"},
    "greetings": {"en": "Greetings", "zh-Hans": "节日问候", "zh-Hant": "節日問候"},
}
AGENT = "Mozilla/5.0 (test browser)"


class Relay(RecordingHandler):
    """Records each recipient offered (accepted or refused) as well as each message accepted."""

    def __init__(self) -> None:
        super().__init__()
        self.offered: list[str] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        self.offered.append(address)
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


@dataclass
class Site:
    url: str
    clock: FixedClock
    settings: Settings
    sessions: sessionmaker[Session]
    relay: Relay
    http: httpx.Client

    def form(self, lang: str = "en") -> str:
        """The hosted form's signed token, as a browser would get it."""
        page = self.http.get(f"{self.url}/signup", params={"lang": lang})
        assert page.status_code == 200, page.text
        found = re.search(r'name="issued" value="([^"]+)"', page.text)
        assert found is not None, page.text
        return found.group(1)

    def sign_up(self, email: str = "li.na@example.com", *, lang: str = "en", wait: float = 3.0,
                **fields: Any) -> httpx.Response:
        """Fill the hosted form in `wait` seconds (by the server's clock) and send it."""
        token = self.form(lang)
        self.clock.advance(timedelta(seconds=wait))
        data: dict[str, Any] = {"form": "hosted", "issued": token, "lang": lang, "email": email, "name": "",
                                "website": "", "topic": ["news", "greetings"]}
        data.update(fields)
        return self.post(data)

    def post(self, data: dict[str, Any], path: str = "/signup") -> httpx.Response:
        return self.http.post(f"{self.url}{path}", data=data, headers={"User-Agent": AGENT})

    def mail_to(self, address: str, count: int = 1, timeout: float = 10.0) -> list[EmailMessage]:
        """The messages the relay accepted for `address`, once there are `count` of them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.relay.to(address)
            if len(found) >= count and self._recorded(address):
                return found
            time.sleep(0.02)
        raise AssertionError(f"{count} mail(s) to {address} expected, got {len(self.relay.to(address))}")

    def _recorded(self, address: str) -> bool:
        """Whether the sender recorded the relay's answers for `address` (after the relay replied)."""
        with self.sessions() as session:
            waiting = session.scalar(select(func.count()).select_from(Signup).where(
                Signup.email == address, Signup.state == "pending", Signup.mailed_at.is_(None)))
        return not waiting

    def offered_to(self, address: str, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until the relay was offered `count` mails for `address` (accepted or refused)."""
        deadline = time.monotonic() + timeout
        while self.relay.offered.count(address) < count:
            assert time.monotonic() < deadline, f"no mail offered to {address}"
            time.sleep(0.02)
        time.sleep(0.2)  # the sender records the answer after the relay gave it

    def rows(self) -> dict[str, int]:
        """How many rows each table touched by a sign-up holds."""
        with self.sessions() as session:
            return {model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
                    for model in (Signup, Consent, ConsentHistory, Customer)}

    def signups(self) -> list[Signup]:
        with self.sessions() as session:
            return list(session.scalars(select(Signup).order_by(Signup.id)))


def settings_for(url: str, relay_port: int, **signup: Any) -> Settings:
    return Settings(
        sender=SenderSettings(from_address="Lumen Paper <care@lumen-paper.example>"),
        brand=BrandSettings(company={"en": "Lumen Paper", "zh-Hans": "流明纸业", "zh-Hant": "流明紙業"},
                            postal_address="1 Paper Road, Hangzhou"),
        smtp=SmtpSettings(host="127.0.0.1", port=relay_port, give_up_after_seconds=2,
                          relay_retry_seconds=0.1, timeout_seconds=5),
        tracking=TrackingSettings(base_url=url),
        topics=TOPICS,  # type: ignore[arg-type]
        signup=SignupSettings(enabled=True, **signup),
        secret_keys=(SecretStr(SECRET_KEY),),
    )


@pytest.fixture
def relay() -> Iterator[tuple[Relay, int]]:
    handler = Relay()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
def site_options() -> dict[str, Any]:
    """Overridden by a test module to change the sign-up settings."""
    return {}


@pytest.fixture
def site(
    sessions: sessionmaker[Session], relay: tuple[Relay, int], site_options: dict[str, Any]
) -> Iterator[Site]:
    handler, relay_port = relay
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = settings_for(url, relay_port, **site_options)
    clock = FixedClock(NOW)
    app = create_tracking_app(sessions, [KEY], clock, settings.tracking,
                              signup=signup_routes(sessions, [KEY], clock, settings))
    with serve_in_background(app, port=port) as served, httpx.Client(timeout=30) as http:
        assert served == url
        yield Site(url, clock, settings, sessions, handler, http)
