"""What each kind of import file holds, and the checks that turn a chunk of text into rows to store.

A kind names its required and optional fields, how each cell is read, the table it
fills and the key it is upserted by. `check_chunk` is pure apart from the customer
lookup it is given: text in, storage-neutral column arrays and the bad cells out.
Every problem names the column as the user's file writes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edm.addresses import canonical_address
from edm.config import ImportKind
from edm.consent.record import BASES, GRANTED, STATUSES
from edm.countries import derive_country
from edm.customers import fields as f
from edm.customers.seen import SeenKeys
from edm.customers.sources import HEADER_ROW, Chunk
from edm.customers.tags import (
    ATTRIBUTE_PREFIX,
    attribute_name,
    attribute_value,
    check_attribute_name,
    parse_tags,
)
from edm.errors import ConfigError, ImportDataError
from edm.store.bulk import Upsert

Problem = tuple[int, str, str]
Texts = NDArray[np.object_]
Mask = NDArray[np.bool_]
Lookup = Callable[[Texts], NDArray[np.int64]]  # external ids -> store ids, -1 where unknown
ATTRIBUTE_LIMIT = 500
Reader = Callable[[Texts], tuple[NDArray[Any], Mask]]


@dataclass(frozen=True)
class Kind:
    """A kind of import file: its fields, its table, and the function that checks a chunk of it."""

    name: ImportKind
    table: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    check: Callable[[_Check, Context], Upsert]
    one_of: tuple[str, ...] = ()  # at least one of these columns must be there
    attributes: bool = False  # whether `attr.<name>` columns hold custom attributes

    @property
    def fields(self) -> tuple[str, ...]:
        return (*self.required, *self.optional)


@dataclass(frozen=True)
class Layout:
    """Where each field is in a file: its column position and its header as written."""

    kind: Kind
    positions: Mapping[str, int]
    headers: Mapping[str, str]  # as written; for absent fields, the header that was looked for
    attributes: Mapping[str, int] = field(default_factory=dict)  # custom `attr.<name>` columns

    def has(self, name: str) -> bool:
        return name in self.positions


@dataclass(frozen=True)
class Context:
    """What checks need beyond the cells: the time, the file's keys so far, the customers."""

    now: datetime
    seen: SeenKeys
    customer_ids: Lookup
    date_format: str = "auto"  # imports.date_format: how day-and-month-first dates are read
    default_locale: str = "en"  # imports.default_locale: for customers given none
    default_timezone: str = "UTC"  # imports.default_timezone
    consent_source: str = "import"  # a consent row's source unless its consent_source says: import:FILE, api


@dataclass(frozen=True)
class BadCells:
    """Cells of one column refused for one rule; their reasons are worded only when asked for."""

    column: str
    positions: NDArray[np.intp]
    reason: Callable[[int], str]  # the reason for the k-th of `positions`


@dataclass(frozen=True)
class Checked:
    """One chunk, checked: values per target column (all rows), which rows are good, what is bad."""

    target: Upsert
    values: dict[str, NDArray[Any]]
    good: Mask
    bad: list[BadCells] = field(default_factory=list)

    @property
    def problem_count(self) -> int:
        return sum(len(cells.positions) for cells in self.bad)

    def problems(self, rows: NDArray[np.int64], limit: int | None = None) -> Iterator[Problem]:
        """(row, column, reason) in file order; within a row, in the order the checks ran."""
        if not self.bad:
            return
        positions = np.concatenate([cells.positions for cells in self.bad])
        group = np.concatenate([np.full(len(c.positions), g) for g, c in enumerate(self.bad)])
        index = np.concatenate([np.arange(len(c.positions)) for c in self.bad])
        order = np.lexsort((group, positions))[:limit]
        for at in order:
            cells = self.bad[group[at]]
            yield int(rows[positions[at]]), cells.column, cells.reason(int(index[at]))


def resolve_layout(kind: Kind, header: Sequence[str], mapping: Mapping[str, str], path: str) -> Layout:
    """Find each field's column: under its mapped header if configured, else under its own name.

    Headers match ignoring case and surrounding spaces. A missing required column, or a
    header that appears twice, is a problem on row 1.
    """
    unknown = sorted(set(mapping) - set(kind.fields))
    if unknown:
        raise ConfigError(f"imports.columns.{kind.name}: {', '.join(map(repr, unknown))} "
                          f"is not a field of {kind.name} files; fields: {', '.join(kind.fields)}")
    where: dict[str, list[int]] = {}
    for position, name in enumerate(header):
        where.setdefault(name.strip().casefold(), []).append(position)
    positions: dict[str, int] = {}
    headers: dict[str, str] = {}
    problems: list[Problem] = []
    for name in kind.fields:
        wanted = mapping.get(name, name).strip()
        found = where.get(wanted.casefold(), [])
        headers[name] = header[found[0]] if found else wanted
        if len(found) > 1:
            problems.append((HEADER_ROW, headers[name], f"appears {len(found)} times in the header"))
        elif found:
            positions[name] = found[0]
        elif name in kind.required:
            hint = (f" (imports.columns.{kind.name} maps {name} to it)" if name in mapping
                    else f"; name it so, or map {name} to your header under imports.columns.{kind.name}")
            problems.append((HEADER_ROW, wanted, f"required column is missing{hint}"))
    attributes = _attribute_columns(kind, header, problems) if kind.attributes else {}
    headers.update({ATTRIBUTE_PREFIX + name: header[position] for name, position in attributes.items()})
    if kind.one_of and not any(name in positions for name in kind.one_of):
        names = " or ".join(headers[name] for name in kind.one_of)
        problems.append((HEADER_ROW, headers[kind.one_of[0]], f"required column is missing: give {names}"))
    if problems:
        raise ImportDataError(path, problems)
    return Layout(kind, positions, headers, attributes)


def _attribute_columns(kind: Kind, header: Sequence[str], problems: list[Problem]) -> dict[str, int]:
    """Columns named `attr.<name>` (custom attributes), by attribute name."""
    found: dict[str, int] = {}
    for position, written in enumerate(header):
        name = attribute_name(written)
        if name is None:
            continue
        try:
            check_attribute_name(name)
        except ValueError as exc:
            problems.append((HEADER_ROW, written, str(exc)))
            continue
        if name in found:
            problems.append((HEADER_ROW, written, f"attribute {name!r} appears twice in the header"))
        else:
            found[name] = position
    return found


def check_chunk(layout: Layout, chunk: Chunk, context: Context) -> Checked:
    check = _Check(layout, chunk)
    target = layout.kind.check(check, context)
    return Checked(target, check.values, check.good, check.bad)


class _Check:
    """Reads a chunk column by column, noting each refused cell instead of stopping."""

    def __init__(self, layout: Layout, chunk: Chunk) -> None:
        self.layout = layout
        self.chunk = chunk
        self.size = len(chunk)
        self.values: dict[str, NDArray[Any]] = {}
        self.good = np.ones(self.size, dtype=bool)
        self.bad: list[BadCells] = []

    def text(self, name: str) -> Texts:
        if not self.layout.has(name):
            return np.full(self.size, "", dtype=object)
        return self.chunk.column(self.layout.positions[name])

    def read(self, name: str, reader: Reader, parse: Callable[[str], Any], fill: Any,
             *, required: bool = False) -> NDArray[Any]:
        """The column's values (`fill` where empty or refused); refused cells become problems."""
        texts = self.text(name)
        filled = texts != ""
        if required:
            self.fail(name, np.flatnonzero(~filled), lambda _: "value is required")
        read, ok = reader(texts[filled])
        values = np.full(self.size, fill, dtype=read.dtype)
        values[filled] = read
        refused = np.flatnonzero(filled)[~ok]
        self.fail(name, refused, lambda k: _reason(parse, texts[refused[k]]))
        return values

    def text_value(self, name: str, limit: int, *, required: bool = False) -> Texts:
        return self.read(name, f.read_text(limit), lambda t: f.check_length(t, limit), None,
                         required=required)

    def customer(self, name: str, lookup: Lookup) -> NDArray[np.int64]:
        """Store ids of the customers named in the column; an unknown one is a problem."""
        texts = self.text(name)
        filled = texts != ""
        self.fail(name, np.flatnonzero(~filled), lambda _: "value is required")
        ids = np.full(self.size, -1, dtype=np.int64)
        ids[filled] = lookup(texts[filled])
        unknown = np.flatnonzero(filled & (ids < 0))
        self.fail(name, unknown,
                  lambda k: f"no customer {texts[unknown[k]]!r} in the store; import customers first")
        return ids

    def unique(self, name: str, keys: Texts, seen: SeenKeys, describe: Callable[[str], str]) -> None:
        """A key met earlier in the file makes this row a duplicate (the first one stays)."""
        present = np.flatnonzero(keys != "")
        first = seen.first_rows(keys[present], self.chunk.rows[present])
        duplicate = present[first > 0]
        first_rows = first[first > 0]
        self.fail(name, duplicate,
                  lambda k: f"duplicate {describe(keys[duplicate[k]])}, first on row {first_rows[k]}")

    def fail(self, name: str, positions: NDArray[np.intp], reason: Callable[[int], str]) -> None:
        if len(positions):
            self.good[positions] = False
            self.bad.append(BadCells(self.layout.headers[name], positions, reason))

    def present(self, *names: str) -> tuple[str, ...]:
        return tuple(n for n in names if self.layout.has(n))


def _reason(parse: Callable[[str], Any], text: str) -> str:
    try:
        parse(text)
    except ValueError as exc:
        return str(exc)
    return f"{text!r} is not valid here"  # the vectorised reader was stricter than the rule


def _money(check: _Check, name: str, *, negative: bool = False,
           required: bool = False) -> NDArray[np.float64]:
    return check.read(name, lambda t: f.read_money(t, negative=negative),
                      lambda t: f.parse_money(t, negative=negative), np.nan, required=required)


def _date(check: _Check, context: Context, name: str) -> NDArray[np.datetime64]:
    order = context.date_format
    return check.read(name, lambda t: f.read_date(t, order), lambda t: f.parse_date(t, order),
                      np.datetime64("NaT"))


def _utc(now: datetime) -> np.datetime64:
    return np.datetime64(now.astimezone(UTC).replace(tzinfo=None), "us")


# ---- the kinds ----------------------------------------------------------------------------


def _check_customers(check: _Check, context: Context) -> Upsert:
    external_id = check.text_value("external_id", 64, required=True)
    check.values.update(
        external_id=external_id,
        name=check.text_value("name", 200, required=True),
        kind=check.read("kind", f.read_kind, f.parse_kind, None, required=True),
        email=check.read("email", f.read_email, f.parse_email, None, required=True),
        contact_name=check.text_value("contact_name", 200),
        locale=check.read("locale", f.read_locale, f.parse_locale, context.default_locale),
        timezone=check.read("timezone", f.read_timezone, f.parse_timezone, context.default_timezone),
    )
    check.values.update(
        country=_countries(check.read("country", f.read_country, f.parse_country, None),
                           check.values["locale"], check.values["timezone"]),
        industry=check.text_value("industry", 32),
        birthday=_date(check, context, "birthday"),
        founded_on=_date(check, context, "founded_on"),
        tags=check.read("tags", f.read_each(parse_tags), parse_tags, None),
        account_manager=check.text_value("account_manager", 200),
        account_manager_email=check.read("account_manager_email", f.read_email, f.parse_email, None),
        attributes=_attributes(check),
        created_at=np.full(check.size, _utc(context.now)),
        email_key=_email_keys(check.values["email"]),
    )
    _consent(check, context)
    check.unique("external_id", _keys(external_id), context.seen, lambda k: f"external_id {k!r}")
    fields = ("name", "email", "kind", "contact_name", "locale", "timezone", "country", "industry",
              "birthday", "founded_on", "tags", "account_manager", "account_manager_email")
    derived = () if check.present("country") or not check.present("locale", "timezone") else ("country",)
    update = ("name", "email", "email_key", "kind", *check.present(*fields[3:]), *derived,
              *(("attributes",) if check.layout.attributes else ()))
    insert = ("external_id", *fields, "email_key", "attributes", "created_at")
    return Upsert("customers", ("external_id",), insert, update, update)


def _email_keys(emails: Texts) -> Texts:
    """Each address's mailbox (edm.addresses): suppressions hold for it whatever the capitals."""
    return np.array([None if e is None else canonical_address(e) for e in emails], dtype=object)


def _countries(given: Texts, locales: Texts, timezones: Texts) -> Texts:
    """The country column where given, else read off the locale or the time zone (edm.countries);
    a row whose locale or zone was refused is bad anyway, and gets None."""
    countries = given.copy()
    for at in np.flatnonzero(np.fromiter((value is None for value in given), bool, len(given))):
        locale, timezone = locales[at], timezones[at]
        refused = locale is None or timezone is None
        countries[at] = None if refused else derive_country(locale, timezone)
    return countries


def _attributes(check: _Check) -> NDArray[np.object_]:
    """Each row's custom attributes (None: none). A file's set replaces the stored one."""
    values = np.full(check.size, None, dtype=object)
    for name, position in check.layout.attributes.items():
        texts = check.chunk.column(position)
        too_long = np.flatnonzero(np.fromiter(map(len, texts), np.int64, check.size) > ATTRIBUTE_LIMIT)
        check.fail(ATTRIBUTE_PREFIX + name, too_long, lambda _: f"longer than {ATTRIBUTE_LIMIT} characters")
        for at in np.flatnonzero(texts != ""):
            if values[at] is None:
                values[at] = {}
            values[at][name] = attribute_value(texts[at])
    return values


def _check_orders(check: _Check, context: Context) -> Upsert:
    external_id = check.text_value("external_id", 64, required=True)
    customer_id = check.customer("customer_external_id", context.customer_ids)
    order = context.date_format
    ordered_at = check.read("ordered_at", lambda t: f.read_timestamp(t, order),
                            lambda t: f.parse_timestamp(t, order), np.datetime64("NaT"), required=True)
    amount = _money(check, "amount", required=True)
    product_line = check.text_value("product_line", 64)
    cost = _money(check, "cost")
    given = _money(check, "margin", negative=True)
    derived = amount - cost
    inconsistent = np.flatnonzero(~np.isnan(given) & ~np.isnan(derived) & (given != derived))
    check.fail("margin", inconsistent, lambda k: _margin_reason(given, amount, cost, inconsistent[k]))
    check.values.update(
        external_id=external_id, customer_id=customer_id, ordered_at=ordered_at, amount=amount,
        margin=np.where(np.isnan(given), derived, given), product_line=product_line,
    )
    check.unique("external_id", _keys(external_id), context.seen, lambda k: f"external_id {k!r}")
    update = ("customer_id", "ordered_at", "amount", *check.present("product_line"),
              *(("margin",) if check.present("cost", "margin") else ()))
    insert = ("external_id", "customer_id", "ordered_at", "amount", "margin", "product_line")
    return Upsert("orders", ("external_id",), insert, update, update, cluster="customer_id")


def _margin_reason(given: NDArray[np.float64], amount: NDArray[np.float64], cost: NDArray[np.float64],
                   at: int) -> str:
    def money(cents: float) -> str:
        return f"{cents / 100:.2f}"

    return (f"margin {money(given[at])} is not amount − cost "
            f"({money(amount[at])} − {money(cost[at])} = {money(amount[at] - cost[at])})")


def _check_wallet(check: _Check, context: Context) -> Upsert:
    customer_id = check.customer("customer_external_id", context.customer_ids)
    share = check.read("share", f.read_share, f.parse_share, np.nan)
    category_spend = _money(check, "category_spend")
    neither = np.flatnonzero((check.text("share") == "") & (check.text("category_spend") == ""))
    check.fail(check.present("share", "category_spend")[0], neither,
               lambda _: "give a share, a category_spend, or both")
    estimated_on = _date(check, context, "estimated_on")
    today = np.datetime64(context.now.astimezone(UTC).date(), "D")
    check.values.update(
        customer_id=customer_id, share=share, category_spend=category_spend,
        estimated_on=np.where(np.isnat(estimated_on), today, estimated_on),
    )
    names = check.text("customer_external_id")
    check.unique("customer_external_id", _keys(names), context.seen, lambda k: f"customer {k!r}")
    data = check.present("share", "category_spend")
    # Without a date column, the date is today's only when the estimate itself changed.
    compare = (*data, *check.present("estimated_on"))
    return Upsert("wallet_estimates", ("customer_id",), ("customer_id", "share", "category_spend",
                  "estimated_on"), (*data, "estimated_on"), compare, cluster="customer_id")


def _check_contacts(check: _Check, context: Context) -> Upsert:
    customer_id = check.customer("customer_external_id", context.customer_ids)
    email = check.read("email", f.read_email, f.parse_email, None, required=True)
    check.values.update(
        customer_id=customer_id, email=email, name=check.text_value("name", 200),
        role=check.text_value("role", 100), birthday=_date(check, context, "birthday"),
    )
    _consent(check, context)
    names = check.text("customer_external_id")
    keys = np.array([f"{c}\x1f{e}" if e else "" for c, e in zip(names, email, strict=True)], dtype=object)
    check.unique("email", keys, context.seen, _contact)
    update = check.present("name", "role", "birthday")
    return Upsert("contacts", ("customer_id", "email"), ("customer_id", "email", "name", "role", "birthday"),
                  update, update, cluster="customer_id")


CONSENT_FIELDS = ("consent_basis", "consent_status", "consent_at", "consent_source", "consent_wording")


def parse_consent_basis(text: str) -> str:
    basis = text.strip().lower()
    if basis not in BASES:
        raise ValueError(f"{text!r} is not a consent basis: use {', '.join(BASES)}")
    return basis


def parse_consent_status(text: str) -> str:
    status = text.strip().lower()
    if status not in STATUSES:
        raise ValueError(f"{text!r} is not a consent status: use {', '.join(STATUSES)}")
    return status


def _consent(check: _Check, context: Context) -> None:
    """The row's consent (edm.consent), when the file has consent columns: the `consent_*` values
    (consent_basis None where a row gives none), recorded by the importer beside the rows."""
    if not check.present(*CONSENT_FIELDS):
        return
    order = context.date_format
    basis = check.read("consent_basis", f.read_each(parse_consent_basis), parse_consent_basis, None)
    status = check.read("consent_status", f.read_each(parse_consent_status), parse_consent_status, GRANTED)
    at = check.read("consent_at", lambda t: f.read_timestamp(t, order), lambda t: f.parse_timestamp(t, order),
                    np.datetime64("NaT"))
    with np.errstate(invalid="ignore"):
        future = np.flatnonzero(~np.isnat(at) & (at > _utc(context.now)))
    check.fail("consent_at", future, lambda _: "is in the future: give when the consent was given")
    source = check.text_value("consent_source", 200)
    wording = check.text_value("consent_wording", 64)
    others = np.zeros(check.size, dtype=bool)
    for name in CONSENT_FIELDS[1:]:
        others |= check.text(name) != ""
    missing = np.flatnonzero(others & (check.text("consent_basis") == ""))
    check.fail("consent_basis", missing, lambda _: "give the consent_basis the other consent columns are for")
    check.values.update(
        consent_basis=basis, consent_status=status,
        consent_at=np.where(np.isnat(at), _utc(context.now), at), consent_dated=~np.isnat(at),
        consent_source=np.array([context.consent_source if v is None else v for v in source], dtype=object),
        consent_wording=wording,
    )


def _contact(key: str) -> str:
    customer, email = key.split("\x1f")
    return f"contact {email!r} of customer {customer!r}"


def _keys(values: Texts) -> Texts:
    """Key strings, "" where the cell was empty or refused (already a problem of its own)."""
    return np.array(["" if v is None else v for v in values], dtype=object)


KINDS: dict[ImportKind, Kind] = {
    "customers": Kind("customers", "customers", ("external_id", "name", "kind", "email"),
                      ("contact_name", "locale", "timezone", "country", "industry", "birthday", "founded_on",
                       "tags", "account_manager", "account_manager_email", *CONSENT_FIELDS),
                      _check_customers, attributes=True),
    "orders": Kind("orders", "orders", ("external_id", "customer_external_id", "ordered_at", "amount"),
                   ("product_line", "cost", "margin"), _check_orders),
    "wallet": Kind("wallet", "wallet_estimates", ("customer_external_id",),
                   ("share", "category_spend", "estimated_on"), _check_wallet,
                   one_of=("share", "category_spend")),
    "contacts": Kind("contacts", "contacts", ("customer_external_id", "email"),
                     ("name", "role", "birthday", *CONSENT_FIELDS), _check_contacts),
}
