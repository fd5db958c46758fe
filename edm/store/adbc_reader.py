"""`python -m edm.store.adbc_reader DATABASE SQL OUT`: one query's result as an Arrow IPC file.

A separate interpreter, never a thread: ADBC carries its own copy of SQLite, which must
not run in a process that has the database open through Python's sqlite3 (see
`edm.store.columns`). A plain subprocess, unlike a multiprocessing worker, also never
re-imports the caller's main script.
"""

from __future__ import annotations

import sys
from contextlib import closing

import adbc_driver_sqlite.dbapi
import pyarrow as pa

# ADBC types each column from its first batch; one batch for the whole result means a
# column that starts with NULLs is still typed by its values. 2**30 is the driver's limit.
ONE_BATCH = {"adbc.sqlite.query.batch_rows": str(2**30)}


def main(database: str, sql: str, out: str) -> None:
    with (
        closing(adbc_driver_sqlite.dbapi.connect(database)) as connection,
        closing(connection.cursor()) as cursor,
    ):
        cursor.adbc_statement.set_options(**ONE_BATCH)
        cursor.execute(sql)
        table = cursor.fetch_arrow_table()
    with pa.OSFile(out, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


if __name__ == "__main__":
    main(*sys.argv[1:])
