"""Portable SQL expressions whose spelling differs between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Date, Float, String
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
