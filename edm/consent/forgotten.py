"""Erased mailboxes, remembered by a keyed hash of the canonical address and nothing else.

The hash is HMAC-SHA256 under the installation's signing key (EDM_SECRET_KEY): without the key
the table cannot be reversed by hashing a list of known addresses. It is written with the newest
key and looked up under every configured key, so rotating keys keeps past erasures.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from edm.addresses import canonical_address
from edm.store import ForgottenAddress, upsert


def address_hash(email: str, key: bytes) -> str:
    """The keyed hash a forgotten mailbox is kept by (hex); every spelling of one mailbox gives one hash."""
    return hmac.new(key, canonical_address(email).encode(), hashlib.sha256).hexdigest()


def forget(session: Session, emails: Iterable[str], keys: Sequence[bytes], now: datetime) -> None:
    """Remember the mailboxes as erased (under the newest key); one remembered already keeps its time."""
    rows = [{"address_hash": address_hash(email, keys[0]), "forgotten_at": now} for email in set(emails)]
    if rows:
        upsert(session, ForgottenAddress, rows, key="address_hash")


def forgotten(session: Session, emails: Iterable[str], keys: Sequence[bytes]) -> set[str]:
    """Those of `emails` whose mailbox was erased (under any configured key)."""
    by_hash = {address_hash(email, key): email for email in set(emails) for key in keys}
    if not by_hash:
        return set()
    found = session.scalars(select(ForgottenAddress.address_hash)
                            .where(ForgottenAddress.address_hash.in_(sorted(by_hash))))
    return {by_hash[h] for h in found}
