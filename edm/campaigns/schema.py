"""The campaign language: what a marketer may write in a campaign YAML file.

Every model forbids unknown keys, so a misspelled key is an error with a
"did you mean" instead of a silently ignored setting.
"""

from __future__ import annotations

import re
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from edm.campaigns.rules import Match

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,99}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Schedule(_Strict):
    """When the daemon runs the campaign: a five-field cron line in a stated time zone."""

    cron: str
    timezone: str = "UTC"

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        CronTrigger.from_crontab(value)  # raises ValueError with the reason
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            hint = "use an IANA name such as Asia/Shanghai"
            raise ValueError(f"unknown time zone {value!r} ({hint})") from None
        return value

    def trigger(self) -> CronTrigger:
        return CronTrigger.from_crontab(self.cron, timezone=ZoneInfo(self.timezone))


class Campaign(_Strict):
    name: str
    description: str = ""
    kind: Literal["marketing", "transactional"] = "marketing"
    audience: Match = Match()  # everyone with a profile, unless narrowed
    template: str
    subject: dict[str, str] = Field(min_length=1)
    links: dict[str, HttpUrl] = {}
    params: dict[str, str | int | float] = {}
    schedule: Schedule | None = None

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("use lower-case letters, digits and underscores, starting with a letter")
        return value

    @field_validator("subject")
    @classmethod
    def _has_english_subject(cls, value: dict[str, str]) -> dict[str, str]:
        if "en" not in value:
            raise ValueError("an 'en' subject is required: it is the fallback for every locale")
        return value

    @property
    def respects_contact_interval(self) -> bool:
        """Transactional mail goes out whatever the customer's contact interval says."""
        return self.kind == "marketing"


def campaign_json_schema() -> dict[str, Any]:
    """The JSON Schema of a campaign file, with the keys as written in YAML."""
    schema = Campaign.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "edm campaign"
    for key, condition in schema["$defs"]["Match"]["properties"].items():
        if key not in ("all", "any", "not"):
            _accept_shorthands(condition)
    return schema


def _accept_shorthands(condition: dict[str, Any]) -> None:
    """What the validators accept besides the canonical form: one value for a list, a number for a range.

    (`stage: at_risk` for `stage: [at_risk]`, `order_count: 3` for `{at_least: 3}`.)
    """
    options = condition.get("anyOf", [])
    for option in list(options):
        if option.get("type") == "array" and "items" in option:
            options.insert(0, option["items"])
        elif option.get("$ref", "").endswith("/Range"):
            options.insert(0, {"type": "number"})
