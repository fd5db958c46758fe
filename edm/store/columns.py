"""Query results as numpy columns, without a Python object per value where it can be helped.

Classification reads ten million orders; through the DBAPI cursor every value becomes a
Python object first, about 1.3 s per million orders here. For a large read of a SQLite
file the queries run through ADBC instead, which builds Arrow arrays in C: ten million
orders in about 3 s, read as two id ranges at once.

ADBC links its own copy of SQLite, and two copies of SQLite in one process corrupt a
database (their POSIX locks cancel each other: sqlite.org/howtocorrupt.html, 2.2.1;
seen here as the write-ahead log vanishing). So ADBC only ever runs in a child
interpreter (`edm.adbc_reader`), which reads all the queries on threads at once and
hands each result back as an Arrow IPC file. Small reads, and other databases, use
the cursor, one structured-array batch at a time.

Columns are named by the query's labels and typed by its declared types: integers
(never NULL), floats (NULL as NaN) and text (object arrays, NULL as None).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray
from sqlalchemy import Connection, Select

from edm.errors import StoreReadError

Columns = dict[str, NDArray[Any]]
FETCH_ROWS = 100_000

# Arrow's own pool (mimalloc) keeps what it frees for reuse: after the read of ten million orders, half
# a gigabyte the process holds to its end. malloc gives large blocks back as they are freed. (Arrow
# works in edm for these reads only.)
pa.set_memory_pool(pa.system_memory_pool())


def read_columns_at_once(
    connection: Connection, queries: Sequence[Select[Any]], *, large: bool
) -> list[Columns]:
    """Several results; `large` ones from a SQLite file are read by ADBC in child processes."""
    with start_reading(connection, queries, large=large) as reading:
        return reading.collect()


class Reading:
    """Results a child process reads while the caller works on (`start_reading`); `collect` waits for
    them. Leaving the `with` block stops a child still reading and removes its files."""

    def __init__(self, results: list[Columns] | None = None, child: subprocess.Popen[str] | None = None,
                 folder: str | None = None, outs: Sequence[tuple[str, np.dtype[Any]]] = (),
                 database: str = "") -> None:
        self._results, self._child, self._folder = results, child, folder
        self._outs, self._database = outs, database  # each result's Arrow file and dtype

    def collect(self) -> list[Columns]:
        if self._results is None:
            assert self._child is not None and self._folder is not None
            if self._child.wait():
                errors = (Path(self._folder) / "stderr").read_text(errors="replace").strip()
                raise StoreReadError(f"reading {self._database} through ADBC failed: {errors[-2000:]}")
            self._results = [_from_arrow_file(out, dtype) for out, dtype in self._outs]
        return self._results

    def __enter__(self) -> Reading:
        return self

    def __exit__(self, *_: object) -> None:
        if self._child is not None and self._child.poll() is None:
            self._child.kill()
            self._child.wait()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)


def start_reading(connection: Connection, queries: Sequence[Select[Any]], *, large: bool) -> Reading:
    """`read_columns_at_once`, collected later: `large` results from a SQLite file are read by a child
    process meanwhile (the others are read now)."""
    path = _sqlite_file(connection)
    if path is None or not large:
        return Reading([read_columns(connection, query) for query in queries])
    folder = tempfile.mkdtemp(prefix="edm-read-")
    outs = [str(Path(folder) / f"{n}.arrow") for n in range(len(queries))]
    job = {"database": path, "queries": [{"sql": _sql(connection, query), "out": out}
                                         for query, out in zip(queries, outs, strict=True)]}
    try:
        with open(Path(folder) / "stderr", "w") as errors:  # a file: a pipe nobody reads could fill up
            child = subprocess.Popen([sys.executable, "-m", "edm.adbc_reader"], stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, stderr=errors, text=True)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    assert child.stdin is not None
    with contextlib.suppress(BrokenPipeError), child.stdin:  # a child that died says why in `collect`
        child.stdin.write(json.dumps(job))
    typed = [(out, _dtype(query)) for out, query in zip(outs, queries, strict=True)]
    return Reading(None, child, folder, typed, path)


def _sqlite_file(connection: Connection) -> str | None:
    url = connection.engine.url
    if connection.dialect.name != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return url.database


def _from_arrow_file(path: str, dtype: np.dtype[Any]) -> Columns:
    with pa.OSFile(path) as source:
        table = pa.ipc.open_file(source).read_all()
    return {name: _from_arrow(table.column(at), dtype[name]) for at, name in enumerate(dtype.names or ())}


def _from_arrow(column: pa.ChunkedArray, dtype: np.dtype[Any]) -> NDArray[Any]:
    if dtype.kind != "O":
        values = column.cast(pa.float64() if dtype.kind == "f" else pa.int64())
        return np.asarray(values.to_numpy(), dtype=dtype)
    # text comes dictionary-encoded: each distinct string becomes one Python object, not each row
    if not pa.types.is_dictionary(column.type):  # a column of NULLs only, typed as another kind
        column = pc.dictionary_encode(column.cast(pa.string()))
    encoded = column.unify_dictionaries().combine_chunks()
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    distinct = np.array([*encoded.dictionary.to_pylist(), None], dtype=object)
    return distinct[codes]  # type: ignore[no-any-return]


def read_columns(connection: Connection, query: Select[Any]) -> Columns:
    """The query's result, one array per selected column, through the DBAPI cursor."""
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
