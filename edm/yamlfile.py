"""Read a YAML file into a pydantic model, with errors that name file, line and field.

PyYAML's composed node tree keeps the position of every key and value; a pydantic
error location (a path of keys and indexes) is walked through that tree to find
the line the user has to fix. Unknown keys get a "did you mean" from the model.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)


def load_model(path: Path, model: type[ModelT], error: type[Exception]) -> ModelT:
    """Parse `path` as `model`; raise `error` with "file:line:col: field: problem" lines."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise error(f"{where}: invalid YAML: {exc.problem}") from exc
    if not isinstance(data, dict):
        raise error(f"{path}:1:1: expected a mapping of keys to values at the top level")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = [_describe(path, root, model, err) for err in exc.errors()]
        raise error("\n".join(lines)) from exc


def _describe(path: Path, root: yaml.Node | None, model: type[BaseModel], err: Any) -> str:
    loc: Sequence[str | int] = err["loc"]
    field = ".".join(str(part) for part in loc) or "(top level)"
    message = err["msg"]
    if err["type"] == "extra_forbidden" and loc:
        known = _known_keys(model, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        message = f"unknown key {loc[-1]!r}" + (f"; did you mean {close[0]!r}?" if close else "")
        if not close and known:
            message += f"; expected one of: {', '.join(sorted(known))}"
    node = _node_at(root, loc, key_node=err["type"] == "extra_forbidden")
    where = f"{path}:{node.start_mark.line + 1}:{node.start_mark.column + 1}" if node else f"{path}"
    return f"{where}: {field}: {message}"


def _node_at(root: yaml.Node | None, loc: Sequence[str | int], *, key_node: bool) -> yaml.Node | None:
    """The deepest node along `loc`; for an unknown key, the key itself."""
    node = root
    for i, part in enumerate(loc):
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    node = key if key_node and i == len(loc) - 1 else value
                    break
            else:
                return node
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return node
    return node


def _known_keys(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """Keys (field aliases where set) of the (nested) model at `loc`, for "did you mean" suggestions."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", {})
        field = next((f for name, f in fields.items() if (f.alias or name) == part), None)
        if field is None:
            return []
        current = _inner_model(field.annotation)
    return [f.alias or name for name, f in getattr(current, "model_fields", {}).items()]


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None
