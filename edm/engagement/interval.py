"""The adaptive contact interval, as pure functions.

Each customer starts from their tier's base gap between marketing mails. Every mail a
person reacted to (opened or clicked; proxies and scanners do not count) shortens the
gap; every mail they let pass lengthens it, within the tier's bounds. A customer who
asked for less mail gets a longer gap. So engaged customers hear from us sooner and
silent ones are not harassed ("communication at the right frequency").

With `target_read_rate` set (the default) the gap follows each person's read rate instead:
the share of their judged mails a person opened or clicked, shrunk towards the target by
`read_rate_prior` pseudo-mails, so a reader of every mail hears from us as often as the
tier allows and one who reads one in ten far less, steadily rather than swinging from bound
to bound. Customers whose opens only a privacy proxy records ("veiled": no open by a person
ever, machine opens on their mail) are judged by their clicks, scaled by everyone's
click-to-open rate, rather than taken for silent.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from edm.config import EngagementSettings, TierCadence

LESS_MAIL = "less"  # Customer.frequency_preference set on the preference page


def contact_interval(
    cadence: TierCadence, reactions: Iterable[bool], rules: EngagementSettings, *,
    preference: str | None = None,
) -> float:
    """The gap in days after a history of mails, oldest first (True = a person reacted)."""
    interval = _clamp(cadence.base_days, cadence)
    for engaged in reactions:
        interval = _clamp(interval * (rules.engaged_factor if engaged else rules.ignored_factor), cadence)
    upper = cadence.max_days
    if preference == LESS_MAIL:
        interval = max(interval * rules.less_mail_factor, cadence.base_days)
        upper *= rules.less_mail_factor
    return min(max(round(interval, 2), cadence.min_days), upper)


def read_rate(reads: float, judged: int, target: float, prior: float) -> float:
    """The share of mails a person reads: `reads` of `judged` mails plus `prior` pseudo-mails at `target`."""
    if judged + prior <= 0:
        return target
    return min(1.0, max(0.0, (reads + prior * target) / (judged + prior)))


def veiled_reads(clicked: int, click_to_open: float | None) -> float:
    """How many mails a veiled reader (opens hidden by a proxy) likely read, from the ones they clicked."""
    if not click_to_open or click_to_open <= 0:
        return float(clicked)
    return clicked / min(1.0, click_to_open)


def spaced_interval(
    cadence: TierCadence, rate: float, target: float, rules: EngagementSettings, *,
    preference: str | None = None,
) -> float:
    """The gap in days for a person reading `rate` of their mail: the tier's base at `target`,
    shorter in proportion as they read more, longer as they read less, within the tier's bounds."""
    interval = cadence.max_days if rate <= 0 else cadence.base_days * target / rate
    interval = _clamp(interval, cadence)
    upper = cadence.max_days
    if preference == LESS_MAIL:
        interval = max(interval * rules.less_mail_factor, cadence.base_days)
        upper *= rules.less_mail_factor
    return min(max(round(interval, 2), cadence.min_days), upper)


def judged_reaction(
    sent_at: datetime, engaged: bool, now: datetime, rules: EngagementSettings
) -> bool | None:
    """True/False once a mail can be judged; None while it is too fresh to call it ignored."""
    if engaged:
        return True
    if now - sent_at >= timedelta(days=rules.response_window_days):
        return False
    return None


def may_contact(last_contact: datetime | None, interval_days: float, now: datetime) -> bool:
    """Whether enough time has passed since the last marketing mail."""
    return last_contact is None or now - last_contact >= timedelta(days=interval_days)


def in_sunset(
    first_mailed: datetime | None, last_signal: datetime | None, now: datetime, sunset_after_days: int | None
) -> bool:
    """Mailed for the whole sunset period with no open, click or order from a person within it."""
    if sunset_after_days is None or first_mailed is None:
        return False
    start = now - timedelta(days=sunset_after_days)
    return first_mailed <= start and (last_signal is None or last_signal < start)


def _clamp(value: float, cadence: TierCadence) -> float:
    return min(cadence.max_days, max(cadence.min_days, value))
