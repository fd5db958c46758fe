"""The campaign language: what a marketer may write in a campaign YAML file.

Every model forbids unknown keys, so a misspelled key is an error with a
"did you mean" instead of a silently ignored setting.
"""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    field_validator,
    model_validator,
)

from edm.campaigns.calendar import NATIONAL_DAYS, Holiday, holiday_date, national_day
from edm.campaigns.rules import Match, OneOrMore, Range
from edm.classes import DIMENSIONS
from edm.countries import parse_country
from edm.surveys.scores import Satisfaction

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
_CLOCK = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")
DEFAULT_AT = time(9, 0)  # holiday and life-event mail: 09:00, never at midnight
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _known_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Asia/Shanghai)") from None
    return value


TimeZoneName = Annotated[str, AfterValidator(_known_timezone)]


def _clock_time(value: Any) -> Any:
    """"09:00" as a time of day. YAML reads an unquoted 10:30 as the number 630 (base 60): refused
    with a hint rather than taken as 00:10:30."""
    if isinstance(value, time):
        return value
    if isinstance(value, str) and (found := _CLOCK.fullmatch(value.strip())):
        return time(int(found[1]), int(found[2]))
    hint = " (quote it: YAML reads an unquoted 10:30 as a number)" if isinstance(value, int) else ""
    raise ValueError(f"{value!r} is not a time of day like \"09:00\"{hint}")


def _clock_schema(schema: dict[str, Any]) -> None:
    """In the JSON Schema, what YAML holds: "09:00" (the `time` format wants seconds and an offset)."""
    schema.pop("format", None)
    schema.update(type="string", pattern=f"^{_CLOCK.pattern}$", default=f"{DEFAULT_AT:%H:%M}")


ClockTime = Annotated[time, BeforeValidator(_clock_time), Field(json_schema_extra=_clock_schema)]


def _country_or_customer(value: str) -> str:
    return value if value == "customer" else parse_country(value)


HolidayCountry = Annotated[str, AfterValidator(_country_or_customer)]  # `customer`, or an ISO code


def _english_fallback(subjects: dict[str, str]) -> dict[str, str]:
    if "en" not in subjects:
        raise ValueError("an 'en' subject is required: it is the fallback for every locale")
    return subjects


Subjects = Annotated[dict[str, str], Field(min_length=1), AfterValidator(_english_fallback)]  # by language


class Schedule(_Strict):
    """When the daemon runs the campaign: a five-field cron line in a stated time zone."""

    cron: str
    timezone: TimeZoneName = "UTC"

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        _crontab(value, "UTC")  # raises ValueError with the reason
        return value

    def trigger(self) -> CronTrigger:
        return _crontab(self.cron, self.timezone)


def _crontab(cron: str, timezone: str) -> CronTrigger:
    """The cron line as crontab(5) reads it.

    APScheduler 3 counts a numeric day of the week from Monday (0), crontab from Sunday
    (0 or 7): "0 10 * * 2" would fire on Wednesdays. So day numbers become day names.
    """
    fields = cron.split()
    if len(fields) != 5:
        raise ValueError(f"a cron line has 5 fields (minute hour day month weekday), not {len(fields)}")
    fields[4] = _crontab_weekdays(fields[4])
    return CronTrigger.from_crontab(" ".join(fields), timezone=ZoneInfo(timezone))


def _crontab_weekdays(field: str) -> str:
    """crontab's day-of-week numbers, ranges and steps ("1-5", "0,6", "1-5/2") as day names."""
    if not any(character.isdigit() for character in field) or field.startswith("*"):
        return field
    names: list[str] = []
    for part in field.split(","):
        span, _, step = part.partition("/")
        low, _, high = span.partition("-")
        try:
            days = range(int(low), int(high or low) + 1, int(step or 1))
        except ValueError:
            raise ValueError(f"day of week {part!r}: use numbers 0-7 (0 and 7 are Sunday) or names") from None
        if not days or days.start < 0 or days[-1] > 7:
            raise ValueError(f"day of week {part!r}: use numbers 0-7 (0 and 7 are Sunday)")
        names.extend(_WEEKDAYS[day % 7] for day in days)
    return ",".join(dict.fromkeys(names))


class HolidayTrigger(_Strict):
    """On a holiday (edm.campaigns.calendar), or some days before or after it, at `at` (09:00).

    e.g. `holiday: {name: spring_festival, days_before: 3}`. Each customer gets it at `at` in
    their own time zone on the campaign's day as their calendar reads it (or, with `timezone`,
    at `at` in that zone, the same moment for everyone). `national_day` needs `country`:
    `customer` (each customer's country's national day) or a code such as `CN`.
    `only_where_observed` (default true) skips customers whose country does not keep the holiday
    (edm.campaigns.observance: no Christmas greeting to Riyadh); customers of unknown country get it.
    """

    name: Holiday
    country: HolidayCountry | None = None
    days_before: int = Field(0, ge=0, le=60)
    days_after: int = Field(0, ge=0, le=60)
    at: ClockTime = DEFAULT_AT
    timezone: TimeZoneName | None = None  # None: each customer's own
    only_where_observed: bool = True

    @model_validator(mode="after")
    def _one_offset(self) -> HolidayTrigger:
        if self.days_before and self.days_after:
            raise ValueError("give days_before or days_after, not both")
        return self

    @model_validator(mode="after")
    def _country_for_national_day(self) -> HolidayTrigger:
        if self.name == "national_day" and self.country is None:
            raise ValueError("national_day needs a country: customer (each customer's own) or a code like CN")
        if self.name != "national_day" and self.country is not None:
            raise ValueError(f"country is for national_day; {self.name} falls on one day everywhere")
        if self.country not in (None, "customer", *NATIONAL_DAYS):
            known = ", ".join(sorted(NATIONAL_DAYS))
            raise ValueError(f"no national day is known for {self.country}; known: {known}")
        return self

    @property
    def offset(self) -> timedelta:
        """From the holiday to the campaign's day."""
        return timedelta(days=self.days_after - self.days_before)

    def day_in(self, year: int, country: str | None = None) -> date | None:
        """The campaign's day for the holiday of `year` (it may fall in the year before); for a
        national day, `country`'s (the trigger's own when it names one; None when there is none)."""
        if self.name != "national_day":
            return holiday_date(self.name, year) + self.offset
        of = country if self.country == "customer" else self.country
        day = national_day(of, year) if of else None
        return None if day is None else day + self.offset


class LifeEvent(_Strict):
    """The customer's own day, in the customer's time zone, once a year, at `at` (09:00) there.

    birthday (a person's), founding_anniversary (a company's founding day) or
    first_order_anniversary (the day they first bought from us); anniversaries start
    with the first full year. `days_before` sends ahead of the day.
    """

    name: Literal["birthday", "founding_anniversary", "first_order_anniversary"]
    days_before: int = Field(0, ge=0, le=30)
    at: ClockTime = DEFAULT_AT


class ClassEntry(_Strict):
    """Customers who entered a class, e.g. `entered: {dimension: lifecycle_stage, into: at_risk}`.

    Classification records every change of class; a customer who entered within
    `within_days` and is still in the class gets the campaign once for that entry
    (a later re-entry is a new one).
    """

    dimension: Literal[
        "scale", "value_tier", "industry", "purchase_frequency", "loyalty", "lifecycle_stage",
        "relationship_stage", "churn_kind", "profit_profile",
    ]
    into: OneOrMore[str]
    within_days: int = Field(7, ge=1, le=90)

    @model_validator(mode="after")
    def _known_classes(self) -> ClassEntry:
        classes = DIMENSIONS[self.dimension]
        unknown = [name for name in self.into if name not in classes]
        if unknown:
            raise ValueError(f"{self.dimension} has no class {', '.join(map(repr, unknown))}; "
                             f"its classes: {', '.join(classes)}")
        return self


class Inactivity(_Strict):
    """No order for `days`, or for `usual_intervals` times the customer's usual gap between orders.

    Once per silence: the message belongs to the customer's last order, so a new order
    and a new silence bring a new one. Customers who never ordered are never inactive.
    """

    days: int | None = Field(None, ge=1)
    usual_intervals: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one_measure(self) -> Inactivity:
        if (self.days is None) == (self.usual_intervals is None):
            raise ValueError("give days or usual_intervals (one of them)")
        return self

    def as_match(self) -> Match:
        if self.days is not None:
            return Match(days_since_last_order=Range(at_least=self.days))
        return Match(overdue_intervals=Range(at_least=self.usual_intervals))


class AfterOrder(_Strict):
    """`days` after the customer's latest order, once per order (a post-purchase survey, a thank-you).

    Orders up to `days + within_days` ago still get it, so a planner that was down for a day
    catches up; older orders never do.
    """

    days: int = Field(ge=0, le=365)
    within_days: int = Field(7, ge=1, le=90)

    def as_match(self) -> Match:
        return Match(days_since_last_order=Range(at_least=self.days, less_than=self.days + self.within_days))


class Reorder(_Strict):
    """`days_before` each customer's expected next order (their last order + their own usual
    interval, edm.customers.rhythm), once per expected order: a reminder to order again.

    A customer already late gets none (re-engagement is for them); one who just ordered has a
    new expected date, and so a new reminder.
    """

    days_before: int = Field(ge=0, le=90)

    def as_match(self) -> Match:
        # the expected day itself included: "in 0 days" lasts until its end (fractional days)
        return Match(days_until_expected_order=Range(at_least=-1, at_most=self.days_before))


class Answered(_Strict):
    """A survey answer in a class, e.g. `answered: {survey: nps, as: detractor, within_days: 3}`.

    Once per answer: the customer's latest answer of `survey` (any: either) given or changed
    within `within_days` whose current score is in one of the classes (NPS 0-6 / CSAT 1-2
    detractor, NPS 9-10 / CSAT 4-5 promoter, the rest passive).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    survey: Literal["nps", "csat", "any"] = "any"
    as_: OneOrMore[Satisfaction] = Field(alias="as")
    within_days: int = Field(7, ge=1, le=90)


EventValue = str | int | float | bool
ORDER_PLACED = "order_placed"  # the built-in event: an order in the store (or a customer event so named)


class Hours(_Strict):
    """A span of time, e.g. `delay: {hours: 2}`."""

    hours: float = Field(ge=0, le=24 * 90)

    @property
    def span(self) -> timedelta:
        return timedelta(hours=self.hours)


class Unless(_Strict):
    """Cancel the mail when the customer did this after the triggering event, within `within_hours`
    of it: checked when planning and again when sending (an order placed after planning still stops it)."""

    event: str = Field(ORDER_PLACED, min_length=1, max_length=64)
    within_hours: float = Field(72, gt=0, le=24 * 365)


class EventTrigger(_Strict):
    """A customer event (from the API or an import), e.g.
    `event: {name: quote_requested, where: {channel: web}, within_hours: 24, delay: {hours: 2},
    unless: {event: order_placed, within_hours: 72}}` (docs/events.md).

    Customers with a matching event in the last `within_hours` get the mail once per event day,
    `delay` after the event (the first of the day), unless they did the `unless` event since.
    `where`: each property must equal the value (a list: one of the values).
    """

    name: str = Field(min_length=1, max_length=64)
    where: dict[str, EventValue | list[EventValue]] = {}
    within_hours: float = Field(24, gt=0, le=24 * 90)
    delay: Hours | None = None
    unless: Unless | None = None

    def matches(self, properties: dict[str, Any] | None) -> bool:
        """Whether an event's properties satisfy `where`."""
        given = properties or {}
        for key, wanted in self.where.items():
            options = wanted if isinstance(wanted, list) else [wanted]
            if key not in given or given[key] not in options:
                return False
        return True


class _StepContent(_Strict):
    """What a variant or a sequence step may change: the template, the subjects (else the campaign's)."""

    template: str | None = None
    subject: Subjects | None = None


class Variant(_StepContent):
    """One arm of an A/B/n test: its share of the sent messages, and what it changes."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    weight: float = Field(1.0, gt=0)


class PickWinner(_Strict):
    """An A/B test that picks its winner: `test_share` of the audience gets the variants, the rest waits.

    `after_hours` after the last test message went out, the next planning run measures each
    variant's `metric` over its delivered test mail: `click_rate` (people who clicked; machine
    clicks never count) or `order_rate` (customers who ordered after their mail). If the best
    variant beats every other one at `confidence` (two-sided two-proportion z-test, Fisher's exact
    test when a cell expects fewer than 5; Holm's correction over the comparisons with three or
    more variants), the rest gets it; otherwise the rest gets `default` (the first variant if not
    named). `edm report engagement` shows the decision and its figures (docs/ab-tests.md).
    """

    metric: Literal["click_rate", "order_rate"] = "click_rate"
    after_hours: int = Field(24, ge=1, le=24 * 14)
    test_share: float = Field(0.2, gt=0, lt=1)
    confidence: float = Field(0.95, ge=0.5, lt=1)
    default: str | None = None  # a variant's name; None: the first variant


class FollowUp(_StepContent):
    """A later step of a sequence: `after_days` from the first message, its own template or subject."""

    after_days: int = Field(ge=1, le=365)


Exit = Literal["ordered", "clicked", "left_audience"]

Kind = Literal["marketing", "greeting", "survey", "service"]
KINDS: tuple[Kind, ...] = ("marketing", "greeting", "survey", "service")
LEGACY_KINDS = {"transactional": "service"}  # the old spelling, still read (edm campaign validate notes it)


def _legacy_kind(value: Any) -> Any:
    return LEGACY_KINDS.get(value, value) if isinstance(value, str) else value


def kind_note(raw: Any) -> str | None:
    """What to tell the author of a file whose `kind` is an old spelling; None when it is current."""
    if isinstance(raw, str) and raw in LEGACY_KINDS:
        return f"kind: {raw} is read as kind: {LEGACY_KINDS[raw]}; write that instead"
    return None


class Campaign(_Strict):
    """One campaign file. `kind` says what its mail is, and so which rules apply (docs/compliance.md):

    - `marketing` (the default): promotion (offers, win-back, referrals, reorder nudges). Its
      subject is marked as advertising when `compliance.mark_ads` is on; every frequency rule;
      one-click unsubscribe (List-Unsubscribe and List-Unsubscribe-Post, RFC 8058).
    - `greeting`: relationship mail (holidays, birthdays, anniversaries). No advertising mark;
      every frequency rule; one-click unsubscribe.
    - `survey`: NPS, CSAT and other one-question asks. As a greeting.
    - `service`: mail the customer needs (a closure notice, an order or account notice). No
      advertising mark; none of the frequency rules (pause, sunset, one per day, send window,
      contact interval); List-Unsubscribe without List-Unsubscribe-Post; sent before any
      other mail waiting in the outbox.

    Unsubscribed and bounced addresses get no kind of mail. `transactional`, the old name of
    `service`, is still read as `service`.

    `topic` names what the mail is about among `topics:` in edm.yaml (news, offers, greetings,
    surveys by default); people choose their topics on the preference page (docs/preferences.md).

    `title` is the name people read, per language: `{en: Spring Festival greeting, zh-Hans: 春节问候}`.
    Digests use it in the manager's language; `edm campaign due`, `preview` and `run` in
    `alerts.language`, with the name to type: "春节问候 (spring_festival)". A language without a
    title reads the English one, else the name humanised.
    """

    name: str
    description: str = ""
    # the name people read (digests, reports) per language, e.g. {en: Year-end thank-you, zh-Hans: 年终致谢};
    # a language without one reads the English title, else the name humanised (edm.campaigns.labels)
    title: dict[str, str] = {}
    kind: Annotated[Kind, BeforeValidator(_legacy_kind)] = "marketing"
    # one of `topics:` in edm.yaml (docs/preferences.md): who turned it off on the preference page
    # gets none of this campaign's mail; None: reaches everyone subscribed (service mail never has one)
    topic: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]{0,31}$")
    audience: Match = Match()  # everyone with a profile, unless narrowed
    template: str
    subject: Subjects
    links: dict[str, HttpUrl] = {}
    params: dict[str, str | int | float] = {}
    schedule: Schedule | None = None
    holiday: HolidayTrigger | None = None
    life_event: LifeEvent | None = None
    entered: ClassEntry | None = None
    inactive: Inactivity | None = None
    after_order: AfterOrder | None = None
    reorder: Reorder | None = None
    answered: Answered | None = None
    event: EventTrigger | None = None
    # sent only through the API (`POST /v1/campaigns/{name}/send`, edm.campaigns.direct): never planned
    api: bool = False
    # a bulk promotion: key accounts (large or high value) never receive it, whatever the audience says
    bulk: bool = False
    # the customer's adaptive contact interval (edm.engagement): marketing mail waits for it unless false
    respect_frequency: bool = True
    reaches_sunset: bool = False  # re-permission and win-back may write to customers in sunset
    send_time: Literal["now", "optimal"] = "now"  # optimal: at the hour the customer usually reads
    # account_manager: in the customer's account manager's name, replies to them (else the default sender)
    sender: Literal["default", "account_manager"] = "default"
    priority: int = 0  # under policy.one_per_day, the highest priority campaign of the day wins
    when_busy: Literal["drop", "wait"] = "drop"  # a customer already mailed today: skip, or send tomorrow
    follow_ups: list[FollowUp] = []  # a sequence: steps 1, 2, ... after the first message (step 0)
    exit_when: list[Exit] = ["ordered", "left_audience"]  # stop the sequence (unsubscribing always does)
    variants: list[Variant] = []
    holdout_percent: float = Field(0.0, ge=0, le=50)  # a control group: recorded, never sent
    pick_winner: PickWinner | None = None  # test the variants on a share first, then send the rest the winner
    # required: planned only once someone approved it in the console (`edm console`, docs/console.md)
    approval: Literal["required"] | None = None

    @model_validator(mode="after")
    def _unique_variants(self) -> Campaign:
        names = [variant.name for variant in self.variants]
        if len(names) != len(set(names)):
            raise ValueError(f"variant names must differ: {', '.join(names)}")
        return self

    @model_validator(mode="after")
    def _winner_between_variants(self) -> Campaign:
        pick = self.pick_winner
        if pick is None:
            return self
        if len(self.variants) < 2:
            raise ValueError("pick_winner needs at least two variants to choose between")
        names = [variant.name for variant in self.variants]
        if pick.default is not None and pick.default not in names:
            raise ValueError(f"pick_winner default {pick.default!r} is not a variant "
                             f"(variants: {', '.join(names)})")
        per_customer = (self.holiday, self.life_event, self.entered, self.inactive, self.after_order,
                        self.reorder, self.answered, self.event, self.api or None)
        if any(trigger is not None for trigger in per_customer):
            raise ValueError("pick_winner needs a campaign sent to its whole audience at once: a schedule "
                             "or no trigger (the rest waits for the test's result)")
        return self

    @property
    def default_variant(self) -> str | None:
        """What the rest of an A/B test gets when no variant wins: `pick_winner.default`, else the first."""
        if self.pick_winner is None:
            return None
        return self.pick_winner.default or self.variants[0].name

    @model_validator(mode="after")
    def _follow_ups_in_order(self) -> Campaign:
        days = [step.after_days for step in self.follow_ups]
        if days != sorted(set(days)):
            raise ValueError(f"follow_ups must come in increasing after_days: {days}")
        return self

    def content(self, variant: str | None, step: int = 0) -> tuple[str, dict[str, str]]:
        """The template and subjects of `step` (0: the first message) for `variant` (None: no variant)."""
        if step > 0:
            follow_up = self.follow_ups[step - 1]
            return follow_up.template or self.template, follow_up.subject or self.subject
        chosen = next((v for v in self.variants if v.name == variant), None)
        if chosen is None:
            return self.template, self.subject
        return chosen.template or self.template, chosen.subject or self.subject

    @model_validator(mode="after")
    def _one_trigger(self) -> Campaign:
        triggers = (self.schedule, self.holiday, self.life_event, self.entered, self.inactive,
                    self.after_order, self.reorder, self.answered, self.event, self.api or None)
        if sum(t is not None for t in triggers) > 1:
            raise ValueError("give one trigger: schedule, holiday, life_event, entered, inactive, "
                             "after_order, reorder, answered, event or api")
        return self

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("use lower-case letters, digits and underscores, starting with a letter")
        return value

    @property
    def order_trigger(self) -> Inactivity | AfterOrder | Reorder | None:
        """The trigger that belongs to the customer's latest order: one message per order."""
        return self.inactive or self.after_order or self.reorder

    @model_validator(mode="after")
    def _service_mail_has_no_topic(self) -> Campaign:
        if self.topic is not None and self.kind == "service":
            raise ValueError("service mail has no topic: it reaches everyone not unsubscribed")
        return self

    @property
    def follows_policy(self) -> bool:
        """Frequency policy (pause, sunset, one per day, send window) applies: all but service mail."""
        return self.kind != "service"

    @property
    def marks_ads(self) -> bool:
        """Advertising: its subject is marked when `compliance.mark_ads` is on."""
        return self.kind == "marketing"

    @property
    def one_click_unsubscribe(self) -> bool:
        """RFC 8058 one-click (List-Unsubscribe-Post) is for bulk commercial mail: not service mail."""
        return self.kind != "service"

    @property
    def respects_contact_interval(self) -> bool:
        """Service mail, and a campaign that says so, go out whatever the interval says."""
        return self.follows_policy and self.respect_frequency


def campaign_json_schema() -> dict[str, Any]:
    """The JSON Schema of a campaign file, with the keys as written in YAML."""
    schema = Campaign.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "edm campaign"
    for key, condition in schema["$defs"]["Match"]["properties"].items():
        if key not in ("all", "any", "not"):
            _accept_shorthands(condition)
    into = schema["$defs"]["ClassEntry"]["properties"]["into"]
    schema["$defs"]["ClassEntry"]["properties"]["into"] = {"anyOf": [into["items"], into]}
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
