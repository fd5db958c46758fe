"""Read a YAML file into a pydantic model, with errors that name file, line and field.

PyYAML's composed node tree keeps the position of every key and value; a pydantic
error location (a path of keys and indexes) is walked through that tree to find
the line the user has to fix. Unknown keys get a "did you mean" from the model.

Files are read defensively, before anything is built from them: a key written twice in
one mapping is an error naming both lines (YAML would keep the last one silently), and
nesting and aliases are bounded (`MAX_DEPTH`, `MAX_NODES` counted as if every alias were
written out), so a few hundred bytes of "billion laughs" fail at once instead of
exhausting memory in validation. Messages never show the validator's own wording
("Value error, ...", input values, documentation links).
"""

from __future__ import annotations

import difflib
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)

MAX_BYTES = 1_000_000  # a campaign or settings file is a few kilobytes
MAX_DEPTH = 50  # mappings and lists inside each other, as written
MAX_NODES = 100_000  # values once every alias is expanded
_MERGE_TAG = "tag:yaml.org,2002:merge"
_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")


class _Refused(Exception):
    """A problem found before the data is built, at `mark` (where its node or event starts)."""

    def __init__(self, mark: Any, message: str) -> None:
        self.mark = mark
        super().__init__(message)


def load_yaml(path: Path, error: type[Exception]) -> tuple[Any, yaml.Node | None]:
    """The data in `path` and its node tree (for line numbers); raise `error` with "file:line:col: problem"
    for unreadable or invalid YAML, a duplicate key, or nesting or aliases beyond the bounds."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror}") from exc
    if len(raw) > MAX_BYTES:
        raise error(f"{path}: larger than {MAX_BYTES} bytes; is it the right file?")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc
    try:
        _check_depth(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        if root is None:
            return None, None
        _check_nodes(root)
        loader = yaml.SafeLoader("")
        try:
            data = loader.construct_document(root)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise error(f"{where}: invalid YAML: {exc.problem or exc.context}") from exc
    except yaml.YAMLError as exc:
        raise error(f"{path}: invalid YAML: {exc}") from exc
    except _Refused as exc:
        mark = exc.mark
        raise error(f"{path}:{mark.line + 1}:{mark.column + 1}: {exc}") from exc
    return data, root


def load_model(path: Path, model: type[ModelT], error: type[Exception]) -> ModelT:
    """Parse `path` as `model`; raise `error` with "file:line:col: field: problem" lines."""
    data, root = load_yaml(path, error)
    if not isinstance(data, dict):
        raise error(f"{path}:1:1: expected a mapping of keys to values at the top level")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = [_describe(path, root, model, err) for err in exc.errors()]
        raise error("\n".join(lines)) from exc


def position(root: yaml.Node | None, loc: Sequence[str | int]) -> tuple[int, int] | None:
    """(line, column), from 1, of the value at `loc` (a path of keys and indexes) in `root`."""
    node = _node_at(root, loc, key_node=False)
    return (node.start_mark.line + 1, node.start_mark.column + 1) if node is not None else None


def validation_message(err: Any) -> str:
    """A pydantic error's message without the validator's own prefix ("Value error, ...")."""
    message = str(err["msg"])
    for prefix in _PYDANTIC_PREFIXES:
        message = message.removeprefix(prefix)
    return message


def _check_depth(text: str) -> None:
    """Refuse deep nesting from the event stream, before the (recursive) composer sees it."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise _Refused(event.start_mark, f"nested more than {MAX_DEPTH} levels deep")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _check_nodes(root: yaml.Node) -> None:
    """Duplicate keys, aliases that refer to themselves, and the size once aliases are expanded."""
    sizes: dict[int, int] = {}
    visiting: set[int] = set()

    def size(node: yaml.Node, depth: int) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        if id(node) in visiting:
            raise _Refused(node.start_mark, "an alias refers to the value that contains it")
        if depth > 4 * MAX_DEPTH:
            deep = f"nested more than {4 * MAX_DEPTH} levels deep once aliases are expanded"
            raise _Refused(node.start_mark, deep)
        visiting.add(id(node))
        total = 1
        if isinstance(node, yaml.MappingNode):
            _check_duplicates(node)
            for key, value in node.value:
                total += size(key, depth + 1) + size(value, depth + 1)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                total += size(item, depth + 1)
        visiting.discard(id(node))
        if total > MAX_NODES:
            raise _Refused(node.start_mark, f"this value holds more than {MAX_NODES} values once its "
                                            "aliases are expanded; write it out without aliases")
        sizes[id(node)] = total
        return total

    size(root, 0)


def _check_duplicates(node: yaml.MappingNode) -> None:
    """Keys compare as YAML reads them: `on` and `yes` are both true, `~` and `null` both null."""
    seen: dict[tuple[str, Any], yaml.Node] = {}
    reader = yaml.SafeLoader("")
    try:
        for key, _ in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE_TAG:
                continue
            value = reader.construct_object(key)
            first = seen.setdefault((key.tag, value if isinstance(value, Hashable) else key.value), key)
            if first is not key:
                line = first.start_mark.line + 1
                raise _Refused(key.start_mark, f"duplicate key {key.value!r} (first at line {line}); "
                                               "YAML would silently keep only the last one")
    finally:
        reader.dispose()


def _describe(path: Path, root: yaml.Node | None, model: type[BaseModel], err: Any) -> str:
    loc: Sequence[str | int] = err["loc"]
    field = ".".join(str(part) for part in loc) or "(top level)"
    message = validation_message(err)
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
