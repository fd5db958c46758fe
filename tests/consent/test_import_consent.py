"""`edm import customers|contacts` with consent columns: bad values name their row and column and
nothing is written; good rows and their consent are written together."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from edm.cli import main
from edm.config import load_settings
from edm.runner import open_store
from edm.store import Consent, ConsentHistory, Contact, Customer

HEADER = "external_id,name,kind,email,consent_basis,consent_status,consent_at,consent_source,consent_wording"
BAD = [
    "c1,Good,person,good@example.com,explicit,,2025-01-02 09:30,shop_checkout,v1",
    "c2,Basis,person,basis@example.com,opt-in,,,,",
    "c3,Status,person,status@example.com,explicit,maybe,,,",
    "c4,Future,person,future@example.com,explicit,,2199-01-01,,",
    "c5,Date,person,date@example.com,explicit,,not a date,,",
    "c6,Alone,person,alone@example.com,,withdrawn,,,",
    "c7,Long,person,long@example.com,explicit,,,," + "w" * 65,
]


def _folder(tmp_path: Path) -> list[str]:
    assert CliRunner().invoke(main, ["init", str(tmp_path)], catch_exceptions=False).exit_code == 0
    return ["--config", str(tmp_path / "edm.yaml")]


def _counts(tmp_path: Path) -> tuple[int, int, int]:
    sessions = open_store(load_settings(tmp_path / "edm.yaml"))
    with sessions() as session:
        return tuple(int(session.scalar(select(func.count()).select_from(model)) or 0)  # type: ignore[return-value]
                     for model in (Customer, Consent, ConsentHistory))


def test_bad_consent_cells_name_row_and_column_and_nothing_is_written(tmp_path: Path) -> None:
    config = _folder(tmp_path)
    path = tmp_path / "customers.csv"
    path.write_text("\n".join([HEADER, *BAD]) + "\n", encoding="utf-8")

    result = CliRunner().invoke(main, ["import", "customers", str(path), *config])

    assert result.exit_code == 1
    expected = [
        "row 3, column 'consent_basis': 'opt-in' is not a consent basis: use explicit, existing_customer, "
        "none",
        "row 4, column 'consent_status': 'maybe' is not a consent status: use granted, pending, withdrawn",
        "row 5, column 'consent_at': is in the future: give when the consent was given",
        "row 6, column 'consent_at': 'not a date'",
        "row 7, column 'consent_basis': give the consent_basis the other consent columns are for",
        "row 8, column 'consent_wording': longer than 64 characters",
    ]
    for line in expected:
        assert line in result.output, result.output
    assert "row 2" not in result.output
    assert _counts(tmp_path) == (0, 0, 0)  # not the good row either, nor its consent


def test_skip_invalid_writes_the_good_rows_with_their_consent_and_none_of_the_bad(tmp_path: Path) -> None:
    config = _folder(tmp_path)
    path = tmp_path / "customers.csv"
    plain = "c8,Plain,person,plain@example.com,,,,,"
    path.write_text("\n".join([HEADER, *BAD, plain]) + "\n", encoding="utf-8")

    result = CliRunner().invoke(main, ["import", "customers", str(path), "--skip-invalid", *config])

    assert result.exit_code == 0, result.output
    assert _counts(tmp_path) == (2, 1, 1)  # c1 and c8 (without consent: no row); c1's consent
    sessions = open_store(load_settings(tmp_path / "edm.yaml"))
    with sessions() as session:
        consent = session.get(Consent, "good@example.com")
    assert consent is not None
    assert (consent.basis, consent.status, consent.source, consent.wording_version) == (
        "explicit", "granted", "shop_checkout", "v1")
    assert f"{consent.recorded_at:%Y-%m-%d %H:%M}" == "2025-01-02 09:30"


def test_contacts_carry_consent_too_by_their_own_mailbox(tmp_path: Path) -> None:
    config = _folder(tmp_path)
    company = "external_id,name,kind,email\nacme,Acme,company,info@acme.example\n"
    (tmp_path / "customers.csv").write_text(company, encoding="utf-8")
    (tmp_path / "contacts.csv").write_text(
        "customer_external_id,email,name,consent_basis,consent_status\n"
        "acme,Li.Lei@Acme.example,Li Lei,explicit,\nacme,han@acme.example,Han,,\n", encoding="utf-8")
    for kind in ("customers", "contacts"):
        result = CliRunner().invoke(main, ["import", kind, str(tmp_path / f"{kind}.csv"), *config])
        assert result.exit_code == 0, result.output
    sessions = open_store(load_settings(tmp_path / "edm.yaml"))
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 2
        rows = session.execute(select(Consent.address_key, Consent.basis, Consent.source)).all()
    assert rows == [("li.lei@acme.example", "explicit", "import:contacts.csv")]


def test_import_help_lists_the_consent_columns() -> None:
    result = CliRunner().invoke(main, ["import", "customers", "--help"], terminal_width=200)
    text = " ".join(result.output.split())
    assert "consent_basis, consent_status, consent_at, consent_source, consent_wording" in text
