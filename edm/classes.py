"""The classes a customer can be in: one vocabulary for classification, campaigns, settings and reports."""

from __future__ import annotations

from typing import Literal, get_args

Tier = Literal["high", "medium", "low"]
Stage = Literal["prospect", "new", "growing", "mature", "at_risk", "churned", "reacquired"]

VALUE_TIERS: tuple[Tier, ...] = get_args(Tier)
LIFECYCLE_STAGES: tuple[Stage, ...] = get_args(Stage)
