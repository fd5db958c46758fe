"""The sign-up's two signed tokens (HMAC, edm.tracking.tokens): when a form was issued, and which
sign-up a confirmation link confirms.

The form token seals the moment the server issued the form, so the fill time a bot would like to
claim cannot be forged; the confirm token seals the sign-up's id and its random nonce, so no link
can be made for a sign-up without the key, nor guessed from an id alone. Each names its kind, so
neither is taken for the other or for a tracking link.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from edm.tracking.tokens import sign, verify

FORM_KIND = "sf"
CONFIRM_KIND = "sc"


def form_token(issued_at: datetime, keys: Sequence[bytes]) -> str:
    """The token a hosted form carries: the moment it was issued, in milliseconds."""
    return sign({"k": FORM_KIND, "t": round(issued_at.timestamp() * 1000)}, keys)


def read_form_token(token: str, keys: Sequence[bytes]) -> datetime | None:
    """When the form was issued, if `token` is one of ours; None for anything else."""
    payload = verify(token, keys)
    if payload is None or payload.get("k") != FORM_KIND or set(payload) != {"k", "t"}:
        return None
    millis = payload["t"]
    if type(millis) is not int or millis < 0:
        return None
    try:
        return datetime.fromtimestamp(millis / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def confirm_token(signup_id: int, nonce: str, keys: Sequence[bytes]) -> str:
    """The token of a confirmation link: the sign-up's id and nonce."""
    return sign({"k": CONFIRM_KIND, "i": signup_id, "n": nonce}, keys)


def read_confirm_token(token: str, keys: Sequence[bytes]) -> tuple[int, str] | None:
    """The sign-up id and nonce behind `token`, if it is a confirm token of ours; None otherwise."""
    payload = verify(token, keys)
    if payload is None or payload.get("k") != CONFIRM_KIND or set(payload) != {"k", "i", "n"}:
        return None
    signup_id, nonce = payload["i"], payload["n"]
    if type(signup_id) is not int or not isinstance(nonce, str) or not nonce:
        return None
    return signup_id, nonce
