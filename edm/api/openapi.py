"""The OpenAPI 3.1 document, built from the operations table and the pydantic models' JSON schemas."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from edm import __version__
from edm.api.routing import Operation
from edm.api.schemas import ErrorOut

REF = "#/components/schemas/{model}"
JSON = "application/json"
_FAILURES = {401: "no key, or a wrong or revoked one", 403: "the key lacks the scope",
             413: "the body is larger than api.max_body_bytes", 422: "invalid input; nothing written",
             429: "over the key's rate; retry after Retry-After seconds"}


def openapi_document(operations: tuple[Operation, ...]) -> dict[str, Any]:
    models: list[type[BaseModel]] = [ErrorOut]
    for op in operations:
        models += [*([op.response] if op.media_type == JSON else []), *([op.body] if op.body else [])]
    unique = list(dict.fromkeys(models))
    keys, schemas = models_json_schema([(m, "validation") for m in unique], ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, keys)
    return {
        "openapi": "3.1.0",
        "info": {"title": "edm API", "version": __version__,
                 "description": "Customers, orders and events in; cards and campaigns out. See docs/api.md."},
        "paths": paths,
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer",
                                           "description": "Bearer edm_... (edm api-key create)"}},
        },
        "security": [{"apiKey": []}],
    }


def _ref(keys: dict[Any, Any], model: type[BaseModel]) -> dict[str, Any]:
    return dict(keys[(model, "validation")])


def _operation(op: Operation, keys: dict[Any, Any]) -> dict[str, Any]:
    error = {"application/json": {"schema": _ref(keys, ErrorOut)}}
    schema = (_ref(keys, op.response) if op.media_type == JSON
              else {"type": "string", "contentMediaType": op.media_type})
    success = {"description": "done", "content": {op.media_type: {"schema": schema}}}
    responses: dict[str, Any] = {str(op.status): success, "200": success}
    for status, text in op.responses.items():
        responses[str(status)] = success if status < 300 else {"description": text, "content": error}
    failures = [401, 403, 429, *([413, 422] if op.body is not None else [])]
    for status in failures:
        responses[str(status)] = {"description": _FAILURES[status], "content": error}
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in re.findall(r"{(\w+)}", op.path)]
    parameters += [{"name": name, "in": "header", "required": False,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 128}} for name in op.headers]
    operation: dict[str, Any] = {"operationId": op.name, "summary": op.summary,
                                 "description": f"Scope: `{op.scope}`.", "responses": responses}
    if parameters:
        operation["parameters"] = parameters
    if op.body is not None:
        operation["requestBody"] = {"required": True,
                                    "content": {"application/json": {"schema": _ref(keys, op.body)}}}
    return operation
