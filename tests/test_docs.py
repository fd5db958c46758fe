"""The documentation that is generated stays in step with the code."""

from __future__ import annotations

import re
from pathlib import Path

from edm.campaigns.reference import campaign_reference
from edm.campaigns.schema import Campaign

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_the_campaign_reference_is_the_one_the_schema_writes() -> None:
    written = (DOCS / "campaigns.md").read_text(encoding="utf-8")
    regenerate = "edm campaign schema --format markdown --out docs/campaigns.md"
    assert written == campaign_reference(), f"run: {regenerate}"


def test_the_reference_names_every_campaign_key() -> None:
    reference = campaign_reference()
    for key, field in Campaign.model_fields.items():
        assert f"| `{field.alias or key}` |" in reference


def test_every_picture_the_docs_show_is_there_and_small() -> None:
    pictures = [(page, link) for page in DOCS.glob("*.md")
                for link in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", page.read_text(encoding="utf-8"))]
    assert any(page.name == "console.md" for page, _ in pictures)
    for page, link in pictures:
        picture = (page.parent / link).resolve()
        assert picture.is_file(), f"{page.name} shows {link}: run python docs/screenshots.py"
        assert picture.stat().st_size < 200_000, f"{link} is over 200 KB"
