"""Bulk writes at DBAPI speed, inside the session's transaction.

ORM or Core inserts cost microseconds of Python per row, which is minutes at ten million
rows. Here rows are plain tuples already in the form the database stores (see
`sql_timestamps`), handed to the driver's `executemany` in one upsert statement, so the
only per-row cost left is the driver's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import Table
from sqlalchemy.orm import Session

BATCH_ROWS = 50_000  # rows per executemany call: bounds the driver's buffers on PostgreSQL


def bulk_upsert(
    session: Session,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    key: Sequence[str],
    update: Sequence[str] | None = None,
) -> int:
    """Insert `rows`, or update `update` columns where `key` exists and a value differs.

    Returns how many rows were inserted or changed: rows whose stored values are already
    the same are not rewritten and not counted. `update=None` updates every non-key column.
    """
    if not rows:
        return 0
    dialect = session.get_bind().dialect
    quote = dialect.identifier_preparer.quote
    update = [c for c in columns if c not in key] if update is None else list(update)
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    target = quote(table.name)
    names = ", ".join(quote(c) for c in columns)
    values = ", ".join(marker for _ in columns)
    conflict = ", ".join(quote(c) for c in key)
    statement = f"INSERT INTO {target} ({names}) VALUES ({values}) ON CONFLICT ({conflict}) "  # noqa: S608
    if update:
        assignments = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in update)
        differs = " OR ".join(f"{target}.{quote(c)} IS DISTINCT FROM excluded.{quote(c)}" for c in update)
        if dialect.name == "sqlite":
            differs = differs.replace("IS DISTINCT FROM", "IS NOT")
        statement += f"DO UPDATE SET {assignments} WHERE {differs}"
    else:
        statement += "DO NOTHING"
    cursor = session.connection().connection.cursor()
    written = 0
    try:
        for start in range(0, len(rows), BATCH_ROWS):
            cursor.executemany(statement, rows[start : start + BATCH_ROWS])
            written += max(cursor.rowcount, 0)
    finally:
        cursor.close()
    return written


def nullable(values: np.ndarray[Any, Any], dialect_name: str) -> list[Any]:
    """Floats with NaN as NULL. SQLite already stores a bound NaN as NULL, so only others pay for it."""
    if dialect_name == "sqlite":
        return list(values.tolist())
    return [None if v != v else v for v in values.tolist()]  # v != v only for NaN


def sql_timestamps(values: np.ndarray[Any, Any], dialect_name: str) -> list[str | None]:
    """UTC datetime64 values as the text each database reads back as the same instant.

    SQLite gets SQLAlchemy's own storage format ('YYYY-MM-DD HH:MM:SS.ffffff', UTC);
    PostgreSQL gets ISO text with an explicit +00:00. NaT becomes NULL.
    """
    micro = np.asarray(values).astype("datetime64[us]")
    if not micro.size:
        return []
    texts = np.datetime_as_string(micro, unit="us")
    if texts.dtype.itemsize > 40:  # 'YYYY-MM-DDTHH:..' -> 'YYYY-MM-DD HH:..', in place
        texts.view(np.uint32).reshape(len(texts), -1)[:, 10] = ord(" ")
    if dialect_name != "sqlite":
        texts = np.char.add(texts, "+00:00")
    missing = np.isnat(micro)
    if not missing.any():
        return list(texts.tolist())
    return [None if gap else t for t, gap in zip(texts.tolist(), missing.tolist(), strict=True)]
