"""A customer with a rich history, made through the public surface: `edm import`, `edm classify`,
`edm campaign run` over a real SMTP relay, opens, clicks and a survey answer over real HTTP, consent
recorded, a custom event, a webhook owed and an API call about them. Shared by the privacy tests."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import httpx
from click.testing import CliRunner, Result
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from edm.cli import main
from edm.clock import SystemClock
from edm.config import load_settings
from edm.consent import ConsentGiven, record
from edm.runner import open_store
from edm.store import ApiAudit, Base, CustomerEvent, Signup, WebhookDelivery, make_engine
from edm.tracking import create_tracking_app, serve_in_background
from tests.conftest import SECRET_KEY, SmtpServer

# the person to forget, and what must be gone: name, address (as imported), a phone in a custom attribute
NAME, EMAIL, PHONE = "Zhou Xiaoming", "Zhou.Xiaoming@Mail.Example.org", "+86 138 0013 8000"
CONTACT, CONTACT_NAME = "li.na@mail.example.org", "Li Nana"
COMMENT = "Delivery was late twice, call me on"  # the survey comment carries the phone too
MANAGER = "Alice Wong"

CUSTOMERS = f"""\
external_id,name,kind,email,locale,timezone,industry,account_manager,account_manager_email,attr.phone
Z-1,{NAME},person,{EMAIL},zh-TW,Asia/Taipei,manufacturing,{MANAGER},alice@sales.example.com,{PHONE}
B-2,Bolt Trading,company,buyer@bolt.example.com,en-US,America/Chicago,trade,{MANAGER},alice@sales.example.com,
C-3,Carol Small,person,carol@example.net,en-GB,Europe/London,,,,
"""
CONTACTS = f"customer_external_id,email,name,role\nZ-1,{CONTACT},{CONTACT_NAME},buyer\n"

SURVEY = """\
name: ask_nps
description: one NPS question, every day (a test campaign)
kind: survey
respect_frequency: false
audience: {}
template: nps_survey
subject:
  en: "{{ greeting_name }}, would you recommend us?"
  zh-Hans: "{{ greeting_name }}，您愿意向同行推荐我们吗？"
  zh-Hant: "{{ greeting_name }}，您願意向同業推薦我們嗎？"
schedule:
  cron: "0 0 * * *"
  timezone: UTC
"""
NOTICE = """\
name: notice
description: a service notice with links, every day (a test campaign)
kind: service
audience: {}
template: re_engagement
subject:
  en: "{{ greeting_name }}, about your account"
  zh-Hans: "{{ greeting_name }}，关于您的账户"
  zh-Hant: "{{ greeting_name }}，關於您的帳戶"
links:
  catalog: https://www.example.com/catalog/new
  feedback: https://www.example.com/feedback
params:
  discount: "10%"
schedule:
  cron: "0 0 * * *"
  timezone: UTC
"""
OFFER = """\
name: offers
description: an offer, every day (a test campaign)
kind: marketing
respect_frequency: false
audience: {}
template: re_engagement
subject:
  en: "{{ greeting_name }}, an offer for you"
  zh-Hans: "{{ greeting_name }}，给您的优惠"
  zh-Hant: "{{ greeting_name }}，給您的優惠"
links:
  catalog: https://www.example.com/catalog/new
  feedback: https://www.example.com/feedback
params:
  discount: "10%"
schedule:
  cron: "0 0 * * *"
  timezone: UTC
"""


def _orders(today: datetime, older_than: int) -> str:
    """Every 45 days over 400 days, those at least `older_than` days old."""
    lines = ["external_id,customer_external_id,ordered_at,amount,product_line"]
    for customer, amount in {"Z-1": "900.00", "B-2": "5000.00", "C-3": "12.00"}.items():
        for n, days_ago in enumerate(range(400, 9, -45)):
            if days_ago >= older_than:
                day = (today - timedelta(days=days_ago)).date()
                lines.append(f"{customer}-{n:03d},{customer},{day},{amount},valves")
    return "\n".join(lines) + "\n"


@dataclass
class World:
    folder: Path
    env: dict[str, str]
    smtp: SmtpServer
    sessions: sessionmaker[Session]
    engine: Engine

    def edm(self, *arguments: str, stdin: str | None = None) -> Result:
        return CliRunner(env=self.env).invoke(main, list(arguments), input=stdin, catch_exceptions=False)

    def inbox(self, address: str) -> list[EmailMessage]:
        return [m for m in self.smtp.handler.messages if address.lower() in str(m["To"]).lower()]


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def make_world(folder: Path, url: str, smtp: SmtpServer) -> Iterator[World]:
    """The world above on the store at `url`; the tracking server runs while the block runs."""
    campaigns = folder / "campaigns"
    campaigns.mkdir()
    (campaigns / "ask_nps.yaml").write_text(SURVEY, encoding="utf-8")
    (campaigns / "offers.yaml").write_text(OFFER, encoding="utf-8")
    (campaigns / "notice.yaml").write_text(NOTICE, encoding="utf-8")
    (folder / "edm.yaml").write_text(f"campaigns_dir: {campaigns}\nmail_dir: {folder / 'mail'}\n",
                                     encoding="utf-8")
    env = {"EDM_CONFIG": str(folder / "edm.yaml"), "EDM_DATABASE_URL": url, "EDM_SECRET_KEY": SECRET_KEY,
           "EDM_SMTP__HOST": smtp.host, "EDM_SMTP__PORT": str(smtp.port), "EDM_SMTP__COMPOSE_PROCESSES": "0"}
    settings = load_settings(folder / "edm.yaml", env)
    _drop_everything(url)  # PostgreSQL's test schema outlives each test
    sessions = open_store(settings)
    engine = sessions.kw["bind"]
    with ExitStack() as stack:
        app = create_tracking_app(sessions, settings.signing_keys(), SystemClock())
        base_url = stack.enter_context(serve_in_background(app))
        env["EDM_TRACKING__BASE_URL"] = base_url
        world = World(folder, env, smtp, sessions, engine)
        now = datetime.now(UTC)
        # the old orders first, then the recent ones: the second classification moves them (transitions)
        for name, text in (("customers", CUSTOMERS), ("contacts", CONTACTS), ("orders", _orders(now, 200)),
                           ("classify", ""), ("orders", _orders(now, 0)), ("classify", "")):
            if name == "classify":
                assert world.edm("classify").exit_code == 0
                continue
            path = folder / f"{name}.csv"
            path.write_text(text, encoding="utf-8")
            done = world.edm("import", name, str(path))
            assert done.exit_code == 0, done.output
        ran = world.edm("campaign", "run", "ask_nps", "notice", "--i-know")
        assert ran.exit_code == 0, ran.output
        survey, notice = sorted(world.inbox(EMAIL), key=lambda m: "/s/" not in html_of(m))
        with httpx.Client() as client:
            for mail in (survey, notice):
                pixel = re.search(r'src="([^"]+/o/[^"]+)"', html_of(mail))
                assert pixel is not None
                assert client.get(pixel.group(1)).status_code == 200
            links = re.findall(r'href="([^"]+/s/[^"]+)"', html_of(survey))
            assert client.post(links[3], data={"comment": f"{COMMENT} {PHONE}"}).status_code == 200
            [catalog] = re.findall(r'href="([^"]+/c/[^"]+)"', html_of(notice))[:1]
            assert client.get(catalog, follow_redirects=False).status_code in (302, 303, 307)
        _more_history(sessions, now)
        yield world
    engine.dispose()
    _drop_everything(url)


def _drop_everything(url: str) -> None:
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        Base.metadata.drop_all(engine)
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()


def _more_history(sessions: sessionmaker[Session], now: datetime) -> None:
    """What other parts write about a person: consent, a sign-up, a custom event, a webhook, an API call."""
    with sessions.begin() as session:
        record(session, [ConsentGiven(EMAIL, "existing_customer", "granted", "import:customers.csv",
                                      now - timedelta(days=30)),
                         ConsentGiven(EMAIL.lower(), "explicit", "granted", "signup", now - timedelta(days=2),
                                      "v1", "203.0.113.9", "Mozilla/5.0 (Zhou's phone)")])
        session.add(Signup(email=EMAIL, address_key=EMAIL.lower(), name=NAME, locale="zh-TW", topics=None,
                           nonce="n" * 32, state="confirmed", form="hosted", wording_version="v1",
                           ip="203.0.113.9", user_agent="Mozilla/5.0", created_at=now - timedelta(days=2),
                           expires_at=now + timedelta(days=5), mailed_at=now - timedelta(days=2),
                           confirmed_at=now - timedelta(days=2)))
        session.add(CustomerEvent(customer_id=1, name="quote_requested",
                                  properties={"phone": PHONE, "qty": 3},
                                  occurred_at=now - timedelta(days=1), received_at=now, idempotency_key="q-1",
                                  source="api"))
        session.add(WebhookDelivery(endpoint="crm", event_type="customer.unsubscribed", event_id="msg_1",
                                    payload={"customer": {"external_id": "Z-1", "email": EMAIL}},
                                    state="pending", attempts=0, next_attempt_at=now, created_at=now))
        session.add(ApiAudit(key_id=None, method="POST", path="/v1/customers/Z-1/unsubscribe", status=200,
                             summary={"operation": "unsubscribe", "external_id": "Z-1",
                                      "result": {"email": EMAIL, "subscribed": False}}, occurred_at=now))



