"""`edm import --help` and docs/importing.md name every column, date spelling and encoding the
importer knows, so neither can drift from the code."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from edm.cli import main
from edm.customers.checks import KINDS
from edm.customers.fields import DATE_SPELLINGS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "importing.md"


def _help(*args: str) -> str:
    result = CliRunner().invoke(main, ["import", *args, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_import_command_lists_its_columns(kind: str) -> None:
    spec = KINDS[kind]  # type: ignore[index]
    text = _help(kind)
    assert f"required {', '.join(spec.required)}" in text
    assert f"optional {', '.join(spec.optional)}" in text
    assert "--encoding NAME" in text


def test_the_import_group_lists_every_kind_date_spelling_and_encoding() -> None:
    text = _help()
    for name, spec in KINDS.items():
        assert f"Columns of {name} files: required {', '.join(spec.required)}" in text
        assert f"optional {', '.join(spec.optional)}" in text
    for written, _ in DATE_SPELLINGS:
        assert " ".join(written.split()) in text
    for encoding in ("UTF-8", "UTF-16", "GB18030", "GBK", "Big5"):
        assert encoding in text


def test_the_import_page_lists_every_column_of_every_kind() -> None:
    page = DOCS.read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(): line for line in page.splitlines() if line.startswith("| ")}
    for name, spec in KINDS.items():
        assert name in rows, f"docs/importing.md has no row for {name}"
        for column in spec.fields:
            assert f"`{column}`" in rows[name], f"docs/importing.md does not list {name}.{column}"
        if spec.attributes:
            assert "`attr.<name>`" in rows[name]
    for example in ("2024/3/5", "2024-3-5", "2024.3.5", "2024年3月5日", "45356", "05/03/2024", "16:23",
                    "date_format", "dmy", "mdy", "GB18030", "Big5", "UTF-16", "--encoding",
                    "imports.encoding"):
        assert example in page
