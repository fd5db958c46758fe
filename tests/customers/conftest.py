"""A working folder made by `edm init`, for the tests that import through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from edm.cli import main


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    result = CliRunner().invoke(main, ["init", str(tmp_path / "work")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return tmp_path / "work"
