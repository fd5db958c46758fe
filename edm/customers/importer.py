"""Importing customers, orders, share-of-wallet estimates and contacts from CSV or XLSX.

A file is streamed in chunks (`imports.chunk_rows` rows): each chunk is checked
column by column (vectorised), its good rows are upserted in bulk, and the next one
is read, so a 10-million-row file is never held in memory. The whole file is one
transaction. Every problem is reported as (row, column, reason), with the
spreadsheet's row number (header = row 1) and the column as the file names it.

By default one bad row stops the import and nothing is written: a half-imported file
is harder to fix than a rejected one. With `skip_invalid` the good rows are written
and the bad ones go to a rejects file. Re-importing the same file changes nothing
(upsert by external id, unchanged rows are not even rewritten); an updated file
updates. Columns the file does not have are left as they are in the store. The `consent_*` columns
of customers and contacts files are recorded as each mailbox's consent in the same transaction, and
an erased mailbox imported again is held (edm.consent.imported).

    edm.customers.sources  read CSV/XLSX in chunks of text
    edm.customers.fields   cell parsers (vectorised, and per cell for the reasons)
    edm.customers.checks   what each kind of file holds; check a chunk
    edm.customers.seen     duplicate keys across chunks
    edm.customers.writer   bulk upsert in one transaction (SQLite / PostgreSQL)
    edm.customers.rejects  the problem log and the rejects file
    edm.customers.mailboxes  customers sharing one mailbox (warned about after a customers import)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast, get_args

from sqlalchemy.orm import Session, sessionmaker

from edm.clock import Clock, SystemClock
from edm.config import ImportKind, ImportSettings
from edm.consent.imported import ImportedConsents
from edm.customers.checks import KINDS, Context, check_chunk, resolve_layout
from edm.customers.mailboxes import SharedMailboxes, shared_mailboxes
from edm.customers.rejects import ProblemLog, RejectsFile, default_rejects_path
from edm.customers.seen import SeenKeys
from edm.customers.sources import HEADER_ROW, open_table
from edm.customers.writer import bulk_store
from edm.errors import ImportDataError

Progress = Callable[[int], None]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportResult:
    """What an import did: `rows` read = `inserted` + `updated` + `unchanged` + `rejected`."""

    rows: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int = 0
    rejects_path: Path | None = None
    encoding: str | None = field(default=None, compare=False)  # CSV: e.g. "GB18030 (detected)"
    shared: SharedMailboxes | None = None  # customers (after a customers import) sharing a mailbox


def import_customers(
    sessions: sessionmaker[Session], path: Path, clock: Clock, *, settings: ImportSettings | None = None,
    skip_invalid: bool = False, rejects: Path | None = None, progress: Progress | None = None,
) -> ImportResult:
    """Customers (external_id, name, kind, email, ...), upserted by external_id; new ones dated now."""
    return import_file(sessions, "customers", path, clock, settings=settings, skip_invalid=skip_invalid,
                       rejects=rejects, progress=progress)


def import_orders(
    sessions: sessionmaker[Session], path: Path, *, settings: ImportSettings | None = None,
    skip_invalid: bool = False, rejects: Path | None = None, progress: Progress | None = None,
) -> ImportResult:
    """Orders, upserted by external_id. Customers come first: an unknown customer is a bad row."""
    return import_file(sessions, "orders", path, SystemClock(), settings=settings,
                       skip_invalid=skip_invalid, rejects=rejects, progress=progress)


def import_wallet(
    sessions: sessionmaker[Session], path: Path, clock: Clock, *, settings: ImportSettings | None = None,
    skip_invalid: bool = False, rejects: Path | None = None, progress: Progress | None = None,
) -> ImportResult:
    """Share-of-wallet estimates, one per customer; undated ones are dated today."""
    return import_file(sessions, "wallet", path, clock, settings=settings, skip_invalid=skip_invalid,
                       rejects=rejects, progress=progress)


def import_contacts(
    sessions: sessionmaker[Session], path: Path, *, settings: ImportSettings | None = None,
    skip_invalid: bool = False, rejects: Path | None = None, progress: Progress | None = None,
) -> ImportResult:
    """Contacts at customer companies, upserted by (customer, email)."""
    return import_file(sessions, "contacts", path, SystemClock(), settings=settings,
                       skip_invalid=skip_invalid, rejects=rejects, progress=progress)


def import_kind(name: str) -> ImportKind:
    """The kind of file called `name` (customers, orders, wallet, contacts)."""
    for kind in get_args(ImportKind):
        if kind == name:
            return cast(ImportKind, kind)
    raise ValueError(f"no kind of import file is called {name!r}")


def import_file(
    sessions: sessionmaker[Session], kind: ImportKind, path: Path, clock: Clock, *,
    settings: ImportSettings | None = None, skip_invalid: bool = False, rejects: Path | None = None,
    progress: Progress | None = None, encoding: str | None = None, keys: Sequence[bytes] | None = None,
) -> ImportResult:
    """Check and upsert every row of `path` as `kind`, in one transaction.

    A CSV file is read in `encoding` if given (as `--encoding`), else `settings.encoding`
    (`auto`: detected).

    Raises `ImportDataError` (and writes nothing) if the file cannot be read, lacks a
    required column, or, unless `skip_invalid`, has any bad row. `progress` is called
    with the number of rows done after each chunk. `keys`: those erased mailboxes are hashed under
    (edm.consent.imported.lookup_keys); without them an import into a store with erasures is refused.
    """
    settings = settings or ImportSettings()
    spec = KINDS[kind]
    problems = ProblemLog()
    wanted, chosen_by = (encoding, "--encoding") if encoding else (settings.encoding, "imports.encoding")
    with open_table(path, settings.chunk_rows, wanted, chosen_by) as table:
        layout = resolve_layout(spec, table.header, settings.columns.get(kind, {}), str(path))
        out = _rejects_file(path, rejects, table.header) if skip_invalid else None
        try:
            with bulk_store(sessions) as store:
                now = clock.now()
                context = Context(now, SeenKeys(), store.customer_ids, settings.date_format,
                                  settings.default_locale, settings.default_timezone, f"import:{path.name}")
                consents = ImportedConsents(store.connection, keys, now) if "email" in spec.fields else None
                before = store.count(spec.table)
                rows = good = changed = 0
                for chunk in table.chunks:
                    checked = check_chunk(layout, chunk, context)
                    problems.add(checked, chunk.rows)
                    if out is not None:
                        out.add(chunk, checked)
                    if out is not None or not problems.count:
                        changed += store.upsert(checked.target, checked.values, checked.good)
                        if consents is not None:
                            consents.record(checked.values["email"], checked.values, checked.good)
                    rows += len(chunk)
                    good += int(checked.good.sum())
                    if progress is not None:
                        progress(rows)
                    del chunk, checked  # free this chunk before the next one is read
                if problems.count and out is None:
                    raise ImportDataError(str(path), problems.kept, problems.count)
                inserted = store.inserted_since(spec.table, before, changed)
        except BaseException:
            if out is not None:
                out.discard()
            raise
    result = ImportResult(
        rows=rows, inserted=inserted, updated=changed - inserted, unchanged=good - changed,
        rejected=rows - good, rejects_path=out.keep() if out is not None else None,
        encoding=table.encoding.describe() if table.encoding is not None else None,
        shared=_shared(sessions) if kind == "customers" else None,
    )
    log.info("import kind=%s path=%s rows=%d inserted=%d updated=%d unchanged=%d rejected=%d",
             kind, path, result.rows, result.inserted, result.updated, result.unchanged, result.rejected)
    return result


def _shared(sessions: sessionmaker[Session]) -> SharedMailboxes | None:
    with sessions() as session:
        return shared_mailboxes(session)


def _rejects_file(path: Path, rejects: Path | None, header: list[str]) -> RejectsFile:
    target = rejects or default_rejects_path(path)
    try:
        return RejectsFile(target, header)
    except OSError as exc:
        reason = f"cannot write the rejects file {target}: {exc.strerror or exc}"
        raise ImportDataError(str(path), [(HEADER_ROW, ImportDataError.FILE, reason)]) from exc
