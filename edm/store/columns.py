"""Query results as numpy columns, without a Python object per value where it can be helped.

Classification reads ten million orders; through the DBAPI cursor every value becomes a
Python object first, about 1.3 s per million orders here. For a large read of a SQLite
file the queries run through ADBC instead, which builds Arrow arrays in C: ten million
orders in about 3 s, read as two id ranges at once.

ADBC links its own copy of SQLite, and two copies of SQLite in one process corrupt a
database (their POSIX locks cancel each other: sqlite.org/howtocorrupt.html, 2.2.1;
seen here as the WAL file vanishing). So ADBC only ever runs in worker processes,
started with spawn so that they inherit no open connection. ADBC guesses each column's
type from its first batch, so the whole result is one batch: a column that starts with
NULLs is still typed right. Small reads, and other databases, use the cursor, one
structured-array batch at a time.

Columns are named by the query's labels and typed by its declared types: integers
(never NULL), floats (NULL as NaN) and text (object arrays, NULL as None).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray
from sqlalchemy import Connection, Select

Columns = dict[str, NDArray[Any]]
FETCH_ROWS = 100_000
_ONE_BATCH = {"adbc.sqlite.query.batch_rows": str(2**30)}  # the driver's largest power of two


def read_columns(connection: Connection, query: Select[Any]) -> Columns:
    """The query's result, one array per selected column, through the cursor."""
    return _read_with_cursor(connection, query)


def read_columns_at_once(
    connection: Connection, queries: Sequence[Select[Any]], *, large: bool
) -> list[Columns]:
    """Several results; `large` ones from a SQLite file are read by ADBC in worker processes."""
    path = _sqlite_file(connection)
    if path is None or not large:
        return [_read_with_cursor(connection, query) for query in queries]
    sqls = [_sql(connection, query) for query in queries]
    dtypes = [_dtype(query) for query in queries]
    workers = min(len(queries), os.cpu_count() or 1)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_read_with_adbc, [path] * len(queries), sqls, dtypes))


def _sqlite_file(connection: Connection) -> str | None:
    url = connection.engine.url
    if connection.dialect.name != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return url.database


def _read_with_adbc(path: str, sql: str, dtype: np.dtype[Any]) -> Columns:
    """Runs in a worker process only (see the module's docstring)."""
    import adbc_driver_sqlite.dbapi

    with closing(adbc_driver_sqlite.dbapi.connect(path)) as database, closing(database.cursor()) as cursor:
        cursor.adbc_statement.set_options(**_ONE_BATCH)
        cursor.execute(sql)
        table = cursor.fetch_arrow_table()
    names = dtype.names or ()
    return {name: _from_arrow(table.column(at), dtype[name]) for at, name in enumerate(names)}


def _from_arrow(column: pa.ChunkedArray, dtype: np.dtype[Any]) -> NDArray[Any]:
    if dtype.kind != "O":
        values = column.cast(pa.float64() if dtype.kind == "f" else pa.int64())
        return np.asarray(values.to_numpy(), dtype=dtype)
    # text through a dictionary: each distinct string becomes one Python object, not each row
    encoded = pc.dictionary_encode(column.cast(pa.string())).combine_chunks()
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    distinct = np.array([*encoded.dictionary.to_pylist(), None], dtype=object)
    return distinct[codes]  # type: ignore[no-any-return]


def _read_with_cursor(connection: Connection, query: Select[Any]) -> Columns:
    dtype = _dtype(query)
    batches = list(_record_batches(connection, _sql(connection, query), dtype))
    rows = np.concatenate(batches) if batches else np.empty(0, dtype)
    return {name: np.ascontiguousarray(rows[name]) for name in dtype.names or ()}


def _record_batches(connection: Connection, sql: str, dtype: np.dtype[Any]) -> Iterator[NDArray[Any]]:
    """The rows in structured arrays of up to FETCH_ROWS: one `np.array` call turns a batch into columns."""
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(FETCH_ROWS):
            yield np.array(rows, dtype=dtype)
    finally:
        cursor.close()


def _dtype(query: Select[Any]) -> np.dtype[Any]:
    """A structured dtype from the query's labels and declared types."""
    kinds = {int: "i8", str: "O", float: "f8", Decimal: "f8"}
    return np.dtype([(column.key, kinds[column.type.python_type]) for column in query.selected_columns])


def _sql(connection: Connection, query: Select[Any]) -> str:
    return str(query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
