"""Consent that comes with imported rows (a file, or API items), written in the rows' own transaction.

A row's `consent_*` columns (edm.customers.checks) become a `ConsentGiven` for its mailbox; a row
without them records nothing (the mailbox keeps what it has, or the no-row default). A mailbox whose
current consent already says the same (basis, status, source, wording, and the time when the row
gives one) is not written again, so re-importing a file changes nothing.

An erased mailbox (edm.consent.forgotten) imported again gets basis `none`, status `withdrawn`,
source "erased", so no marketing reaches it, unless the row carries explicit granted consent given
after the erasure, or the mailbox was given new consent since (a confirmed sign-up, say).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from edm.addresses import canonical_address
from edm.config import Settings
from edm.consent.forgotten import address_hash
from edm.consent.record import EXPLICIT, GRANTED, NO_BASIS, WITHDRAWN, ConsentGiven, record
from edm.errors import ConfigError
from edm.store import Consent, ForgottenAddress

ERASED = "erased"  # the source of the consent an erased mailbox gets when it comes back
LOOKUP = 500  # addresses per IN (...) query


def lookup_keys(settings: Settings) -> list[bytes] | None:
    """The keys erased mailboxes may be hashed under (newest first), None when none is configured.
    Weak keys still find what they hashed: checking the store needs no strength, signing does."""
    return [key.get_secret_value().encode() for key in settings.secret_keys] or None


class ImportedConsents:
    """Records the consent of imported rows, one chunk at a time, in the import's transaction."""

    def __init__(self, connection: Connection, keys: Sequence[bytes] | None, now: datetime) -> None:
        self.session = Session(bind=connection)
        self.keys = list(keys or ())
        self.now = now
        self.dated: set[str] = set()  # of a chunk's mailboxes, those whose row gave the consent's time
        self.erasures = self.session.scalar(select(ForgottenAddress.address_hash).limit(1)) is not None
        if self.erasures and not self.keys:
            raise ConfigError("EDM_SECRET_KEY is not set: erased mailboxes are remembered by a keyed hash, "
                              "and imported addresses must be checked against them: set the key the "
                              "erasures were made with")

    def record(self, emails: NDArray[Any], values: Mapping[str, NDArray[Any]],
               good: NDArray[np.bool_]) -> int:
        """Record the consent of the good rows (`values`: a checked chunk's); how many were written."""
        rows = np.flatnonzero(good)
        self.dated.clear()
        given: dict[str, ConsentGiven] = {}  # by mailbox: the file's last row for it wins
        if "consent_basis" in values:
            for at in rows:
                if values["consent_basis"][at] is not None:
                    consent = _given(values, int(at), str(emails[at]))
                    given[canonical_address(consent.email)] = consent
                    if values["consent_dated"][at]:
                        self.dated.add(canonical_address(consent.email))
        if self.erasures:
            erased = self._erased_at([str(emails[at]) for at in rows])
            for email, forgotten_at in erased.items():
                key = canonical_address(email)
                stated = given.get(key)
                if stated is None or not _new_explicit(stated, forgotten_at):
                    given[key] = ConsentGiven(email, NO_BASIS, WITHDRAWN, ERASED, self.now)
                    self.dated.discard(key)
        return record(self.session, self._changed(given))

    def _erased_at(self, emails: list[str]) -> dict[str, datetime]:
        """Of `emails`, those erased and not given new consent since: when each was erased."""
        by_hash = {address_hash(email, key): email for email in set(emails) for key in self.keys}
        erased: dict[str, datetime] = {}
        hashes = sorted(by_hash)
        for start in range(0, len(hashes), LOOKUP):
            found = self.session.execute(
                select(ForgottenAddress.address_hash, ForgottenAddress.forgotten_at)
                .where(ForgottenAddress.address_hash.in_(hashes[start:start + LOOKUP])))
            for hashed, forgotten_at in found:
                email = by_hash[hashed]
                erased[email] = max(forgotten_at, erased.get(email, forgotten_at))
        current = self._current([canonical_address(email) for email in erased])
        return {email: at for email, at in erased.items()
                if not _consented_since(current.get(canonical_address(email)), at)}

    def _current(self, keys: list[str]) -> dict[str, Consent]:
        found: dict[str, Consent] = {}
        for start in range(0, len(keys), LOOKUP):
            batch = keys[start:start + LOOKUP]
            rows = self.session.scalars(select(Consent).where(Consent.address_key.in_(batch)))
            found.update({row.address_key: row for row in rows})
        return found

    def _changed(self, given: dict[str, ConsentGiven]) -> list[ConsentGiven]:
        """The consents that differ from the mailbox's current one (the time only when the row dated it)."""
        current = self._current(sorted(given))
        changed = []
        for key, consent in given.items():
            stored = current.get(key)
            same = stored is not None and (
                (stored.basis, stored.status, stored.source, stored.wording_version)
                == (consent.basis, consent.status, consent.source, consent.wording_version))
            if stored is not None and key in self.dated and stored.recorded_at != consent.recorded_at:
                same = False  # the row gives another time for the same consent
            if not same:
                changed.append(consent)
        return changed


def _given(values: Mapping[str, NDArray[Any]], at: int, email: str) -> ConsentGiven:
    return ConsentGiven(
        email=email, basis=str(values["consent_basis"][at]), status=str(values["consent_status"][at]),
        source=str(values["consent_source"][at]),
        recorded_at=pd.Timestamp(values["consent_at"][at]).to_pydatetime().replace(tzinfo=UTC),
        wording_version=values["consent_wording"][at],
    )


def _new_explicit(consent: ConsentGiven, forgotten_at: datetime) -> bool:
    return consent.basis == EXPLICIT and consent.status == GRANTED and consent.recorded_at > forgotten_at


def _consented_since(current: Consent | None, forgotten_at: datetime) -> bool:
    """Whether the mailbox was given new consent after its erasure (a sign-up, an explicit import)."""
    return (current is not None and current.source != ERASED and current.status == GRANTED
            and current.basis == EXPLICIT and current.recorded_at > forgotten_at)
