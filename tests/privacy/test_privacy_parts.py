"""The pure parts of edm.privacy: the README's language and contact, the export's CSV, placeholders, what
names a person in a JSON payload; and the daemon's retention job."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from edm.config import RetentionSettings, Settings
from edm.daemon.schedule import RETENTION, wanted_jobs
from edm.privacy.erase import mentions, placeholder_recipient
from edm.privacy.export import SECTIONS, BrandContact, PersonalData, archive, readme, readme_language

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
CONTACT = BrandContact("Acme", "privacy@acme.example", phone="+86 21 5555 0000")


def _data(locale: str = "en", rows: list[dict[str, object]] | None = None) -> PersonalData:
    sections: dict[str, list[dict[str, object]]] = {name: [] for name in SECTIONS}
    sections["customer"] = rows or [{"name": "Ann", "email": "ann@example.com"}]
    return PersonalData(1, locale, sections)


def test_the_readme_is_in_the_persons_language_and_says_whom_to_ask() -> None:
    locales = ("zh-TW", "zh_HK", "zh-CN", "zh", "en-GB", "fr-FR", "")
    assert [readme_language(locale) for locale in locales] == [
        "zh-hant", "zh-hant", "zh-hans", "zh-hans", "en", "en", "en"]
    language, text = readme(_data("zh-TW"), CONTACT, NOW)
    assert language == "zh-hant" and "個人資料" in text and "電話: +86 21 5555 0000" in text
    assert "privacy@acme.example" in text and "customer.json, customer.csv (1)" in text
    assert all(f"{name}.csv" in text for name in SECTIONS)


@given(st.lists(st.fixed_dictionaries({
    "name": st.text(), "email": st.emails(), "attributes": st.one_of(st.none(), st.dictionaries(
        st.text(min_size=1), st.one_of(st.text(), st.integers()))),
}), min_size=1, max_size=5))
def test_every_section_is_in_json_and_csv_with_the_same_rows(rows: list[dict[str, object]]) -> None:
    with zipfile.ZipFile(io.BytesIO(archive(_data(rows=rows), CONTACT, NOW))) as zipped:
        assert json.loads(zipped.read("customer.json")) == rows
        table = list(csv.DictReader(io.StringIO(zipped.read("customer.csv").decode("utf-8-sig"))))
        names = sorted(zipped.namelist())
    assert names == sorted(["README.txt", *(f"{n}.{ext}" for n in SECTIONS for ext in ("json", "csv"))])
    assert len(table) == len(rows)
    for row, written in zip(rows, table, strict=True):
        name = str(row["name"]).replace("\r\n", "\n").replace("\r", "\n")
        cell = written["name"].replace("\r\n", "\n").replace("\r", "\n")
        assert cell == name or (cell.startswith("'") and cell[1:] == name)  # a formula is made inert


def test_placeholders_keep_only_the_receiving_provider() -> None:
    assert placeholder_recipient("Zhou@Gmail.com") == "erased@gmail.com"
    assert placeholder_recipient("li@qq.com").startswith("erased@")
    assert placeholder_recipient("boss@own-company.example") == "erased@invalid"


def test_a_payload_names_the_person_by_address_in_any_spelling_or_by_id() -> None:
    keys = {"zhou@mail.example.org"}
    assert mentions({"customer": {"email": "Zhou@Mail.Example.org"}}, keys, {"Z-1"})
    assert mentions({"items": [{"id": "Z-1"}]}, keys, {"Z-1"})
    assert mentions({"note": "write to zhou@mail.example.org please"}, keys, set())
    assert not mentions({"customer": {"email": "carol@example.net", "id": "Z-10"}}, keys, {"Z-1"})


def test_the_daemon_applies_retention_daily_only_when_a_limit_is_set() -> None:
    assert RETENTION not in wanted_jobs(Settings(), NOW)
    kept = RetentionSettings(events_days=400, cron="0 4 * * *")
    job = wanted_jobs(Settings(retention=kept), NOW)[RETENTION]
    assert job["func"] == "edm.daemon.jobs:retention"
