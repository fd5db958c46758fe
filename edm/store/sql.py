"""Portable SQL expressions whose spelling differs between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Date, Float, Integer, String, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class epoch_days(FunctionElement[float]):
    """A timestamp as fractional days since 1970-01-01 UTC (SQLite: to the millisecond)."""

    type = Float()
    name = "epoch_days"
    inherit_cache = True


@compiles(epoch_days, "sqlite")
def _epoch_days_sqlite(element: epoch_days, compiler: SQLCompiler, **kw: Any) -> str:
    (moment,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"(julianday({moment}) - 2440587.5)"


@compiles(epoch_days, "postgresql")
def _epoch_days_postgresql(element: epoch_days, compiler: SQLCompiler, **kw: Any) -> str:
    (moment,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(EXTRACT(EPOCH FROM {moment}) / 86400 AS DOUBLE PRECISION)"


class utc_hour(FunctionElement[int]):
    """A UTC timestamp's hour of the day, 0-23."""

    type = Integer()
    name = "utc_hour"
    inherit_cache = True


@compiles(utc_hour, "sqlite")
def _utc_hour_sqlite(element: utc_hour, compiler: SQLCompiler, **kw: Any) -> str:
    (moment,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(strftime('%H', {moment}) AS INTEGER)"


@compiles(utc_hour, "postgresql")
def _utc_hour_postgresql(element: utc_hour, compiler: SQLCompiler, **kw: Any) -> str:
    (moment,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(EXTRACT(HOUR FROM ({moment} AT TIME ZONE 'UTC')) AS INTEGER)"


class month_day(FunctionElement[str]):
    """A date's (or a UTC timestamp's) month and day as 'MM-DD', for anniversaries."""

    type = String()
    name = "month_day"
    inherit_cache = True


@compiles(month_day, "sqlite")
def _month_day_sqlite(element: month_day, compiler: SQLCompiler, **kw: Any) -> str:
    (moment,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"strftime('%m-%d', {moment})"


@compiles(month_day, "postgresql")
def _month_day_postgresql(element: month_day, compiler: SQLCompiler, **kw: Any) -> str:
    (clause,) = element.clauses
    moment = compiler.process(clause, **kw)
    if not isinstance(clause.type, Date):  # a timestamp: its UTC day, whatever the session's zone
        moment = f"({moment} AT TIME ZONE 'UTC')"
    return f"to_char({moment}, 'MM-DD')"



class json_text(FunctionElement[str]):
    """One key of a JSON object column when its value is text, else NULL (the key is bound, not SQL)."""

    type = String()
    name = "json_text"
    inherit_cache = True

    def __init__(self, column: Any, key: str) -> None:
        super().__init__(column, literal(key))


class json_number(FunctionElement[float]):
    """One key of a JSON object column when its value is a number, else NULL.

    So `size > 10` never compares a text with a number, and PostgreSQL never casts one.
    """

    type = Float()
    name = "json_number"
    inherit_cache = True

    def __init__(self, column: Any, key: str) -> None:
        super().__init__(column, literal(key))


def _sqlite_json(element: FunctionElement[Any], compiler: SQLCompiler, kinds: str, **kw: Any) -> str:
    column, key = (compiler.process(c, **kw) for c in element.clauses)
    path = f"('$.\"' || {key} || '\"')"
    return f"(CASE WHEN json_type({column}, {path}) IN {kinds} THEN json_extract({column}, {path}) END)"


@compiles(json_text, "sqlite")
def _json_text_sqlite(element: json_text, compiler: SQLCompiler, **kw: Any) -> str:
    return _sqlite_json(element, compiler, "('text')", **kw)


@compiles(json_number, "sqlite")
def _json_number_sqlite(element: json_number, compiler: SQLCompiler, **kw: Any) -> str:
    return _sqlite_json(element, compiler, "('integer', 'real')", **kw)


@compiles(json_text, "postgresql")
def _json_text_postgresql(element: json_text, compiler: SQLCompiler, **kw: Any) -> str:
    column, key = (compiler.process(c, **kw) for c in element.clauses)
    return f"(CASE WHEN jsonb_typeof({column} -> {key}) = 'string' THEN {column} ->> {key} END)"


@compiles(json_number, "postgresql")
def _json_number_postgresql(element: json_number, compiler: SQLCompiler, **kw: Any) -> str:
    column, key = (compiler.process(c, **kw) for c in element.clauses)
    return (f"(CASE WHEN jsonb_typeof({column} -> {key}) = 'number' "
            f"THEN CAST({column} ->> {key} AS DOUBLE PRECISION) END)")


class email_domain(FunctionElement[str]):
    """An address's domain: after its last '@' (the whole text without one), trimmed, lower-cased,
    without a trailing dot; `edm.providers.domain_of` in SQL (ASCII case folding)."""

    type = String()
    name = "email_domain"
    inherit_cache = True


@compiles(email_domain, "sqlite")
def _email_domain_sqlite(element: email_domain, compiler: SQLCompiler, **kw: Any) -> str:
    (address,) = (compiler.process(c, **kw) for c in element.clauses)
    # rtrim(x, <every character of x but '@'>) leaves x up to its last '@'
    after = f"substr({address}, length(rtrim({address}, replace({address}, '@', ''))) + 1)"
    return f"lower(rtrim(trim({after}), '.'))"


@compiles(email_domain, "postgresql")
def _email_domain_postgresql(element: email_domain, compiler: SQLCompiler, **kw: Any) -> str:
    (address,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"lower(rtrim(trim(substring({address} from '[^@]*$')), '.'))"


class utc_day(FunctionElement[int]):
    """A timestamp's UTC day as whole days since 1970-01-01 (floor, so days never round up)."""

    type = Integer()
    name = "utc_day"
    inherit_cache = True


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    (moment,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(julianday(date({moment})) - 2440587.5 AS INTEGER)"


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    (moment,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(floor(EXTRACT(EPOCH FROM {moment}) / 86400) AS INTEGER)"



class unindexed(FunctionElement[str]):
    """A text column as it is, but not for choosing an index: SQLite's `+column`. Grouping a
    narrow range (outbox rows sent today, by their index on sent_at) by such a column keeps SQLite
    from walking the column's own index over every row instead; PostgreSQL plans by its statistics."""

    type = String()
    name = "unindexed"
    inherit_cache = True


@compiles(unindexed, "sqlite")
def _unindexed_sqlite(element: unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    (column,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"+{column}"


@compiles(unindexed)
def _unindexed(element: unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    (column,) = (compiler.process(c, **kw) for c in element.clauses)
    return column
