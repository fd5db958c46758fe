"""Who gets a campaign's message and why not, as one pure function over plain data.

The planner gathers what it knows about each audience member (`Facts`) and asks `decide`;
a real run queues the `send` decisions (and records the holdout), a dry run reports every
decision. Both go through this one function, so what `--dry-run` says is what a run does.

Rules, in order (the first that holds a customer back names the reason): already planned,
suppressed, no lawful basis for the campaign's kind (edm.consent.policy, `consent.kinds`), holiday
not kept in their country; for all but service mail: the campaign's topic turned off (preference
page), paused, in sunset (unless the campaign `reaches_sunset`), mailed that day by another
campaign (`policy.one_per_day`, when the campaign drops rather than waits); then the send time and
window, the adaptive contact interval judged for that moment; last the holdout group (the
campaign's `holdout_percent`, else `policy.default_holdout_percent`; none for service mail).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from edm.campaigns.schema import Campaign
from edm.campaigns.timing import Timing, at_hour, window_opening, zone
from edm.campaigns.variants import HOLDOUT, assign
from edm.config import ConsentSettings, PolicySettings, SendWindow
from edm.consent.policy import ConsentFacts, hold_reason
from edm.engagement import may_contact


class Reason(StrEnum):
    """Why a customer is sent to now, later, or held back."""

    DUE = "due"  # send: goes out now
    SCHEDULED = "scheduled"  # send: queued for later (send window, `at` o'clock, reading hour, next day)
    FOLLOW_UP = "follow_up"  # send: the next step of a sequence they are in
    ALREADY_PLANNED = "already_planned"  # an outbox row for this occurrence exists
    SUPPRESSED = "suppressed"  # unsubscribed, bounced or complained
    NO_CONSENT = "no_consent"  # no lawful basis the campaign's kind may use (consent.kinds)
    NOT_OBSERVED = "not_observed"  # their country does not keep the holiday
    PAUSED = "paused"  # asked for no marketing mail until a date (preference page)
    TOPIC_OFF = "topic_off"  # turned off the campaign's topic (preference page)
    SUNSET = "sunset"  # long silent to our mail
    MAILED_TODAY = "mailed_today"  # another campaign mails them that day (policy.one_per_day)
    TOO_SOON = "too_soon"  # their adaptive contact interval has not passed
    HOLDOUT = "holdout"  # the control group: recorded, never sent
    EXITED = "exited"  # left a sequence: ordered, clicked or left the audience


SENDING = frozenset({Reason.DUE, Reason.SCHEDULED, Reason.FOLLOW_UP})
DEFAULT_CONSENT = ConsentSettings()


@dataclass(frozen=True, slots=True)
class Facts:
    """What the planner knows about one audience member when it plans."""

    customer_id: int
    timezone: str
    interval_days: float
    planned: bool = False
    suppression: str | None = None  # the suppression list's reason, None when not on it
    observed: bool = True  # their country keeps the holiday (or the campaign has none)
    paused_until: datetime | None = None
    sunset: bool = False
    busy: bool = False  # another campaign mails them on the day this one would
    best_hour: int | None = None
    last_contact: datetime | None = None
    topic_off: str | None = None  # the campaign's topic, when the customer turned it off
    consent: ConsentFacts | None = None  # their mailbox's consent (None: not gathered, not judged)


@dataclass(frozen=True, slots=True)
class Rules:
    """What the campaign and the policy say, taken once per campaign."""

    campaign: str
    marketing: bool  # frequency policy applies: marketing, greeting and survey mail (not service)
    reaches_sunset: bool
    drop_when_busy: bool
    optimal_time: bool
    respects_interval: bool
    variants: tuple[tuple[str, float], ...]
    holdout_percent: float
    window: SendWindow | None
    kind: str = "marketing"
    consent: ConsentSettings = DEFAULT_CONSENT

    @classmethod
    def of(cls, campaign: Campaign, policy: PolicySettings, consent: ConsentSettings | None = None) -> Rules:
        marketing = campaign.follows_policy  # every kind but service mail
        return cls(
            campaign=campaign.name,
            marketing=marketing,
            reaches_sunset=campaign.reaches_sunset,
            drop_when_busy=campaign.when_busy == "drop",
            optimal_time=campaign.send_time == "optimal",
            respects_interval=campaign.respects_contact_interval,
            variants=tuple((v.name, v.weight) for v in campaign.variants),
            holdout_percent=holdout_percent(campaign, policy),
            window=policy.send_window if marketing else None,
            kind=campaign.kind,
            consent=consent or DEFAULT_CONSENT,
        )


def holdout_percent(campaign: Campaign, policy: PolicySettings) -> float:
    """The control group's share: the campaign's own `holdout_percent` when its file sets one (0 too),
    else `policy.default_holdout_percent`; never any for service mail, which must always arrive."""
    if not campaign.follows_policy:
        return 0.0
    if "holdout_percent" in campaign.model_fields_set:
        return campaign.holdout_percent
    return policy.default_holdout_percent


@dataclass(frozen=True, slots=True)
class Decision:
    """Send (when, which variant) or hold back (why), for one customer."""

    customer_id: int
    reason: Reason
    detail: str = ""
    variant: str | None = None  # the variant sent; None without variants, or when held
    send_at: datetime | None = None  # when it goes out (or would: the holdout, as recorded; too soon)
    waits: bool = False  # sent a day later because another campaign mails them first

    @property
    def send(self) -> bool:
        return self.reason in SENDING


@dataclass(frozen=True, slots=True)
class Judged:
    """A decision with who it is about, for whoever watches a plan (a dry run's report)."""

    campaign: str
    step: int
    email: str
    name: str
    locale: str
    template: str  # the template they get (or would get), for their language
    decision: Decision


Watcher = Callable[[Judged], None]


def decide(facts: Facts, rules: Rules, timing: Timing) -> Decision:
    """The decision for one audience member of a campaign planned with `timing`."""
    held = _held_before_timing(facts, rules, timing)
    if held is not None:
        return held
    send_at = timing.moment(facts.timezone)
    if facts.busy:  # and the campaign waits: the customer's next day
        send_at = timing.next_day(window_opening(send_at, facts.timezone, rules.window), facts.timezone)
    if rules.optimal_time and facts.best_hour is not None:
        send_at = at_hour(send_at, facts.timezone, facts.best_hour)
    send_at = window_opening(send_at, facts.timezone, rules.window)
    if rules.respects_interval and not may_contact(facts.last_contact, facts.interval_days, send_at):
        return Decision(facts.customer_id, Reason.TOO_SOON, _too_soon(facts, send_at), send_at=send_at)
    variant = assign(rules.campaign, facts.customer_id, rules.variants, rules.holdout_percent)
    if variant == HOLDOUT:
        return Decision(facts.customer_id, Reason.HOLDOUT, f"control group ({rules.holdout_percent:g}%)",
                        send_at=send_at, waits=facts.busy)
    later = send_at > timing.now
    detail = f"goes out {_local(send_at, facts.timezone)}" if later else ""
    if facts.busy:
        detail += " (a day later: another campaign mails them first)"
    return Decision(facts.customer_id, Reason.SCHEDULED if later else Reason.DUE, detail.strip(),
                    variant=variant, send_at=send_at, waits=facts.busy)


def decide_follow_up(customer_id: int, suppression: str | None, exits: Sequence[str],
                     no_consent: str | None = None) -> Decision:
    """The next step of a sequence, due for an enrolled customer: held if they are on the suppression
    list, lack a basis for the campaign's kind (`no_consent`: edm.consent.policy.hold_reason) or have
    left (`exits`: the campaign's `exit_when` reasons that hold for them)."""
    if suppression is not None:
        return Decision(customer_id, Reason.SUPPRESSED, suppression)
    if no_consent is not None:
        return Decision(customer_id, Reason.NO_CONSENT, no_consent)
    if exits:
        return Decision(customer_id, Reason.EXITED, ", ".join(exits))
    return Decision(customer_id, Reason.FOLLOW_UP)


def _held_before_timing(facts: Facts, rules: Rules, timing: Timing) -> Decision | None:
    """The rules that do not depend on when the message would go out."""
    who = facts.customer_id
    if facts.planned:
        return Decision(who, Reason.ALREADY_PLANNED, "already in the outbox for this occurrence")
    if facts.suppression is not None:
        return Decision(who, Reason.SUPPRESSED, facts.suppression)
    if facts.consent is not None:
        lacking = hold_reason(facts.consent, rules.kind, timing.now, rules.consent)
        if lacking is not None:
            return Decision(who, Reason.NO_CONSENT, lacking)
    if not facts.observed:
        return Decision(who, Reason.NOT_OBSERVED, "their country does not keep the holiday")
    if not rules.marketing:
        return None
    if facts.topic_off is not None:
        return Decision(who, Reason.TOPIC_OFF, f"turned off the topic {facts.topic_off!r}")
    moment = timing.moment(facts.timezone)
    if facts.paused_until is not None and facts.paused_until > moment:
        return Decision(who, Reason.PAUSED, f"paused until {facts.paused_until:%Y-%m-%d}")
    if facts.sunset and not rules.reaches_sunset:
        return Decision(who, Reason.SUNSET, "no open, click or order within the sunset period")
    if facts.busy and rules.drop_when_busy:
        return Decision(who, Reason.MAILED_TODAY, "another campaign mails them that day (one per day)")
    return None


def _too_soon(facts: Facts, send_at: datetime) -> str:
    assert facts.last_contact is not None  # may_contact allows anyone never mailed
    allowed = facts.last_contact + timedelta(days=facts.interval_days)
    return (f"last mail {facts.last_contact:%Y-%m-%d}, interval {facts.interval_days:g} d, "
            f"next from {allowed:%Y-%m-%d}")


def _local(moment: datetime, timezone: str) -> str:
    return f"{moment.astimezone(zone(timezone)):%Y-%m-%d %H:%M} {timezone}"
