"""Consent through the commands people run: `edm import customers` records it, `edm campaign run`
(--dry-run and for real, over a real SMTP server) mails each kind only on a basis that kind may use."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, select

from edm.cli import main
from edm.consent import forget
from edm.resources import bundled_config_dir
from edm.store import Consent, ConsentHistory, Customer, session_factory
from tests.conftest import SECRET_KEY, SmtpServer

TEMPLATE = """name: {name}
kind: {kind}
template: re_engagement
subject: {{en: "{subject}", zh-Hans: "{subject}", zh-Hant: "{subject}"}}
links: {{catalog: "https://www.example.com/c", feedback: "https://www.example.com/f"}}
params: {{discount: "10%"}}
holdout_percent: 0
respect_frequency: false
"""
CAMPAIGNS = {"news": ("marketing", "News"), "hello": ("greeting", "Hello"), "notice": ("service", "Notice")}
LAWFUL = ["explicit", "recent", "erased_back"]  # may get marketing and greetings
HELD = ["lapsed", "withdrawn", "pending", "erased", "erased_old"]  # service mail only
NOW = datetime.now(UTC)
ERASED_AT = NOW - timedelta(days=10)


def _day(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"


# customer -> consent_basis, consent_status, consent_at (blank: none given), days since their last order
PEOPLE = {
    "explicit": ("explicit", "", "2021-03-01", 60),
    "recent": ("", "", "", 60),  # no consent columns filled: an existing customer, by their last order
    "lapsed": ("existing_customer", "granted", _day(NOW - timedelta(days=3 * 365)), 31 * 31),
    "withdrawn": ("explicit", "withdrawn", "2026-01-05", 60),
    "pending": ("explicit", "pending", "", 60),
    "erased": ("", "", "", 60),  # erased before: imported again without consent
    "erased_back": ("explicit", "granted", _day(NOW - timedelta(days=5)), 60),  # new consent after erasure
    "erased_old": ("explicit", "granted", _day(NOW - timedelta(days=400)), 60),  # consent from before it
}


def _edm(env: dict[str, str], *arguments: str) -> Result:
    return CliRunner(env=env).invoke(main, list(arguments), catch_exceptions=False)


@pytest.fixture
def folder(tmp_path: Path, any_db_url: str, any_engine: Engine, smtp_server: SmtpServer) -> dict[str, str]:
    """A working folder: three campaigns (one per kind), the store at `any_db_url`, the relay, the key."""
    campaigns = tmp_path / "campaigns"
    campaigns.mkdir()
    for name, (kind, subject) in CAMPAIGNS.items():
        (campaigns / f"{name}.yaml").write_text(TEMPLATE.format(name=name, kind=kind, subject=subject),
                                                encoding="utf-8")
    assert (bundled_config_dir() / "edm.yaml").exists()
    (tmp_path / "edm.yaml").write_text(f"campaigns_dir: {campaigns}\npolicy:\n  one_per_day: false\n",
                                       encoding="utf-8")
    return {"EDM_CONFIG": str(tmp_path / "edm.yaml"), "EDM_DATABASE_URL": any_db_url,
            "EDM_SECRET_KEY": SECRET_KEY, "EDM_SMTP__HOST": smtp_server.host,
            "EDM_SMTP__PORT": str(smtp_server.port), "EDM_SMTP__COMPOSE_PROCESSES": "0"}


def _import_people(tmp_path: Path, env: dict[str, str], engine: Engine) -> dict[str, int]:
    with session_factory(engine).begin() as session:  # erased earlier (edm customers erase keeps only this)
        forget(session, [f"{n}@example.com" for n in ("erased", "erased_back", "erased_old")],
               [SECRET_KEY.encode()], ERASED_AT)
    people = ["external_id,name,kind,email,consent_basis,consent_status,consent_at,consent_wording"]
    orders = ["external_id,customer_external_id,ordered_at,amount"]
    for name, (basis, status, at, days) in PEOPLE.items():
        wording = "v2" if basis else ""
        people.append(f"{name},{name.title()},person,{name}@example.com,{basis},{status},{at},{wording}")
        orders.append(f"o-{name},{name},{NOW - timedelta(days=days):%Y-%m-%d},100")
    (tmp_path / "customers.csv").write_text("\n".join(people) + "\n", encoding="utf-8")
    (tmp_path / "orders.csv").write_text("\n".join(orders) + "\n", encoding="utf-8")
    no_key = {**env, "EDM_SECRET_KEY": ""}
    refused = CliRunner(env=no_key).invoke(main, ["import", "customers", str(tmp_path / "customers.csv")])
    assert refused.exit_code == 1 and "EDM_SECRET_KEY" in refused.output and "erased" in refused.output
    for command in (["import", "customers", str(tmp_path / "customers.csv")],
                    ["import", "orders", str(tmp_path / "orders.csv")], ["classify"]):
        result = _edm(env, *command)
        assert result.exit_code == 0, result.output
    with session_factory(engine)() as session:
        return {name: id_ for name, id_ in session.execute(select(Customer.external_id, Customer.id))}


def test_each_kind_reaches_only_those_with_a_basis_it_may_use(
    tmp_path: Path, folder: dict[str, str], any_engine: Engine, smtp_server: SmtpServer
) -> None:
    ids = _import_people(tmp_path, folder, any_engine)
    with session_factory(any_engine)() as session:
        consents = {row.address_key.split("@")[0]: row for row in session.scalars(select(Consent))}
    assert sorted(consents) == sorted(set(PEOPLE) - {"recent"})  # no consent columns: no row
    assert (consents["erased"].basis, consents["erased"].status, consents["erased"].source) == (
        "none", "withdrawn", "erased")
    assert (consents["erased_old"].basis, consents["erased_old"].source) == ("none", "erased")
    assert (consents["erased_back"].basis, consents["erased_back"].status) == ("explicit", "granted")
    explicit = consents["explicit"]
    assert (explicit.source, explicit.wording_version) == ("import:customers.csv", "v2")
    assert consents["pending"].status == "pending" and consents["explicit"].recorded_at == datetime(
        2021, 3, 1, tzinfo=UTC)

    out = tmp_path / "plan.csv"
    dry = _edm(folder, "campaign", "run", "news", "hello", "notice", "--dry-run", "--out", str(out))

    assert dry.exit_code == 0, dry.output
    for name in ("news", "hello"):
        summary = rf"^{name} \S+: audience 8, queued 3, .*, no consent 5"
        assert re.search(summary, dry.output, re.M), dry.output
    assert re.search(r"^notice \S+: audience 8, queued 8, ", dry.output, re.M)
    assert "no consent" not in next(line for line in dry.output.splitlines() if line.startswith("notice"))
    assert len(re.findall(r"^  held no_consent +5  e\.g\. ", dry.output, re.M)) == 2
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = {(row["campaign"], row["email"].split("@")[0]): row for row in csv.DictReader(handle)}
    for name in HELD:
        assert (rows[("news", name)]["decision"], rows[("news", name)]["reason"]) == ("held", "no_consent")
        assert rows[("hello", name)]["detail"].startswith("no consent for greeting: ")
        assert rows[("notice", name)]["decision"] == "send"
    assert re.fullmatch(r"no consent for marketing: existing customer, last order \S+ \(31 months ago; "
                        r"soft opt-in 24 months\)", rows[("news", "lapsed")]["detail"])
    assert rows[("news", "erased")]["detail"] == (
        f"no consent for marketing: erased {NOW:%Y-%m-%d} and imported again without new consent")
    assert rows[("news", "withdrawn")]["detail"] == (
        "no consent for marketing: consent withdrawn 2026-01-05 (import:customers.csv)")
    assert smtp_server.handler.messages == []

    real = _edm(folder, "campaign", "run", "news", "hello", "notice")

    assert real.exit_code == 0, real.output
    got = {name: sorted(str(m["Subject"]) for m in smtp_server.handler.to(f"{name}@example.com"))
           for name in PEOPLE}
    assert got == {name: (["Hello", "News", "Notice"] if name in LAWFUL else ["Notice"]) for name in PEOPLE}
    assert set(ids) == set(PEOPLE)


def test_reimporting_the_same_file_records_no_consent_again(
    tmp_path: Path, folder: dict[str, str], any_engine: Engine
) -> None:
    _import_people(tmp_path, folder, any_engine)
    sessions = session_factory(any_engine)
    with sessions() as session:
        before = session.execute(select(ConsentHistory.address_key, ConsentHistory.recorded_at)).all()
    again = _edm(folder, "import", "customers", str(tmp_path / "customers.csv"))
    assert again.exit_code == 0, again.output
    with sessions() as session:
        assert session.execute(select(ConsentHistory.address_key, ConsentHistory.recorded_at)).all() == before
    changed = (tmp_path / "customers.csv").read_text(encoding="utf-8").replace(
        "pending@example.com,explicit,pending,,v2", "pending@example.com,explicit,granted,2026-11-01,v3")
    assert changed != (tmp_path / "customers.csv").read_text(encoding="utf-8")
    (tmp_path / "customers.csv").write_text(changed, encoding="utf-8")
    assert _edm(folder, "import", "customers", str(tmp_path / "customers.csv")).exit_code == 0
    with sessions() as session:
        history = session.execute(select(ConsentHistory.address_key, ConsentHistory.status)).all()
        now = session.get(Consent, "pending@example.com")
    assert len(history) == len(before) + 1 and history[-1] == ("pending@example.com", "granted")
    assert now is not None and (now.status, now.wording_version) == ("granted", "v3")
    assert now.recorded_at == datetime(2026, 11, 1, tzinfo=UTC)
