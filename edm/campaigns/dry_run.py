"""A run's account of its decisions: who gets which variant in which language, and the full list as CSV.

It watches the planner (`plan_campaign(watch=...)`), so it reports the decisions the run
itself makes. Audiences run to hundreds of thousands: it keeps only counts (per plan,
variant and language) and writes the CSV as it goes, a chunk at a time; per-reason counts
and a bounded sample per reason are in each `PlanResult`.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from edm.campaigns.decisions import Judged, Reason
from edm.campaigns.planner import plan_title
from edm.errors import EdmError
from edm.inert import inert
from edm.render import resolve_language, template_languages

COLUMNS = ("campaign", "step", "customer_id", "email", "name", "language", "variant", "decision", "reason",
           "detail")
CHUNK = 1000  # rows neutralised and written at once


class DecisionAccount:
    """Counts the sends per (plan, variant, language); with `out`, writes every decision as a CSV row."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.sends: Counter[tuple[str, str, str]] = Counter()  # (plan title, variant, language) -> customers
        self._languages: dict[str, list[str]] = {}
        self._out = None if out is None else csv.writer(out)
        self._rows: list[list[object]] = []
        if self._out is not None:
            self._out.writerow(COLUMNS)

    def __call__(self, judged: Judged) -> None:
        decision = judged.decision
        language = resolve_language(judged.locale, self._available(judged.template))
        variant = decision.variant or (Reason.HOLDOUT.value if decision.reason == Reason.HOLDOUT else "")
        if decision.send:
            self.sends[(plan_title(judged.campaign, judged.step), variant, language)] += 1
        if self._out is None:
            return
        self._rows.append([
            judged.campaign, judged.step, decision.customer_id, judged.email, judged.name, language, variant,
            "send" if decision.send else "held", decision.reason.value, decision.detail,
        ])
        if len(self._rows) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        """Write the rows gathered so far, text that a spreadsheet would run as a formula made inert."""
        if self._out is None or not self._rows:
            return
        self._out.writerows([inert(c) if isinstance(c, str) else c for c in row] for row in self._rows)
        self._rows.clear()

    def _available(self, template: str) -> list[str]:
        if template not in self._languages:
            try:
                self._languages[template] = template_languages(template)
            except EdmError:  # a broken template name: the run itself reports it
                self._languages[template] = []
        return self._languages[template]


@contextmanager
def decision_account(out: Path | None) -> Iterator[DecisionAccount]:
    """An account, writing to the CSV file `out` when given (UTF-8 with a BOM, for Excel)."""
    if out is None:
        yield DecisionAccount()
        return
    try:
        handle = out.open("w", encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise EdmError(f"cannot write {out}: {exc.strerror or exc}; choose another --out path") from exc
    with handle:
        account = DecisionAccount(handle)
        yield account
        account.flush()
