"""Fixtures for the delivery tests that drive `edm` commands (tests/delivery/cli_folder.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from edm.store import create_schema, make_engine, session_factory


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[sessionmaker[Session], str]]:
    """A fresh SQLite store: its sessions and its URL (for the command's environment)."""
    url = f"sqlite:///{tmp_path / 'edm.db'}"
    engine = make_engine(url)
    create_schema(engine)
    yield session_factory(engine), url
    engine.dispose()
