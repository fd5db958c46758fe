"""Tracking links: the URLs put into mail, and reading their tokens back.

Each token names its kind (o = open pixel, c = click, u = unsubscribe, s = survey answer), so a
token taken from one link cannot be replayed on another route; a click token seals its target
URL, so the redirect can never be pointed anywhere else (no open redirect), and a survey token
seals its survey and score, so no one can answer with a score the mail did not offer. An
unsubscribe token of a campaign with a topic seals that topic (`t`): what a per-topic one-click
unsubscribe turns off (docs/preferences.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from edm.surveys.scores import Survey, is_score
from edm.tracking.tokens import json_string, sign, sign_json, verify

_TOPIC = re.compile(r"[a-z][a-z0-9_]{0,31}")  # as settings `topics` names them
Kind = Literal["o", "c", "u"]
KINDS: tuple[Kind, ...] = ("o", "c", "u")


@dataclass(frozen=True)
class Link:
    """What a verified token says: which mail, which customer, and for clicks where to go."""

    kind: Kind
    outbox_id: int
    customer_id: int
    url: str | None = None
    topic: str | None = None  # unsubscribe links: the campaign's topic, if it has one


@dataclass(frozen=True)
class SurveyLink:
    """What a verified survey token says: which mail and customer, which survey, which score."""

    outbox_id: int
    customer_id: int
    survey: Survey
    score: int


def is_web_url(url: str) -> bool:
    """An absolute http(s) URL with a host and nothing that could break a Location header."""
    if not isinstance(url, str) or any(ch.isspace() or not ch.isprintable() for ch in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


class TrackingLinks:
    """Builds signed open, click and unsubscribe URLs under one public base URL."""

    def __init__(self, base_url: str, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("TrackingLinks needs at least one signing key")
        self._base = base_url.rstrip("/")
        self._keys = tuple(keys)
        self._targets: dict[str, str] = {}  # click targets found to be web URLs, as JSON (a campaign has few)

    @property
    def key(self) -> bytes:
        """The newest signing key: it signs new links, and tags our Message-IDs (edm.delivery.message)."""
        return self._keys[0]

    def open_url(self, outbox_id: int, customer_id: int) -> str:
        return f"{self._base}/o/{self._token('o', outbox_id, customer_id)}.gif"

    def click_url(self, outbox_id: int, customer_id: int, url: str) -> str:
        target = self._targets.get(url)
        if target is None:
            if not is_web_url(url):
                raise ValueError(f"click target must be an absolute http(s) URL, not {url!r}")
            target = json_string(url)
            if len(self._targets) < 1000:
                self._targets[url] = target
        return f"{self._base}/c/{self._token('c', outbox_id, customer_id, target)}"

    def unsubscribe_url(self, outbox_id: int, customer_id: int, topic: str | None = None) -> str:
        """The unsubscribe and preference page's URL; `topic`: the campaign's (sealed in the token)."""
        if topic is None:
            return f"{self._base}/u/{self._token('u', outbox_id, customer_id)}"
        if not _TOPIC.fullmatch(topic):
            raise ValueError(f"not a topic name: {topic!r}")
        return f"{self._base}/u/{sign(dict(c=customer_id, k='u', m=outbox_id, t=topic), self._keys)}"

    def survey_url(self, outbox_id: int, customer_id: int, survey: Survey, score: int) -> str:
        """The link that answers `survey` with `score` in one click."""
        if not is_score(survey, score):
            raise ValueError(f"{score!r} is not a {survey} score")
        body = f'{{"c":{customer_id:d},"k":"s","m":{outbox_id:d},"q":"{survey}","v":{score:d}}}'
        return f"{self._base}/s/{sign_json(body, self._keys)}"

    def _token(self, kind: Kind, outbox_id: int, customer_id: int, url_json: str | None = None) -> str:
        """The JSON `sign` would write for {"k", "m", "c"[, "u"]}, written directly: three tokens a mail."""
        url = f',"u":{url_json}' if url_json is not None else ""
        return sign_json(f'{{"c":{customer_id:d},"k":"{kind}","m":{outbox_id:d}{url}}}', self._keys)


def read_token(token: str, keys: Sequence[bytes], kind: Kind) -> Link | None:
    """The link behind `token` if it verifies and is of `kind`; None for anything else."""
    payload = verify(token, keys)
    if payload is None or payload.get("k") != kind:
        return None
    outbox_id, customer_id, url = payload.get("m"), payload.get("c"), payload.get("u")
    if type(outbox_id) is not int or type(customer_id) is not int:
        return None
    if kind == "c":
        if not isinstance(url, str) or not is_web_url(url):
            return None
        return Link(kind, outbox_id, customer_id, url)
    if url is not None:
        return None
    topic = payload.get("t")
    if topic is not None and (kind != "u" or not isinstance(topic, str) or not _TOPIC.fullmatch(topic)):
        return None
    return Link(kind, outbox_id, customer_id, topic=topic)


def read_survey_token(token: str, keys: Sequence[bytes]) -> SurveyLink | None:
    """The survey answer behind `token` if it verifies, is a survey token and holds a possible score."""
    payload = verify(token, keys)
    if payload is None or payload.get("k") != "s" or set(payload) != {"c", "k", "m", "q", "v"}:
        return None
    outbox_id, customer_id, survey, score = payload["m"], payload["c"], payload["q"], payload["v"]
    if type(outbox_id) is not int or type(customer_id) is not int or not is_score(survey, score):
        return None
    return SurveyLink(outbox_id, customer_id, survey, score)
