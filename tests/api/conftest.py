"""The API tests' world: a store with one customer, keys, and `edm serve`'s app on loopback uvicorn."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from edm.api import create_api_app
from edm.api.auth import SCOPES, create_key
from edm.clock import FixedClock
from edm.config import ApiSettings, Settings
from edm.store import Base, Customer
from edm.tracking import serve_in_background

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Api:
    url: str
    sessions: sessionmaker[Session]
    key: str  # every scope
    client: httpx.Client

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}"}

    def call(self, method: str, path: str, key: str | None = None, **kwargs: object) -> httpx.Response:
        headers = {**self.headers(key), **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        return self.client.request(method, self.url + path, headers=headers, **kwargs)  # type: ignore[arg-type]

    def count(self, table: str) -> int:
        with self.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(Base.metadata.tables[table])) or 0)

    def new_key(self, scopes: list[str], name: str, rate: int | None = None) -> str:
        return create_key(self.sessions, name, scopes, NOW, rate)


def add_customer(sessions: sessionmaker[Session], external_id: str = "C1",
                 email: str = "wang@example.com") -> None:
    with sessions.begin() as session:
        session.add(Customer(external_id=external_id, name="王芳", email=email, kind="person", locale="en",
                             timezone="UTC", created_at=NOW))


@pytest.fixture
def api(any_sessions: sessionmaker[Session], tmp_path: Path) -> Iterator[Api]:
    campaigns = tmp_path / "campaigns"
    shutil.copytree(REPO / "config" / "campaigns", campaigns)
    settings = Settings(campaigns_dir=campaigns, api=ApiSettings(max_body_bytes=64 * 1024))
    add_customer(any_sessions)
    key = create_key(any_sessions, "all", list(SCOPES), NOW)
    app = create_api_app(any_sessions, settings, FixedClock(NOW))
    with serve_in_background(app) as url, httpx.Client(timeout=30) as client:
        yield Api(url, any_sessions, key, client)
