"""`edm import ...` run in-process against a working folder (the `folder` fixture)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from edm.cli import main


def run_import(folder: Path, *args: str) -> tuple[int, str]:
    """The exit code and what the command said, less the `database:` line it starts with."""
    result = CliRunner().invoke(main, ["import", *args, "--config", str(folder / "edm.yaml")],
                                catch_exceptions=False)
    database = f"database: sqlite:///{folder.resolve() / 'edm.db'}\n"  # every import says where it wrote
    assert result.output.startswith(database), result.output
    return result.exit_code, result.output.removeprefix(database)
