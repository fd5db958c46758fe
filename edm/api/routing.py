"""What a route is: one operation (method, path, scope, body and response models, handler).

Each resource module under edm/api/routes lists its operations in `OPERATIONS`; app.py serves
them and openapi.py documents them, so adding a route is one entry in one table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from edm.api.auth import Caller
from edm.clock import Clock
from edm.config import Settings

OnChange = Callable[[str, Mapping[str, Any]], None]
"""Called after a write is committed, with what changed: ("orders", {"customer_ids": [...]}),
("event", {"customer_id": ..., "name": ...}). The one place reactions (reclassification, event
triggers) hook in; the default does nothing."""


def no_reaction(what: str, details: Mapping[str, Any]) -> None:
    """The default `OnChange`."""


@dataclass(frozen=True)
class Services:
    sessions: sessionmaker[Session]
    settings: Settings
    clock: Clock
    on_change: OnChange = no_reaction


@dataclass(frozen=True)
class Call:
    """One request as a handler sees it: the body already parsed into the operation's model."""

    services: Services
    caller: Caller
    body: Any
    path: Mapping[str, str]
    headers: Mapping[str, str]

    @property
    def now(self) -> datetime:
        return self.services.clock.now()


class ApiError(Exception):
    """A request refused: its status, an error code, a message, and field errors if any."""

    def __init__(self, status: int, error: str, message: str,
                 errors: list[tuple[int | None, str, str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.errors = errors or []


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # Starlette style: /v1/customers/{external_id}
    name: str  # operationId
    scope: str
    summary: str
    handler: Callable[[Call], tuple[int, BaseModel]]
    response: type[BaseModel]
    body: type[BaseModel] | None = None
    status: int = 200
    headers: tuple[str, ...] = ()  # request headers the operation reads (documented)
    responses: Mapping[int, str] = field(default_factory=dict)  # extra statuses it may answer
    media_type: str = "application/json"  # another: the handler returns a `schemas.Download`
    forgets: bool = False  # erases the person its path names: api_audit keeps the path's template only

    @property
    def writes(self) -> bool:
        return self.method != "GET"
