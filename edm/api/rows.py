"""Items sent over the API, written exactly as rows of an import file are.

The smallest reuse point of the importer: the items become chunks of text cells (one column per
field given), go through `checks.check_chunk` with the importer's `Context`, and are upserted by
`writer.bulk_store` in one transaction. Items giving different fields are checked as separate
chunks, so a field an item leaves out is left as stored (as a column a file lacks). One bad item
and nothing is written (the importer's default).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from edm.config import ImportKind, ImportSettings
from edm.consent.imported import ImportedConsents
from edm.customers.checks import KINDS, Context, Layout, check_chunk
from edm.customers.seen import SeenKeys
from edm.customers.sources import Chunk
from edm.customers.tags import ATTRIBUTE_PREFIX, check_attribute_name
from edm.customers.writer import bulk_store
from edm.errors import EdmError

Problem = tuple[int, str, str]  # item, field, reason
_FIRST_ROW = re.compile(r"first on row (\d+)")


class InvalidItems(EdmError):
    """Items the importer's rules refuse: (item, field, reason) each; nothing was written."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__(f"{len(problems)} invalid field(s)")
        self.problems = list(problems)


@dataclass(frozen=True)
class Written:
    inserted: int
    updated: int
    unchanged: int


def cell(value: Any) -> str:
    """A JSON value as the text of a file's cell: numbers as written, a list of tags joined."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value).strip()


def store_items(sessions: sessionmaker[Session], kind: ImportKind, items: Sequence[Mapping[str, Any]],
                now: datetime, settings: ImportSettings, keys: Sequence[bytes] | None = None) -> Written:
    """Check and upsert `items` (field -> JSON value, only the fields given) in one transaction; a
    customer's erased mailbox is held as an import's is (`keys`: edm.consent.imported.lookup_keys)."""
    spec = KINDS[kind]
    groups: dict[tuple[str, ...], list[int]] = {}
    for at, item in enumerate(items):
        groups.setdefault(tuple(sorted(item)), []).append(at)
    problems = _attribute_problems(items)
    if problems:
        raise InvalidItems(problems)
    with bulk_store(sessions) as store:
        context = Context(now, SeenKeys(), store.customer_ids, settings.date_format,
                          settings.default_locale, settings.default_timezone, "api")
        consents = ImportedConsents(store.connection, keys, now) if "email" in spec.fields else None
        before = store.count(spec.table)
        good = changed = 0
        for names, positions in groups.items():
            layout, chunk = _chunk(kind, names, [items[at] for at in positions], positions)
            checked = check_chunk(layout, chunk, context)
            found = checked.problems(chunk.rows)
            problems.extend((row - 1, _field(column), _item_reason(reason)) for row, column, reason in found)
            if not problems:
                changed += store.upsert(checked.target, checked.values, checked.good)
                good += int(checked.good.sum())
                if consents is not None:
                    consents.record(checked.values["email"], checked.values, checked.good)
        if problems:
            raise InvalidItems(sorted(problems, key=lambda p: p[0]))  # rolls the transaction back
        inserted = store.inserted_since(spec.table, before, changed)
    return Written(inserted, changed - inserted, good - changed)


def _chunk(kind: ImportKind, names: Sequence[str], items: Sequence[Mapping[str, Any]],
           positions: Sequence[int]) -> tuple[Layout, Chunk]:
    spec = KINDS[kind]
    needed = set(spec.required)
    if spec.one_of and not set(spec.one_of) & set(names):
        needed |= set(spec.one_of)  # empty: the importer's own "give one of" problem
    fields = [name for name in spec.fields if name in names or name in needed]
    columns = [np.array([cell(item.get(name)) for item in items], dtype=object) for name in fields]
    attributes: dict[str, int] = {}
    if "attributes" in names:
        attribute_names = sorted({name for item in items for name in (item.get("attributes") or {})})
        for name in attribute_names:
            attributes[name] = len(columns)
            columns.append(np.array([cell((item.get("attributes") or {}).get(name)) for item in items],
                                    dtype=object))
    headers = {name: name for name in spec.fields}
    headers.update({ATTRIBUTE_PREFIX + name: ATTRIBUTE_PREFIX + name for name in attributes})
    layout = Layout(spec, {name: at for at, name in enumerate(fields)}, headers, attributes)
    # Rows are numbered from 1 (the duplicate check takes 0 for "not seen"); items from 0.
    return layout, Chunk(np.array(positions, dtype=np.int64) + 1, columns)


def _item_reason(reason: str) -> str:
    """The importer's "first on row N" as the batch's item number."""
    return _FIRST_ROW.sub(lambda m: f"first as item {int(m.group(1)) - 1}", reason)


def _field(column: str) -> str:
    return f"attributes.{column[len(ATTRIBUTE_PREFIX):]}" if column.startswith(ATTRIBUTE_PREFIX) else column


def _attribute_problems(items: Sequence[Mapping[str, Any]]) -> list[Problem]:
    problems: list[Problem] = []
    for at, item in enumerate(items):
        for name in item.get("attributes") or {}:
            try:
                check_attribute_name(name)
            except ValueError as exc:
                problems.append((at, f"attributes.{name}", str(exc)))
    return problems
