"""Keeping account of bad rows: a bounded list for the error message, and the rejects file.

A file with millions of bad rows must not fill memory with their problems: the log
keeps the first `MAX_KEPT` (worded) and only counts the rest. With `--skip-invalid`
every rejected row goes, with its reasons, to a rejects CSV that can be fixed and
imported again (its extra `row`, `column`, `reason` columns are ignored on import). A cell a
spreadsheet would run as a formula (`=HYPERLINK(...)`) is written with a leading `'`.
The file is written beside the target under a temporary name and only takes its
real name when the import commits, so a failed import leaves no misleading file.
"""

from __future__ import annotations

import csv
import os
import tempfile
from itertools import groupby
from pathlib import Path
from typing import IO

import numpy as np

from edm.customers.checks import Checked, Problem
from edm.customers.sources import Chunk
from edm.inert import inert

MAX_KEPT = 1000
REJECT_COLUMNS = ("row", "column", "reason")


class ProblemLog:
    """Counts every problem and keeps the first `limit`, in file order."""

    def __init__(self, limit: int = MAX_KEPT) -> None:
        self.limit = limit
        self.kept: list[Problem] = []
        self.count = 0

    def add(self, checked: Checked, rows: np.ndarray[tuple[int], np.dtype[np.int64]]) -> None:
        self.count += checked.problem_count
        room = self.limit - len(self.kept)
        if room > 0 and checked.problem_count:
            self.kept.extend(checked.problems(rows, room))


def default_rejects_path(path: Path) -> Path:
    """`orders.csv` -> `orders.rejects.csv`, beside the input."""
    return path.with_name(f"{path.stem}.rejects.csv")


class RejectsFile:
    """Rejected rows as the file had them, each with its row number, bad columns and reasons."""

    def __init__(self, path: Path, header: list[str]) -> None:
        self.path = path
        self.rows = 0
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        self._temporary = Path(name)
        self._file: IO[str] = os.fdopen(handle, "w", encoding="utf-8-sig", newline="")
        self._writer = csv.writer(self._file)
        self._writer.writerow([*REJECT_COLUMNS, *map(inert, header)])

    def add(self, chunk: Chunk, checked: Checked) -> None:
        by_row = [(row, list(problems)) for row, problems in groupby(checked.problems(chunk.rows),
                                                                      key=lambda p: p[0])]
        if not by_row:
            return
        positions = np.searchsorted(chunk.rows, [row for row, _ in by_row])
        originals = chunk.records(positions)
        for (row, problems), cells in zip(by_row, originals, strict=True):
            columns = "; ".join(dict.fromkeys(column for _, column, _ in problems))
            reasons = "; ".join(reason for _, _, reason in problems)
            self._writer.writerow([row, inert(columns), inert(reasons), *map(inert, cells)])
        self.rows += len(by_row)

    def keep(self) -> Path | None:
        """Give the file its real name (if anything was rejected); call once the import committed."""
        self._file.close()
        if not self.rows:
            self._temporary.unlink(missing_ok=True)
            return None
        self._temporary.replace(self.path)
        return self.path

    def discard(self) -> None:
        self._file.close()
        self._temporary.unlink(missing_ok=True)
