"""The audience language: conditions on a customer's profile, combined with all / any / not.

One `Match` is a mapping of conditions that must all hold; `all`, `any` and `not` nest
further matches. Every key is a model field, so an unknown key is an error with a
"did you mean", and every class value is checked against its vocabulary
(`edm.classes`). Compiled to SQLAlchemy in `edm.campaigns.audience`; YAML never
becomes SQL text.

    audience:
      value_tier: [high, medium]
      lifecycle_stage: at_risk
      any:
        - loyalty: [loyal, fairly_loyal]
        - scale: large
      not: {churn_kind: partial}
      days_since_last_order: {more_than: 90}
      tags: [vip, expo-2025]                     # any of them
      attributes: {region: east, employees: {more_than: 100}}
      engagement_level: [active, cooling]
      satisfaction: [detractor]                  # the latest survey answer's class
      key_account: false                         # large or high value
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from edm.classes import (
    ChurnKind,
    Frequency,
    Industry,
    Loyalty,
    ProfitProfile,
    Relationship,
    Scale,
    Stage,
    Tier,
)
from edm.customers.tags import check_attribute_name, check_tag
from edm.engagement.levels import EngagementLevel
from edm.surveys.scores import Satisfaction, Trend


def _as_list(value: Any) -> Any:
    """`stage: at_risk` reads as `stage: [at_risk]`."""
    return value if isinstance(value, list) else [value]


T = TypeVar("T")
OneOrMore = Annotated[list[T], BeforeValidator(_as_list), Field(min_length=1)]


class Range(BaseModel):
    """A numeric condition; every bound given must hold (NULL, e.g. "never ordered", matches none)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    more_than: float | None = None
    at_least: float | None = None
    less_than: float | None = None
    at_most: float | None = None

    @model_validator(mode="after")
    def _some_bound(self) -> Range:
        if all(bound is None for bound in self.bounds().values()):
            raise ValueError("give at least one of more_than, at_least, less_than, at_most")
        return self

    def bounds(self) -> dict[str, float | None]:
        return {"more_than": self.more_than, "at_least": self.at_least,
                "less_than": self.less_than, "at_most": self.at_most}


def _as_range(value: Any) -> Any:
    """A bare number means "at least" it: `order_count: 3` is three or more orders."""
    return {"at_least": value} if isinstance(value, int | float) and not isinstance(value, bool) else value


Numeric = Annotated[Range, BeforeValidator(_as_range)]
Tag = Annotated[str, AfterValidator(check_tag)]
AttributeName = Annotated[str, AfterValidator(check_attribute_name)]
AttributeCondition = Annotated[
    OneOrMore[Annotated[str, Field(min_length=1)] | int | float] | Range,
    Field(union_mode="left_to_right"),
]
"""`region: [east, north]` (any of these values) or `employees: {more_than: 100}` (numbers only)."""

class Match(BaseModel):
    """Conditions that must all hold; a customer without a profile matches nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    # classes (see edm.classes); `tiers` and `stages` are the short names of the first two
    value_tier: OneOrMore[Tier] | None = None
    tiers: OneOrMore[Tier] | None = None
    lifecycle_stage: OneOrMore[Stage] | None = None
    stages: OneOrMore[Stage] | None = None
    scale: OneOrMore[Scale] | None = None
    industry: OneOrMore[Industry] | None = None
    purchase_frequency: OneOrMore[Frequency] | None = None
    loyalty: OneOrMore[Loyalty] | None = None
    relationship_stage: OneOrMore[Relationship] | None = None
    churn_kind: OneOrMore[ChurnKind] | None = None
    profit_profile: OneOrMore[ProfitProfile] | None = None
    # the customer record
    kind: OneOrMore[Literal["company", "person"]] | None = None
    locale: OneOrMore[str] | None = None
    dropped_line: OneOrMore[str] | None = None  # a product line they stopped buying
    tags: OneOrMore[Tag] | None = None  # has any of these tags
    attributes: dict[AttributeName, AttributeCondition] | None = Field(None, min_length=1)
    account_manager: OneOrMore[str] | None = None  # the manager's name or email
    has_account_manager: bool | None = None
    engagement_level: OneOrMore[EngagementLevel] | None = None  # last human open or click (edm.engagement)
    in_sunset: bool | None = None  # mailed long with no open, click or order (re-permission campaigns)
    engagement_score: Numeric | None = None
    key_account: bool | None = None  # large scale or high value (never in `bulk` campaigns)
    # survey answers (edm.surveys): the latest answer's class, its trend, the latest scores
    satisfaction: OneOrMore[Satisfaction] | None = None  # promoter, passive, detractor
    satisfaction_trend: OneOrMore[Trend] | None = None  # the latest against the one before, same survey
    nps_score: Numeric | None = None  # 0..10
    csat_score: Numeric | None = None  # 1..5
    days_since_surveyed: Numeric | None = None  # the latest answer; never answered matches none
    # figures, each a range such as {more_than: 90} (a bare number means at least)
    days_since_last_order: Numeric | None = None
    days_since_first_order: Numeric | None = None
    days_since_engaged: Numeric | None = None  # last open or click
    overdue_intervals: Numeric | None = None  # days since the last order / their expected interval
    churn_risk: Numeric | None = None  # 1 - P(still active) under MBG/NBD, 0..1
    # each customer's own rhythm (edm.customers.rhythm) and what the models expect of them
    expected_interval_days: Numeric | None = None  # their usual days between orders
    days_until_expected_order: Numeric | None = None  # negative once overdue
    expected_orders_90d: Numeric | None = None  # MBG/NBD
    expected_orders_365d: Numeric | None = None
    predicted_value: Numeric | None = None  # expected spend over rhythm.value_horizon_days
    order_count: Numeric | None = None
    revenue: Numeric | None = None
    annual_revenue: Numeric | None = None
    margin: Numeric | None = None
    margin_rate: Numeric | None = None
    orders_per_year: Numeric | None = None
    share_of_wallet: Numeric | None = None
    # combinations
    all_: list[Match] | None = Field(None, alias="all", min_length=1)
    any_: list[Match] | None = Field(None, alias="any", min_length=1)
    not_: Match | None = Field(None, alias="not")

    def conditions(self) -> dict[str, Any]:
        """The conditions given, by their YAML name (unset ones left out)."""
        return {
            (field.alias or name): getattr(self, name)
            for name, field in type(self).model_fields.items()
            if getattr(self, name) is not None
        }
