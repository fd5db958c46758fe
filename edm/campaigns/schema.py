"""The campaign language: what a marketer may write in a campaign YAML file.

Every model forbids unknown keys, so a misspelled key is an error with a
"did you mean" instead of a silently ignored setting.
"""

from __future__ import annotations

import re
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from edm.classes import LIFECYCLE_STAGES, VALUE_TIERS, Stage, Tier

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,99}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Audience(_Strict):
    """Who may receive the campaign, by value tier and lifecycle stage (both must match)."""

    tiers: list[Tier] = Field(default_factory=lambda: list(VALUE_TIERS), min_length=1)
    stages: list[Stage] = Field(default_factory=lambda: list(LIFECYCLE_STAGES), min_length=1)


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
    audience: Audience = Audience()
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
