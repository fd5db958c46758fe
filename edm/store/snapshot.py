"""The orders' snapshot: classification's copy of the orders as columns, kept in the store itself.

Reading ten million orders back out of their table takes SQLite about seven seconds, a column of
numbers stored as a blob a fraction of one. So classification keeps the columns it reads
(`OrderSnapshot`, `OrderSnapshotPart`): each column cut in parts of `PART_ROWS` values, its bytes
little-endian. What the snapshot stands for (which orders, and as of which count of edits) is
decided by edm.customers.columns; here it is only written and read.

It is written in a transaction of its own, short (about a second at ten million orders), so the
store's write lock is not held while classification computes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection, delete, insert, select

from edm.store.models import OrderSnapshot, OrderSnapshotPart

PART_ROWS = 1_000_000  # values per blob: 8 MB of a float column
SNAPSHOT_ID = 1


@dataclass(frozen=True)
class Snapshot:
    """Every order up to id `through`, as of `order_changes` edits; `columns` by name, aligned."""

    through: int
    order_changes: int
    line_names: tuple[str, ...]
    columns: dict[str, np.ndarray[Any, Any]]


@dataclass(frozen=True)
class Header:
    """What the stored snapshot stands for, read before its columns."""

    through: int
    order_changes: int
    orders: int
    line_names: tuple[str, ...]


def snapshot_header(connection: Connection) -> Header | None:
    header = select(OrderSnapshot.through, OrderSnapshot.order_changes, OrderSnapshot.orders,
                    OrderSnapshot.line_names)
    row = connection.execute(header.where(OrderSnapshot.id == SNAPSHOT_ID)).first()
    if row is None:
        return None
    return Header(row.through, row.order_changes, row.orders, tuple(row.line_names))


def snapshot_columns(
    connection: Connection, header: Header, dtypes: dict[str, np.dtype[Any]]
) -> dict[str, np.ndarray[Any, Any]] | None:
    """The stored columns named in `dtypes`, or None when one is missing or not `header.orders` long."""
    columns = {}
    for name, dtype in dtypes.items():
        query = (select(OrderSnapshotPart.data).where(OrderSnapshotPart.column == name)
                 .order_by(OrderSnapshotPart.part))
        values = np.empty(header.orders, dtype)
        filled = 0
        for data in connection.scalars(query):  # one part's bytes alive at a time, copied into the column
            part = np.frombuffer(data, dtype.newbyteorder("<"))
            if filled + len(part) > header.orders:
                return None
            values[filled:filled + len(part)] = part
            filled += len(part)
        if filled != header.orders:
            return None
        columns[name] = values
    return columns


def write_snapshot(connection: Connection, snapshot: Snapshot) -> None:
    """Replace the stored snapshot with this one, in the caller's transaction."""
    connection.execute(delete(OrderSnapshotPart))
    connection.execute(delete(OrderSnapshot))
    lengths = {len(values) for values in snapshot.columns.values()}
    if len(lengths) > 1:
        raise ValueError("the snapshot's columns differ in length")
    orders = lengths.pop() if lengths else 0
    connection.execute(insert(OrderSnapshot), {
        "id": SNAPSHOT_ID, "through": snapshot.through, "order_changes": snapshot.order_changes,
        "orders": orders, "line_names": list(snapshot.line_names),
    })
    for name, values in snapshot.columns.items():
        little = values.astype(values.dtype.newbyteorder("<"), copy=False)
        for part, start in enumerate(range(0, orders, PART_ROWS)):
            connection.execute(insert(OrderSnapshotPart), {
                "column": name, "part": part, "data": little[start:start + PART_ROWS].tobytes(),
            })
