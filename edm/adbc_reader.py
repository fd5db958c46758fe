"""`python -m edm.adbc_reader < job.json`: query results as Arrow IPC files, read through ADBC.

A separate interpreter, never a thread of edm itself: ADBC carries its own copy of
SQLite, which must not run in a process that has the database open through Python's
sqlite3 (see `edm.store.columns`). It lives outside `edm.store` so that starting it
imports nothing but pyarrow and ADBC. The job is JSON on stdin:
{"database": PATH, "queries": [{"sql": ..., "out": PATH}, ...]}; the queries run on
threads at once (ADBC releases the GIL), and text columns are dictionary-encoded here,
so that the caller turns them into Python strings once per distinct value.
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

import adbc_driver_sqlite.dbapi
import pyarrow as pa
import pyarrow.compute as pc

# ADBC types each column from its first batch; one batch for the whole result means a
# column that starts with NULLs is still typed by its values. 2**30 is the driver's limit.
ONE_BATCH = {"adbc.sqlite.query.batch_rows": str(2**30)}


def read(database: str, sql: str, out: str) -> None:
    connection = adbc_driver_sqlite.dbapi.connect(database)
    with closing(connection), closing(connection.cursor()) as cursor:
        cursor.adbc_statement.set_options(**ONE_BATCH)
        cursor.execute(sql)
        table = cursor.fetch_arrow_table()
    columns = [
        pc.dictionary_encode(column) if pa.types.is_string(column.type) else column
        for column in table.columns
    ]
    table = pa.table(columns, names=table.column_names)
    with pa.OSFile(out, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def main() -> None:
    job = json.load(sys.stdin)
    with ThreadPoolExecutor(len(job["queries"])) as pool:
        done = [pool.submit(read, job["database"], query["sql"], query["out"]) for query in job["queries"]]
        for future in done:
            future.result()


if __name__ == "__main__":
    main()
