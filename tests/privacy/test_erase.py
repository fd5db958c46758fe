"""Export, erase and re-import of one person with a rich history, on SQLite and PostgreSQL, through the
`edm` command line: the export matches the store; after erase their name, address and phone are nowhere
in the database's bytes (the SQLite file and its log, or a pg_dump of the schema) and the reports'
figures are unchanged; an audit entry says who erased whom, and nothing of what."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from glob import glob
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from edm.consent import forgotten
from edm.reports import deliverability_report, engagement_report, frequency_report, lifecycle_report
from edm.store import (
    AuditEntry,
    Contact,
    Customer,
    Event,
    Order,
    OutboxMessage,
    SurveyAnswer,
)
from tests.conftest import SECRET_KEY, TEST_SCHEMA, SmtpServer
from tests.privacy.world import COMMENT, CONTACT, CONTACT_NAME, EMAIL, NAME, PHONE, World, make_world

# what must be gone, in any capitals: the name, the address's local part (its domain is shared), the phone
NEEDLES = ("Xiaoming", "zhou.xiaoming", PHONE, "0013 8000", CONTACT.split("@")[0], CONTACT_NAME,
           "Zhou's phone", "203.0.113.9")
GROUPINGS = [["campaign"], ["variant"], ["tier"], ["stage"], ["industry"], ["locale"]]


@pytest.fixture
def world(tmp_path: Path, any_db_url: str, smtp_server: SmtpServer) -> Iterator[World]:
    yield from make_world(tmp_path, any_db_url, smtp_server)


def figures(sessions: sessionmaker[Session]) -> dict[str, Any]:
    """Every table of the engagement, lifecycle, deliverability and frequency reports, as plain data."""
    now = datetime.now(UTC)
    reports = [engagement_report(sessions, GROUPINGS, now=now), lifecycle_report(sessions, now=now),
               deliverability_report(sessions, now=now),
               frequency_report(sessions, now=now, since=now - timedelta(days=30),
                                until=now + timedelta(days=1))]
    return {f"{report.title}/{table.name}": json.loads(table.frame.to_json(orient="split", date_format="iso"))
            for report in reports for table in report.tables()}


def read_zip(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as zipped:
        return {name: zipped.read(name).decode("utf-8") for name in zipped.namelist()}


def test_the_export_holds_what_the_store_holds(world: World) -> None:
    out = world.folder / "zhou.zip"
    done = world.edm("customers", "export", "Z-1", "--out", str(out), "--actor", "dpo@example.com")
    assert done.exit_code == 0, done.output
    files = read_zip(out)
    sections = {name[:-5]: json.loads(text) for name, text in files.items() if name.endswith(".json")}
    with world.sessions() as session:
        customer = session.scalars(select(Customer).where(Customer.external_id == "Z-1")).one()
        orders = session.scalars(select(Order).where(Order.customer_id == customer.id)
                                 .order_by(Order.ordered_at)).all()
        mails = session.scalars(select(OutboxMessage).where(OutboxMessage.customer_id == customer.id)
                                .order_by(OutboxMessage.created_at, OutboxMessage.id)).all()
        events = session.scalars(select(Event).where(Event.customer_id == customer.id)
                                 .order_by(Event.occurred_at, Event.id)).all()
        answer = session.scalars(select(SurveyAnswer).where(SurveyAnswer.customer_id == customer.id)).one()
        audit = session.scalars(select(AuditEntry)).all()
    [record] = sections["customer"]
    assert (record["name"], record["email"], record["attributes"]) == (NAME, customer.email, {"phone": PHONE})
    assert [c["email"] for c in sections["contacts"]] == [CONTACT]
    assert [o["external_id"] for o in sections["orders"]] == [o.external_id for o in orders]
    assert sum(Decimal(o["amount"]) for o in sections["orders"]) == sum(o.amount for o in orders)
    assert [(m["campaign"], m["state"], m["sent_at"]) for m in sections["mails"]] == [
        (m.campaign, m.state, m.sent_at.isoformat() if m.sent_at else None) for m in mails]
    subjects = {m["campaign"]: m["subject"] for m in sections["mails"]}  # re-rendered, in their zh-TW
    assert subjects == {"ask_nps": f"{NAME}，您願意向同業推薦我們嗎？", "notice": f"{NAME}，關於您的帳戶"}
    campaign_of = {m.id: m.campaign for m in mails}
    assert [(e["kind"], e["campaign"], e["url"]) for e in sections["events"]] == [
        (e.kind, campaign_of[e.outbox_id or 0], e.url) for e in events]
    assert {e.kind for e in events} >= {"open", "click"}
    [survey] = sections["survey_answers"]
    assert (survey["score"], survey["comment"]) == (answer.score, answer.comment)
    assert survey["campaign"] == "ask_nps"
    assert COMMENT in survey["comment"]
    assert [(h["basis"], h["source"]) for h in sections["consent_history"]] == [
        ("existing_customer", "import:customers.csv"), ("explicit", "signup")]
    assert [c["basis"] for c in sections["consent"]] == ["explicit"]
    assert sections["custom_events"][0]["properties"] == {"phone": PHONE, "qty": 3}
    assert sections["profile"][0]["value_tier"] and sections["transitions"]
    for name, rows in sections.items():  # each CSV holds the same rows as its JSON
        table = list(csv.DictReader(io.StringIO(files[f"{name}.csv"].lstrip("\ufeff"))))
        assert len(table) == len(rows), name
    readme = files["README.txt"]
    assert "個人資料" in readme and "orders.csv" in readme and "care@example.com" in readme  # zh-Hant
    [entry] = audit
    assert (entry.action, entry.actor) == ("export", "dpo@example.com")
    assert entry.subject == f"customer {customer.id}"


def _database_text(world: World) -> str:
    """Every byte the database keeps, as text: the SQLite file and its logs, or a pg_dump of the schema."""
    url = world.engine.url
    world.engine.dispose()
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        paths = [p for p in (url.database, f"{url.database}-wal", f"{url.database}-journal")
                 if os.path.exists(p)]
        return "".join(Path(p).read_bytes().decode("latin-1") for p in paths)
    pg_dump = shutil.which("pg_dump") or next(iter(sorted(glob("/usr/lib/postgresql/*/bin/pg_dump"))), None)
    if pg_dump is None:
        pytest.skip("pg_dump is not installed")
    dsn = url.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
    parts = urlsplit(dsn)
    env = {**os.environ, "PGPASSWORD": unquote(parts.password or "")}
    dumped = subprocess.run([pg_dump, f"--schema={TEST_SCHEMA}", "--no-owner", dsn], env=env,
                            capture_output=True, check=True)
    return dumped.stdout.decode("utf-8")


def test_erase_leaves_no_trace_and_the_reports_unchanged(world: World) -> None:
    before = figures(world.sessions)
    text = _database_text(world)
    assert all(re.search(re.escape(n), text, re.IGNORECASE) for n in NEEDLES[:4])  # the search works

    asked = world.edm("customers", "erase", "Z-1", stdin="n\n")
    assert asked.exit_code == 0 and NAME in asked.output and "nothing erased" in asked.output
    with world.sessions() as session:
        assert session.scalar(select(Customer.name).where(Customer.external_id == "Z-1")) == NAME

    erased = world.edm("customers", "erase", "Z-1", "--yes", "--actor", "dpo@example.com")
    assert erased.exit_code == 0, erased.output
    text = _database_text(world)
    found = [needle for needle in NEEDLES if re.search(re.escape(needle), text, re.IGNORECASE)]
    assert found == []
    assert figures(world.sessions) == before
    with world.sessions() as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "erase")).all()
        customer = session.get_one(Customer, 1)
        assert session.scalar(select(func.count()).select_from(Contact)) == 0
        assert session.scalar(select(SurveyAnswer.score)) is not None  # the score counts, the comment went
        assert forgotten(session, [EMAIL.upper(), CONTACT, "carol@example.net"], [SECRET_KEY.encode()]) == {
            EMAIL.upper(), CONTACT}
    assert (entry.actor, entry.subject) == ("dpo@example.com", "customer 1")
    assert customer.email == "erased-1@invalid" and customer.external_id == "erased-1"
    gone = world.edm("customers", "show", "Z-1")
    assert gone.exit_code == 1 and "no customer" in gone.output


def test_a_re_imported_erased_address_gets_no_marketing(world: World) -> None:
    with world.sessions() as session:
        erased_id = session.scalars(select(Customer.id).where(Customer.external_id == "Z-1")).one()
    assert world.edm("customers", "erase", "Z-1", "--yes").exit_code == 0
    with world.sessions() as session:
        last_row = session.scalar(select(func.max(OutboxMessage.id))) or 0
    again = world.folder / "again.csv"
    again.write_text(f"external_id,name,kind,email\nZ-1,{NAME},person,{EMAIL.upper()}\n"
                     "N-5,Nora New,person,nora@example.org\n", encoding="utf-8")
    assert world.edm("import", "customers", str(again)).exit_code == 0
    assert world.edm("classify").exit_code == 0
    world.smtp.handler.messages.clear()
    ran = world.edm("campaign", "run", "offers", "--i-know")
    assert ran.exit_code == 0, ran.output
    assert world.inbox("nora@example.org"), "a new customer, never erased, gets the offer"
    assert world.inbox(EMAIL) == []
    service = world.edm("campaign", "run", "notice", "--i-know")  # service mail needs no consent basis
    assert service.exit_code == 0, service.output
    assert world.inbox(EMAIL), "service mail reaches the re-imported address"
    campaigns = world.folder / "campaigns"  # campaigns new today: the erased record is not planned yet
    for name in ("offers", "notice"):
        text = (campaigns / f"{name}.yaml").read_text(encoding="utf-8")
        (campaigns / f"{name}_2.yaml").write_text(text.replace(f"name: {name}", f"name: {name}_2", 1),
                                                  encoding="utf-8")
        assert world.edm("campaign", "run", f"{name}_2", "--i-know").exit_code == 0
    with world.sessions() as session:  # the erased record itself is never planned again, whatever the kind
        planned = session.scalars(select(OutboxMessage.state).where(
            OutboxMessage.customer_id == erased_id, OutboxMessage.id > last_row)).all()
    assert planned == []
