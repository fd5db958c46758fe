"""The HTTP API as a Starlette app: each operation of edm/api/routes behind the same gate.

The gate, in order: the body's declared size (413), the key (401), its scope (403), its rate
(429 with Retry-After), the body read within the size limit (413) and parsed into the
operation's model (422 with field errors). Only then does the handler run, so a refused request
writes nothing. A write that succeeded is recorded in api_audit (who, what, when).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from edm.api.auth import Caller, RateLimiter, authenticate
from edm.api.openapi import openapi_document
from edm.api.routes import OPERATIONS
from edm.api.routing import ApiError, Call, OnChange, Operation, Services, no_reaction
from edm.api.rows import InvalidItems
from edm.api.schemas import Download, ErrorOut, FieldError
from edm.clock import Clock
from edm.config import Settings
from edm.store import ApiAudit

PREFIXES = ("/v1/", "/openapi.json", "/docs")


def create_api_app(sessions: sessionmaker[Session], settings: Settings, clock: Clock,
                   on_change: OnChange = no_reaction,
                   operations: tuple[Operation, ...] = OPERATIONS) -> Starlette:
    """The API over `sessions`. `on_change` is called after each committed write (reactions hook in)."""
    services = Services(sessions, settings, clock, on_change)
    limiter = RateLimiter()
    document = openapi_document(operations)
    routes = [Route(op.path, _endpoint(op, services, limiter), methods=[op.method], name=op.name)
              for op in operations]

    async def openapi(request: Request) -> Response:
        return JSONResponse(document)

    async def docs(request: Request) -> Response:
        return HTMLResponse(_docs_page(operations))

    routes += [Route("/openapi.json", openapi), Route("/docs", docs)]
    return Starlette(routes=routes)


def with_tracking(api: ASGIApp, tracking: ASGIApp) -> ASGIApp:
    """One server for both: the API's paths to the API, the rest (and the lifespan) to tracking."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and any(path.startswith(p) for p in PREFIXES):
            await api(scope, receive, send)
        else:
            await tracking(scope, receive, send)

    return app


def _error(status: int, error: str, message: str, errors: list[tuple[int | None, str, str]] | None = None,
           headers: Mapping[str, str] | None = None) -> JSONResponse:
    body = ErrorOut(error=error, message=message,
                    errors=[FieldError(item=i, field=f, reason=r) for i, f, r in errors or []])
    return JSONResponse(body.model_dump(mode="json"), status, headers=dict(headers or {}))


def _endpoint(op: Operation, services: Services, limiter: RateLimiter) -> Any:
    limit = services.settings.api.max_body_bytes

    async def endpoint(request: Request) -> Response:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return _error(413, "too_large", f"the body is over {limit} bytes")
        caller = await run_in_threadpool(_caller, services, request.headers.get("authorization", ""))
        if caller is None:
            return _error(401, "unauthorized", "give a valid API key: Authorization: Bearer edm_...",
                          headers={"WWW-Authenticate": "Bearer"})
        if op.scope not in caller.scopes:
            return _error(403, "forbidden", f"the key {caller.name!r} lacks the scope {op.scope}")
        rate = caller.rate_per_minute or services.settings.api.default_rate_per_minute
        wait = limiter.take(caller.key_id, rate)
        if wait:
            return _error(429, "rate_limited", f"over the key's rate; retry in {wait} s",
                          headers={"Retry-After": str(wait)})
        if any("\x00" in value for value in request.path_params.values()):
            return _error(422, "invalid", "a path parameter contains a NUL character")
        body: BaseModel | None = None
        if op.body is not None:
            raw = bytearray()
            async for part in request.stream():
                raw += part
                if len(raw) > limit:
                    return _error(413, "too_large", f"the body is over {limit} bytes")
            try:
                body = _parse(op.body, bytes(raw), services.settings.api.max_batch_items)
            except ApiError as exc:
                return _error(exc.status, exc.error, exc.message, exc.errors)
        call = Call(services, caller, body, dict(request.path_params), request.headers)
        try:
            status, reply = await run_in_threadpool(op.handler, call)
        except ApiError as exc:
            return _error(exc.status, exc.error, exc.message, exc.errors)
        except InvalidItems as exc:
            single = not hasattr(body, "items")
            return _error(422, "invalid", "invalid input; nothing was written",
                          [(None if single else item, field, reason) for item, field, reason in exc.problems])
        if op.writes:
            await run_in_threadpool(_audit, services, caller, op, request, status, body, reply)
        if isinstance(reply, Download):
            return Response(reply.content, status, media_type=op.media_type,
                            headers={"Content-Disposition": f'attachment; filename="{reply.filename}"'})
        return JSONResponse(reply.model_dump(mode="json"), status)

    return endpoint


def _caller(services: Services, authorization: str) -> Caller | None:
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return None
    with services.sessions() as session:
        return authenticate(session, key.strip())


def _parse(model: type[BaseModel], raw: bytes, max_items: int) -> BaseModel:
    try:
        data = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(422, "invalid", "the body is not JSON", [(None, "(body)", "not valid JSON")]) from exc
    try:
        body = model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, "invalid", "invalid input; nothing was written", _field_errors(exc)) from exc
    items = getattr(body, "items", None)
    if isinstance(items, list) and len(items) > max_items:
        raise ApiError(422, "invalid", f"at most {max_items} items per request (api.max_batch_items)",
                       [(None, "items", f"{len(items)} items, at most {max_items}")])
    return body


def _field_errors(exc: ValidationError) -> list[tuple[int | None, str, str]]:
    errors: list[tuple[int | None, str, str]] = []
    for error in exc.errors(include_url=False, include_input=False):
        location = list(error["loc"])
        item = None
        if len(location) >= 2 and location[0] == "items" and isinstance(location[1], int):
            item, location = location[1], location[2:]
        field = ".".join(str(part) for part in location) or "(body)"
        errors.append((item, field, error["msg"]))
    return errors


def _audit(services: Services, caller: Caller, op: Operation, request: Request, status: int,
           body: BaseModel | None, reply: BaseModel) -> None:
    named = {} if op.forgets else request.path_params  # an erased person's id is kept nowhere
    summary: dict[str, Any] = {"operation": op.name, "key": caller.name, **named,
                               "result": reply.model_dump(mode="json")}
    for name in ("reason", "source"):
        if body is not None and getattr(body, name, None) is not None:
            summary[name] = getattr(body, name)
    with services.sessions.begin() as session:
        path = op.path if op.forgets else request.url.path
        session.add(ApiAudit(key_id=caller.key_id, method=op.method, path=path[:500],
                             status=status, summary=summary, occurred_at=services.clock.now()))


def _docs_page(operations: tuple[Operation, ...]) -> str:
    rows = "".join(
        f"<tr><td><code>{op.method}</code></td><td><code>{html.escape(op.path)}</code></td>"
        f"<td><code>{op.scope}</code></td><td>{html.escape(op.summary)}</td></tr>" for op in operations)
    return ("<!doctype html><html><head><meta charset=utf-8><title>edm API</title>"
            "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td{padding:.3em .6em}</style>"
            "</head><body><h1>edm API</h1><p>Every request takes <code>Authorization: Bearer edm_...</code> "
            "(<code>edm api-key create</code>). Bodies and answers: <a href=/openapi.json>/openapi.json</a> "
            "(OpenAPI 3.1); the guide: docs/api.md.</p><table><tr><th>Method</th><th>Path</th><th>Scope</th>"
            f"<th>What</th></tr>{rows}</table></body></html>")
