"""One result per check: OK, WARN or ERROR, what was found, and how to fix it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum


class Status(StrEnum):
    OK = "OK"
    WARN = "WARN"
    ERROR = "ERROR"


@dataclass(frozen=True)
class Check:
    """`section`: dns, relay, message, identity or rates; `fix` is empty when nothing is to be done."""

    section: str
    name: str
    status: Status
    message: str
    fix: str = ""


def ok(section: str, name: str, message: str) -> Check:
    return Check(section, name, Status.OK, message)


def warn(section: str, name: str, message: str, fix: str) -> Check:
    return Check(section, name, Status.WARN, message, fix)


def error(section: str, name: str, message: str, fix: str) -> Check:
    return Check(section, name, Status.ERROR, message, fix)


def errors(checks: Sequence[Check]) -> list[Check]:
    return [check for check in checks if check.status is Status.ERROR]


def as_json(checks: Sequence[Check]) -> str:
    """`{"ok": bool, "checks": [{section, name, status, message, fix}, ...]}`."""
    rows = [{**asdict(check), "status": check.status.value} for check in checks]
    return json.dumps({"ok": not errors(checks), "checks": rows}, ensure_ascii=False, indent=2)


__all__ = ["Check", "Status", "as_json", "error", "errors", "ok", "warn"]
