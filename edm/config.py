"""Settings: `edm.yaml` overlaid with `EDM_*` environment variables, validated.

Secrets (the link-signing key, SMTP credentials) come only from the environment;
a settings file that holds one is rejected, and no secret is ever part of a repr.
Nested keys are set from the environment with a double underscore, e.g.
`EDM_SMTP__PORT=2525` or `EDM_TRACKING__BASE_URL=https://t.example.com`.
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Mapping
from datetime import date, time
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from edm.classes import Tier
from edm.errors import ConfigError
from edm.resources import bundled_config_dir
from edm.yamlfile import load_model, validation_message

DEFAULT_DATABASE_URL = "sqlite:///edm.db"
DEFAULT_SMTP_PORT = 1025
DEFAULT_TRACKING_PORT = 8080
DEFAULT_TRACKING_BATCH = 500  # events per transaction at most
DEFAULT_SCANNER_SECONDS = 10.0  # an open or click this soon after sending is a scanner
DEFAULT_IMAP_PORT = 993
DEFAULT_STOP_TIMEOUT = 10.0  # seconds a stopping sender gives a transaction on the wire
DEFAULT_GIVE_UP_AFTER = 60.0  # seconds without a reachable relay before `edm send` / `campaign run` return
DEFAULT_ATTRIBUTION_DAYS = 30  # an order this soon after a mail counts for it in reports
SECRET_ENV = ("EDM_SECRET_KEY", "EDM_SMTP__USERNAME", "EDM_SMTP__PASSWORD", "EDM_SENDER__DKIM_PRIVATE_KEY",
              "EDM_BOUNCES__IMAP__PASSWORD", "EDM_HOOKS__MAILGUN_SIGNING_KEY", "EDM_HOOKS__POSTMARK_USERNAME",
              "EDM_HOOKS__POSTMARK_PASSWORD")
NOT_SETTINGS = ("EDM_SECRET_KEY", "EDM_CONFIG", "EDM_USER_PASSWORD")  # read elsewhere: the signing keys,
# the settings file path, `edm users add`'s password (edm.console.cli)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SenderSettings(_Section):
    """Who mail is from, and how it is signed (DKIM is off until a selector and a key are set)."""

    from_address: str = "Customer Care <care@example.com>"
    reply_to: str | None = None
    return_path: str | None = None  # the envelope MAIL FROM (bounce address); default: from_address
    unsubscribe_mailto: str | None = None  # adds <mailto:...> to List-Unsubscribe beside the https link
    dkim_selector: str | None = None
    dkim_domain: str | None = None  # default: the domain of from_address (aligned, as Gmail wants)
    dkim_private_key: SecretStr | None = None  # PEM text, from EDM_SENDER__DKIM_PRIVATE_KEY only
    dkim_private_key_file: Path | None = None  # or a PEM file


def _one_tls_mode(starttls: bool, use_tls: bool) -> None:
    if starttls and use_tls:
        raise ValueError("starttls (upgrade a plain connection, port 587) and use_tls (TLS from the start, "
                         "port 465) exclude each other: set one")


class RelaySettings(_Section):
    """One SMTP relay. Credentials are read from the environment variables named here, never stored.

    `allow_plaintext_auth` (None: smtp.allow_plaintext_auth) lets the password go over a connection
    with neither `starttls` nor `use_tls`; otherwise edm refuses to log in unencrypted.
    """

    host: str
    port: int = Field(DEFAULT_SMTP_PORT, ge=1, le=65535)
    starttls: bool = False
    use_tls: bool = False
    username_env: str | None = None  # e.g. EDM_RELAY2_USER: the variable holding the user name
    password_env: str | None = None
    allow_plaintext_auth: bool | None = None

    @model_validator(mode="after")
    def _tls(self) -> RelaySettings:
        _one_tls_mode(self.starttls, self.use_tls)
        return self


def default_composers() -> int:
    """`smtp.compose_processes` by default: the cores this process may use, less the sender's, 1 to 2."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 2
    return max(1, min(2, cores - 1))


class SmtpSettings(_Section):
    """The relays and how hard to push them.

    `relays` lists several relays; when it is empty, `host`/`port` (and EDM_SMTP__USERNAME /
    EDM_SMTP__PASSWORD) are the one relay. `concurrency` connections are in flight at once,
    spread over the relays that are up. `rate_limit` (messages/s over all connections) and
    `domain_limits` (messages/s per recipient domain, e.g. {gmail.com: 20}) are token buckets.
    A 4xx or a dropped connection is retried after `retry_after_seconds` doubling per attempt
    (full jitter, at most `retry_max_delay_seconds`) until the message is `max_retry_hours`
    old or has had `max_attempts`, then it fails. A claimed row not recorded within
    `claim_lease_seconds` (its worker died) is claimed again.

    TLS is what is configured, never guessed: `starttls` demands the upgrade (a relay that does
    not offer it is an error), `use_tls` speaks TLS from the start, neither is plain text. A login
    (credentials set) over plain text is refused unless `allow_plaintext_auth` is true.

    SIGTERM or SIGINT: a transaction on the wire gets `stop_timeout_seconds` to be answered,
    then it is abandoned; what the relay accepted is recorded `sent`, every other claimed row
    goes back to the queue. `campaign run` and `edm send` (not `edm worker`) give up when no
    relay has been reachable for `give_up_after_seconds`: the rest is deferred, exit code 3.
    """

    host: str = "127.0.0.1"
    port: int = Field(DEFAULT_SMTP_PORT, ge=1, le=65535)
    starttls: bool = False
    use_tls: bool = False
    relays: tuple[RelaySettings, ...] = ()
    timeout_seconds: float = Field(30.0, gt=0)
    batch_size: int = Field(100, ge=1)
    concurrency: int = Field(8, ge=1, le=1000)
    # processes rendering messages (0: a thread of the sender); by default one per core beside the sender's,
    # at most two: one keeps up with the sender unless messages are DKIM-signed (bench/send.py: on two
    # cores, one composer sends as fast as two with 100 MB less)
    compose_processes: int = Field(default_factory=default_composers, ge=0, le=64)
    rate_limit: float | None = Field(None, gt=0)
    domain_limits: dict[str, float] = {}
    max_messages_per_connection: int = Field(1000, ge=1)
    retry_after_seconds: int = Field(600, ge=1)
    retry_max_delay_seconds: int = Field(4 * 3600, ge=1)
    max_retry_hours: float = Field(48.0, gt=0)
    max_attempts: int = Field(20, ge=1)
    claim_lease_seconds: float = Field(600.0, gt=0)
    relay_retry_seconds: float = Field(1.0, gt=0)  # first reconnect to a relay that is down; doubles
    relay_retry_max_seconds: float = Field(60.0, gt=0)
    # `edm worker`: how often an idle worker looks for due rows (1 s: reactions in seconds, docs/events.md)
    poll_seconds: float = Field(1.0, gt=0)
    stop_timeout_seconds: float = Field(DEFAULT_STOP_TIMEOUT, gt=0)
    give_up_after_seconds: float = Field(DEFAULT_GIVE_UP_AFTER, gt=0)
    username: SecretStr | None = None
    password: SecretStr | None = None
    allow_plaintext_auth: bool = False  # send the password over a connection without TLS (trusted network)

    @model_validator(mode="after")
    def _limits(self) -> SmtpSettings:
        bad = [domain for domain, rate in self.domain_limits.items() if rate <= 0]
        if bad:
            raise ValueError(f"domain_limits must be positive messages per second (see {', '.join(bad)})")
        _one_tls_mode(self.starttls, self.use_tls)
        return self


Localized = str | dict[str, str]  # one text for every language, or per language tag (en, zh-Hans, zh-Hant)


class BrandSettings(_Section):
    """Who the mail is from, shown in every message: recipients and filters trust mail that says so.

    Texts are one string or one per language (`{en: ..., zh-Hans: ..., zh-Hant: ...}`); a message
    takes its own language's, else the next in the template language chain (zh-Hant -> zh-Hans ->
    en). `company` (default: the domain of sender.from_address) names the sender in the layout;
    `signature` and `reason` may contain `{company}`. `postal_address` is required for marketing mail
    by CAN-SPAM (`edm campaign validate` warns without it). `logo_url` is an https image shown
    `logo_width` x `logo_height` pixels with the company name as its alt text.
    """

    company: Localized = {}
    postal_address: Localized = {}
    website: str | None = None
    phone: str | None = None
    logo_url: str | None = None
    logo_width: int = Field(160, ge=1, le=600)
    logo_height: int = Field(40, ge=1, le=300)
    signature: Localized = {}  # default: "{company} Customer Service" / "{company} 客户服务团队" / ...
    reason: Localized = {}  # default: "You receive this email because you are a customer of {company}."
    footer: Localized = {}  # an extra line in every footer (a registration number, a licence ...)

    @model_validator(mode="after")
    def _urls(self) -> BrandSettings:
        for name in ("website", "logo_url"):
            value = getattr(self, name)
            if value is not None and not value.startswith(("https://", "http://")):
                raise ValueError(f"{name} must be an http(s) URL, e.g. https://www.example.com")
        return self


class TrackingSettings(_Section):
    """The tracking server, its event batches, and what counts as a machine rather than a person.

    Opens and clicks are written `batch_size` at most per transaction. One that comes within
    `scanner_seconds` of the mail being sent, from one of `proxy_networks`, or with a user agent
    containing one of `machine_agents` is kept as `machine` (both lists add to edm.tracking.machine's
    built-in privacy proxies and scanners). `forwarded_allow_ips`: the reverse proxies trusted to
    give the client's address in X-Forwarded-For ("*": any).
    """

    base_url: str = f"http://127.0.0.1:{DEFAULT_TRACKING_PORT}"
    host: str = "127.0.0.1"
    port: int = Field(DEFAULT_TRACKING_PORT, ge=0, le=65535)
    batch_size: int = Field(DEFAULT_TRACKING_BATCH, ge=1, le=5000)
    scanner_seconds: float = Field(DEFAULT_SCANNER_SECONDS, ge=0)
    proxy_networks: tuple[IPvAnyNetwork, ...] = ()
    machine_agents: tuple[str, ...] = ()
    forwarded_allow_ips: str = "127.0.0.1,::1"


class SignupSettings(_Section):
    """Double opt-in sign-up on the tracking server (`GET/POST /signup`, docs/signup.md).

    A sign-up is `pending` until the link in its confirmation mail is confirmed, and `expired`
    (its personal fields blanked) `expire_hours` after it was made. A post sent less than
    `min_fill_seconds` after its form was issued is a bot's and dropped; one client address may
    post `per_ip_per_hour` times an hour (counted in the serving process). `wording` (one text
    or one per language; `{company}` is the brand's company) is what a person agrees to, recorded
    as `wording_version`: change the version whenever the wording changes. `topics`: those of
    `topics:` the form offers (empty: all of them).
    """

    enabled: bool = False
    expire_hours: float = Field(72.0, gt=0, le=24 * 90)
    min_fill_seconds: float = Field(2.0, ge=0, le=600)
    per_ip_per_hour: int = Field(5, ge=1, le=100_000)
    wording_version: str = Field("2026-12", min_length=1, max_length=64)
    wording: Localized = {}  # default: edm.signup.pages.DEFAULT_WORDING
    topics: tuple[str, ...] = ()
    every_seconds: float = Field(300.0, gt=0)  # the daemon's job: expire, and send what a relay failure left


class ApiSettings(_Section):
    """The HTTP API (`edm serve`, docs/api.md): where it listens, how big a request may be, and how
    many requests a key may make per minute unless the key has a rate of its own (`edm api-key create
    --rate`). Rates are counted in each server process: two processes allow twice as many."""

    host: str = "127.0.0.1"
    port: int = Field(8090, ge=0, le=65535)
    max_body_bytes: int = Field(1_048_576, ge=1024)
    max_batch_items: int = Field(1000, ge=1, le=100_000)
    default_rate_per_minute: int = Field(600, ge=1)


class ConsoleSettings(_Section):
    """The web console (`edm console`, docs/console.md): where it listens, the URL people reach it
    at (https there makes its cookies Secure), how long a sign-in lasts, and the sign-in rate
    limit: `login_per_ip` attempts per client address and `login_per_user` failed ones per user name
    every `login_window_seconds` (counted in each server process). The Today page's counts are
    at most `figures_max_age_seconds` old plus one count (0: counted on every view); its audiences,
    managers' alerts and bounce rates `slow_figures_max_age_seconds`."""

    host: str = "127.0.0.1"
    port: int = Field(8070, ge=0, le=65535)
    base_url: str = "http://127.0.0.1:8070"
    session_hours: float = Field(12.0, gt=0, le=24 * 30)
    login_per_ip: int = Field(20, ge=1)
    login_per_user: int = Field(5, ge=1)
    login_window_seconds: float = Field(900.0, gt=0)
    forwarded_allow_ips: str = "127.0.0.1,::1"
    figures_max_age_seconds: float = Field(10.0, ge=0)
    slow_figures_max_age_seconds: float = Field(300.0, ge=0)


class Quantile(_Section):
    """A threshold given as a quantile of the population, e.g. `{quantile: 0.8}`: the top 20% are above."""

    quantile: float = Field(gt=0, lt=1)


Threshold = float | Quantile
"""An absolute figure (money, orders per year) or a quantile over the customers who have ordered."""


def _check_order(lower: Threshold, upper: Threshold, lower_name: str, upper_name: str) -> None:
    """Thresholds of the same kind must be ordered; mixed kinds are ordered when resolved."""
    if isinstance(lower, Quantile) and isinstance(upper, Quantile):
        lower, upper = lower.quantile, upper.quantile
    if isinstance(lower, float | int) and isinstance(upper, float | int) and lower >= upper:
        raise ValueError(f"{lower_name} must be below {upper_name}")


class ScaleRules(_Section):
    """Sales to the customer over the last 365 days: from `large` it is large, from `medium` medium."""

    large: Threshold = 1_000_000.0
    medium: Threshold = 100_000.0

    @model_validator(mode="after")
    def _ordered(self) -> ScaleRules:
        _check_order(self.medium, self.large, "medium", "large")
        return self


class ValueTierRules(_Section):
    """`metric` over the customer's whole history: at or above `high` is high, above `medium` medium."""

    # predicted_value: expected spend over rhythm.value_horizon_days (Gamma-Gamma × MBG/NBD)
    metric: Literal["revenue", "margin", "predicted_value"] = Field(
        "revenue", validation_alias=AliasChoices("metric", "basis")
    )
    high: Threshold = Quantile(quantile=0.8)
    medium: Threshold = Quantile(quantile=0.45)

    @model_validator(mode="after")
    def _ordered(self) -> ValueTierRules:
        _check_order(self.medium, self.high, "medium", "high")
        return self


class PurchaseFrequencyRules(_Section):
    """Orders per year over the last `window_days`: from `high` it is high, from `medium` medium."""

    high: Threshold = 12.0
    medium: Threshold = 4.0
    window_days: int = Field(365, ge=30)

    @model_validator(mode="after")
    def _ordered(self) -> PurchaseFrequencyRules:
        _check_order(self.medium, self.high, "medium", "high")
        return self


IndustryWithWords = Literal["manufacturing", "services", "trade"]
DEFAULT_INDUSTRY_SYNONYMS: dict[IndustryWithWords, list[str]] = {
    "manufacturing": ["manufacturing", "manufacturer", "factory", "industrial", "production",
                      "制造", "制造业", "工厂", "生产", "加工",
                      "製造", "製造業", "工廠", "生產"],
    "services": ["services", "service", "consulting", "software", "logistics", "transport", "shipping",
                 "freight", "服务", "服务业", "咨询", "物流", "运输", "快递", "仓储", "软件",
                 "服務", "服務業", "諮詢", "運輸", "快遞", "倉儲", "軟件", "軟體"],
    "trade": ["trade", "trading", "retail", "wholesale", "distribution", "distributor", "import", "export",
              "贸易", "贸易业", "零售", "批发", "商贸", "进出口", "外贸",
              "貿易", "貿易業", "批發", "商貿", "進出口", "外貿"],
}


class IndustryRules(_Section):
    """Words (any case, any language) that put a free-text industry in a class; the rest is other."""

    synonyms: dict[IndustryWithWords, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_INDUSTRY_SYNONYMS.items()}
    )


class RhythmRules(_Section):
    """Each customer's own rhythm, which lifecycle, relationship and the reorder trigger judge by.

    Expected interval: the customer's mean gap between order days, shrunk toward their
    industry's typical gap with the weight of `prior_gaps` gaps:
    (prior_gaps · peers' + sum of own gaps) / (prior_gaps + own gaps), and never shorter than
    their own mean (a thin history never makes anyone late sooner than their own gaps say).
    Peers' gap: the median mean gap of customers of the industry with three or more order
    days, when at least `min_peers` have them; else everyone's; else `default_interval_days`.
    Pace: order days over the last `recent_days` against the pace before them (gaps between
    those earlier order days), judged only with `usual_min_orders` order days before the window.
    """

    prior_gaps: float = Field(2.0, ge=0)
    min_peers: int = Field(30, ge=1)
    default_interval_days: float = Field(90.0, gt=0)
    recent_days: int = Field(180, ge=30)
    usual_min_orders: int = Field(4, ge=2)
    value_horizon_days: int = Field(365, ge=1)  # predicted value: expected spend over this horizon


class LoyaltyRules(_Section):
    """Loyal: a customer for `loyal_years` who is not at risk; at risk as their lifecycle says, or silent.

    Communication is dropping when a customer who has opened or clicked our mail has not for
    more than `silent_days` (None: engagement is no loyalty signal); one who never did says nothing.
    """

    loyal_years: float = Field(2.0, gt=0)
    fairly_loyal_years: float = Field(1.0, gt=0)
    silent_days: int | None = Field(180, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> LoyaltyRules:
        if self.fairly_loyal_years > self.loyal_years:
            raise ValueError("fairly_loyal_years must not exceed loyal_years")
        return self


class LifecycleRules(_Section):
    """Stages by each customer's own rhythm (see `RhythmRules`); fixed days as floors and ceilings.

    At risk: no order for `at_risk_overdue` × their expected interval (and at least
    `at_risk_min_days`), or their pace fell below `falling_ratio` of the usual one (and at
    least `falling_min_missed` order days fewer than the usual pace predicts over the recent
    window, so chance in a window of one or two expected orders is no sign), or, once past their expected
    interval, P(alive) below `at_risk_probability`. Churned: past `churned_min_days` and
    `churned_overdue` × their interval, or past their interval with P(alive) below
    `churned_probability`. `at_risk_days` / `churned_days` (None: off): silent this long is at
    risk / churned whatever the rhythm. Reacquired: back after a lapse (a gap that would have
    made them churned by the rhythm of their other gaps; a customer's only gap is their
    rhythm), until `reacquired_orders` order days or `reacquired_days` since the return.
    """

    lead_days: int = Field(90, ge=1)
    new_days: int = Field(90, ge=1)
    mature_days: int = Field(365, ge=1)
    at_risk_overdue: float = Field(2.0, gt=1)
    at_risk_min_days: int = Field(30, ge=0)
    falling_ratio: float = Field(0.5, gt=0, lt=1)
    falling_min_missed: float = Field(2.0, gt=0)
    at_risk_probability: float = Field(0.5, gt=0, lt=1)
    churned_overdue: float = Field(3.0, gt=1)
    churned_min_days: int = Field(180, ge=1)
    churned_probability: float = Field(0.15, gt=0, lt=1)
    at_risk_days: int | None = Field(None, ge=1)
    churned_days: int | None = Field(1095, ge=1)
    reacquired_orders: int = Field(3, ge=1)
    reacquired_days: int = Field(365, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> LifecycleRules:
        if self.at_risk_overdue >= self.churned_overdue:
            raise ValueError("at_risk_overdue must be below churned_overdue")
        if self.at_risk_min_days >= self.churned_min_days:
            raise ValueError("at_risk_min_days must be below churned_min_days")
        if self.at_risk_probability <= self.churned_probability:
            raise ValueError("at_risk_probability must be above churned_probability")
        if self.at_risk_days is not None and self.churned_days is not None \
                and self.at_risk_days >= self.churned_days:
            raise ValueError("at_risk_days must be below churned_days")
        return self


class RelationshipRules(_Section):
    """Key-account stage by share of wallet (our share of what the customer spends in the category).

    Below `initial` is gestation, from `initial` initial, from `middle` middle, from
    `partner` strategic partner. Trading stopped is interrupted: no order for
    `interrupted_overdue` × the customer's expected interval and at least
    `interrupted_min_days`, or for `interrupted_days` whatever the rhythm (None: off).
    """

    initial: float = Field(0.30, gt=0, le=1)
    middle: float = Field(0.50, gt=0, le=1)
    partner: float = Field(0.95, gt=0, le=1)
    interrupted_overdue: float = Field(2.0, gt=1)
    interrupted_min_days: int = Field(60, ge=0)
    interrupted_days: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> RelationshipRules:
        if not self.initial < self.middle < self.partner:
            raise ValueError("the shares must rise: initial < middle < partner")
        return self


class ChurnKindRules(_Section):
    """Partial churn: a product line bought in the year before the last `recent_days` but not within them."""

    recent_days: int = Field(180, ge=1)


class ProfitProfileRules(_Section):
    """Red, black and white faces among key customers (value tier high), by margin rate and buying pattern.

    Black: margin rate at most `black_max_margin`. White: margin rate at most
    `white_max_margin` on volume (sales over the last 365 days) at or above `white_min_volume`.
    Red: margin rate at least `red_min_margin` with irregular buying (coefficient of
    variation of the gaps between orders at least `red_min_irregularity`).
    """

    black_max_margin: float = Field(0.02, ge=-1, lt=1)
    white_max_margin: float = Field(0.12, ge=-1, lt=1)
    white_min_volume: Threshold = Quantile(quantile=0.5)
    red_min_margin: float = Field(0.30, gt=-1, lt=1)
    red_min_irregularity: float = Field(0.75, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> ProfitProfileRules:
        if not self.black_max_margin < self.white_max_margin < self.red_min_margin:
            raise ValueError("margins must rise: black_max_margin < white_max_margin < red_min_margin")
        return self


class ClassificationSettings(_Section):
    """Every classification rule (DOMAIN.md); each section is documented in docs/classes.md."""

    # `edm campaign run` (from cron, or the daemon) first recomputes profiles older than this
    max_age_hours: float = Field(24.0, gt=0)
    scale: ScaleRules = ScaleRules()
    value_tier: ValueTierRules = ValueTierRules()
    industry: IndustryRules = IndustryRules()
    purchase_frequency: PurchaseFrequencyRules = PurchaseFrequencyRules()
    rhythm: RhythmRules = RhythmRules()
    loyalty: LoyaltyRules = LoyaltyRules()
    lifecycle: LifecycleRules = LifecycleRules()
    relationship: RelationshipRules = RelationshipRules()
    churn_kind: ChurnKindRules = ChurnKindRules()
    profit_profile: ProfitProfileRules = ProfitProfileRules()

    @model_validator(mode="before")
    @classmethod
    def _moved_keys(cls, data: Any) -> Any:
        """Settings files written before the customer's own rhythm keep working: the pace settings moved
        from `loyalty` to `rhythm` (recent_days) and `lifecycle` (falling_ratio, at_risk_probability)."""
        if not isinstance(data, dict) or not isinstance(data.get("loyalty"), dict):
            return data
        data, loyalty = dict(data), dict(data["loyalty"])
        for key, section in _MOVED_LOYALTY_KEYS.items():
            if key in loyalty:
                moved = loyalty.pop(key)
                target = dict(data.get(section) or {})
                target.setdefault(key, moved)
                data[section] = target
        data["loyalty"] = loyalty
        return data


_MOVED_LOYALTY_KEYS = {
    "recent_days": "rhythm", "falling_ratio": "lifecycle", "at_risk_probability": "lifecycle",
}


_LOCALE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z]{4})?(-(?:[A-Za-z]{2}|[0-9]{3}))?")  # as imports read it
ImportKind = Literal["customers", "orders", "wallet", "contacts"]
DATE_ORDERS = ("auto", "dmy", "mdy")


class ImportSettings(_Section):
    """How files are read: `columns` maps, per kind of file, edm's field name to the file's header.

    e.g. `columns: {customers: {external_id: 客户编号, email: 邮箱}}` imports a CRM export
    as it is; fields not listed are looked up by their own name.
    """

    columns: dict[ImportKind, dict[str, str]] = {}
    chunk_rows: int = Field(100_000, ge=1)
    # CSV bytes: "auto" detects (BOM, UTF-8, GB18030/GBK, Big5); or a codec name such as gbk, big5
    encoding: str = "auto"
    # dates written day and month first: "auto" reads them only when a part over 12 decides;
    # "dmy" (05/03/2024 = 5 March), "mdy" (= May 3), or a strptime pattern such as "%d.%m.%Y"
    date_format: str = "auto"
    # customers imported without a locale or a time zone get these (`edm init --profile cn`: zh-Hans,
    # Asia/Shanghai)
    default_locale: str = "en"
    default_timezone: str = "UTC"

    @model_validator(mode="after")
    def _known_spellings(self) -> ImportSettings:
        if not _LOCALE.fullmatch(self.default_locale):
            raise ValueError(f"default_locale: {self.default_locale!r} is not a locale like en, zh-Hans "
                             "or zh-Hant-TW")
        try:
            _check_schedules(self.default_timezone, {})
        except ValueError:
            raise ValueError(f"default_timezone: {self.default_timezone!r} is not an IANA name "
                             "such as Asia/Shanghai") from None
        if self.encoding != "auto":
            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise ValueError(f"encoding: unknown encoding {self.encoding!r}; "
                                 "use auto or a name such as gb18030, big5, utf-8") from None
        if self.date_format not in DATE_ORDERS and "%" not in self.date_format:
            raise ValueError(f"date_format: {self.date_format!r} is not one of {', '.join(DATE_ORDERS)} "
                             "nor a strptime pattern such as %d.%m.%Y")
        return self


class TierCadence(_Section):
    """A tier's gap between marketing mails: where it starts, and how far engagement may move it."""

    base_days: float = Field(gt=0)
    min_days: float = Field(gt=0)
    max_days: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> TierCadence:
        if not self.min_days <= self.base_days <= self.max_days:
            raise ValueError("needs min_days <= base_days <= max_days")
        return self


DEFAULT_CADENCE: dict[Tier, TierCadence] = {
    # key accounts: few, personal mails; small customers: a steady batch cadence
    "high": TierCadence(base_days=21, min_days=14, max_days=90),
    "medium": TierCadence(base_days=14, min_days=7, max_days=60),
    "low": TierCadence(base_days=7, min_days=3, max_days=45),
}


class EngagementSettings(_Section):
    """How each customer's engagement is scored and their contact frequency adapts (edm.engagement).

    The interval starts at the tier's base and follows the share of mails a person read
    (`target_read_rate` of them earns the base; None: each read mail x`engaged_factor`, each
    ignored one x`ignored_factor`), within the tier's bounds. After `sunset_after_days` of
    mail with no human open or click and no order, only campaigns with `reaches_sunset`
    (re-permission, win-back) may write. Opens by privacy proxies and scanners never count.
    """

    cadence: dict[Tier, TierCadence] = Field(default_factory=lambda: dict(DEFAULT_CADENCE))
    engaged_factor: float = Field(0.5, gt=0, le=1)
    ignored_factor: float = Field(1.25, ge=1)
    response_window_days: float = Field(3.0, ge=0)
    less_mail_factor: float = Field(2.0, ge=1)  # "less mail, please" on the preference page
    half_life_days: float = Field(30.0, gt=0)  # of a signal's weight in the engagement score
    score_weights: dict[str, float] = Field(
        default_factory=lambda: {"open": 1.0, "click": 3.0, "order": 5.0, "unsubscribe": -10.0}
    )
    sunset_after_days: int | None = Field(120, ge=30)  # 90-180 days is the usual advice; 120 measured best
    send_hour_prior: float = Field(5.0, ge=0)  # pseudo-opens of the population's hours: thin history shrinks
    # Levers measured by bench/simulate_frequency.py (docs/analyst.md, "How the frequency adapts"):
    # space mail by each person's read rate (None: the older walk, engaged_factor/ignored_factor per mail)
    target_read_rate: float | None = Field(0.22, gt=0, le=1)  # read rate that gets the tier's base gap
    read_rate_prior: float = Field(4.0, ge=0)  # pseudo-mails read at target_read_rate: thin history shrinks
    # customers whose opens only a privacy proxy records: read rate from clicks / everyone's click-to-open
    veiled_by_clicks: bool = True
    send_ahead_hours: int = Field(1, ge=0, le=6)  # mail this long before the usual reading hour
    # a refresh recomputes everyone at least this often; in between only customers with new events,
    # orders or mails, or whose mail or silence just came of age (scores of the rest age meanwhile)
    full_refresh_hours: float = Field(24.0, gt=0)

    def tier_cadence(self, tier: str) -> TierCadence:
        """A tier's cadence; an unlisted tier gets the longest (the safe side)."""
        by_tier = {str(name): cadence for name, cadence in self.cadence.items()}
        return by_tier.get(tier) or max(by_tier.values(), key=lambda c: c.base_days)

    def base_interval(self, tier: str) -> float:
        return self.tier_cadence(tier).base_days


class SendWindow(_Section):
    """Hours of the customer's own day in which marketing mail may go out (end exclusive)."""

    start: time = time(9, 0)
    end: time = time(20, 0)

    @model_validator(mode="after")
    def _ordered(self) -> SendWindow:
        if self.start >= self.end:
            raise ValueError("start must be before end (a window within one day)")
        return self


class PolicySettings(_Section):
    """Rules across campaigns, for all mail but `kind: service` (marketing, greeting, survey).

    `one_per_day`: at most one marketing message per customer per local day; campaigns
    run in priority order, so the highest priority wins, and a campaign's `when_busy`
    says whether the others drop or wait for the next day. `send_window`: mail is held
    until the window opens in the customer's time zone (None: any hour).
    `default_holdout_percent`: the control group (recorded, never sent: what reports measure
    uplift against) of every campaign whose file sets no `holdout_percent` of its own; service
    mail never has one.
    """

    one_per_day: bool = True
    send_window: SendWindow | None = None
    default_holdout_percent: float = Field(0.0, ge=0, le=50)


OneClick = Literal["all", "topic"]  # what RFC 8058 one-click unsubscribe turns off (docs/preferences.md)


CAMPAIGN_KINDS = ("marketing", "greeting", "survey", "service")  # edm.campaigns.schema.Kind
CONSENT_BASES = ("explicit", "existing_customer", "none")  # edm.consent.record.BASES
ConsentBasis = Literal["explicit", "existing_customer", "none"]
DEFAULT_SOFT_OPT_IN_MONTHS = 24
DEFAULT_CONSENT_KINDS: dict[str, tuple[ConsentBasis, ...]] = {
    "marketing": ("explicit", "existing_customer"),
    "greeting": ("explicit", "existing_customer"),
    "survey": ("explicit", "existing_customer"),
    "service": ("explicit", "existing_customer", "none"),
}


class ConsentSettings(_Section):
    """Which lawful basis each campaign kind may mail on (docs/consent.md).

    `soft_opt_in_months`: an `existing_customer` basis (a customer with no consent recorded, or
    one imported so) counts for this many months after their last order or the customer record's
    creation, whichever is later. `kinds`: campaign kind -> the bases it may use; a kind left out
    keeps its default (marketing, greeting, survey: explicit and existing_customer; service: any).
    """

    soft_opt_in_months: int = Field(DEFAULT_SOFT_OPT_IN_MONTHS, ge=1, le=1200)
    kinds: dict[str, tuple[ConsentBasis, ...]] = DEFAULT_CONSENT_KINDS

    @field_validator("kinds", mode="before")
    @classmethod
    def _known_kinds(cls, kinds: Any) -> Any:
        if not isinstance(kinds, Mapping):
            return kinds
        unknown = sorted(str(kind) for kind in kinds if kind not in CAMPAIGN_KINDS)
        if unknown:
            raise ValueError(f"kind {unknown[0]!r} is not a campaign kind; "
                             f"kinds: {', '.join(CAMPAIGN_KINDS)}")
        for kind, bases in kinds.items():
            if isinstance(bases, str):
                raise ValueError(f"{kind}: give a list of bases, e.g. [explicit, existing_customer]")
            if not bases:
                raise ValueError(f"{kind}: give at least one basis (service mail may use: "
                                 "[explicit, existing_customer, none])")
            wrong = [b for b in bases if b not in CONSENT_BASES]
            if wrong:
                raise ValueError(f"{kind}: {wrong[0]!r} is not a consent basis; "
                                 f"bases: {', '.join(CONSENT_BASES)}")
        return {**DEFAULT_CONSENT_KINDS, **kinds}

    def allowed(self, kind: str) -> tuple[ConsentBasis, ...]:
        """The bases a campaign of `kind` may mail on."""
        return self.kinds.get(kind, DEFAULT_CONSENT_KINDS.get(kind, ()))


AD_PREFIXES = {"zh-Hans": "【广告】", "zh-Hant": "【廣告】", "en": "AD: "}


class ComplianceSettings(_Section):
    """What the law of the recipients' country asks of commercial mail (docs/compliance.md).

    `mark_ads`: the subject of every `kind: marketing` message starts with `ad_prefix` in the
    subject's language (a language not listed: `en`'s), unless it already starts with one of
    them; China's rules for commercial email (MII Order 38, 2006) want "广告" or "AD" there.
    Off by default; `edm init --profile cn` turns it on.
    `one_click`: what RFC 8058 one-click unsubscribe (the mail client's button) turns off: `all`,
    every mail from this sender (the default), or `topic`, only the campaign's topic (mail of a
    campaign without one: still everything). docs/preferences.md.
    """

    mark_ads: bool = False
    ad_prefix: dict[str, str] = AD_PREFIXES
    one_click: OneClick = "all"

    @model_validator(mode="after")
    def _usable_prefixes(self) -> ComplianceSettings:
        if "en" not in self.ad_prefix:
            raise ValueError("ad_prefix needs an 'en' prefix: it is the fallback for every language")
        for language, prefix in self.ad_prefix.items():
            if not prefix.strip() or any(c in prefix for c in "\r\n"):
                raise ValueError(f"ad_prefix {language}: give the mark on one line, e.g. \"AD: \"")
        return self


class ImapSettings(_Section):
    """An IMAP folder that receives bounces, read over TLS; processed mail is marked \\Seen.

    TLS from the first byte (port 993), or with `starttls` after connecting (port 143); never in clear.
    """

    host: str
    port: int = Field(DEFAULT_IMAP_PORT, ge=1, le=65535)
    starttls: bool = False
    username: str
    folder: str = "INBOX"
    timeout_seconds: float = Field(30.0, gt=0)
    password: SecretStr | None = None  # from EDM_BOUNCES__IMAP__PASSWORD only


class BounceSettings(_Section):
    """Where asynchronous bounces (delivery status notifications) arrive; `edm bounces poll` reads each set.

    `maildir`: processed mail moves to its `.processed` folder. `mbox`: read only; what was
    processed is remembered beside it, in `<mbox>.edm-processed`.
    """

    maildir: Path | None = None
    mbox: Path | None = None
    imap: ImapSettings | None = None


class HooksSettings(_Section):
    """Sending services' webhooks on the tracking server, `POST /hooks/{provider}` (docs/webhooks.md).

    A provider is on only when what verifies it is set; otherwise its hook answers 404.
    `ses_topic_arns`: the SNS topics whose messages are taken (any other topic is refused, even
    when AWS signed it). `ses_confirm_subscriptions`: visit a verified SubscriptionConfirmation's
    SubscribeURL (https on an SNS host only); off, the URL is logged for you to open.
    `sendgrid_public_key`: the Signed Event Webhook's verification key (base64, from SendGrid's
    mail settings). The Mailgun signing key and the Postmark basic-auth credentials come only from
    the environment. Mailgun posts older than `max_age_seconds` (or a token seen before) are refused.
    """

    max_body_bytes: int = Field(1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    max_age_seconds: int = Field(600, ge=10, le=86400)
    ses_topic_arns: tuple[str, ...] = ()
    ses_confirm_subscriptions: bool = False
    sendgrid_public_key: str | None = None
    mailgun_signing_key: SecretStr | None = None  # from EDM_HOOKS__MAILGUN_SIGNING_KEY only
    postmark_username: SecretStr | None = None  # from EDM_HOOKS__POSTMARK_USERNAME only
    postmark_password: SecretStr | None = None  # from EDM_HOOKS__POSTMARK_PASSWORD only


class ReportSettings(_Section):
    """How reports attribute orders to mail and how sure their comparisons must be.

    An order counts for a mail when it comes within `attribution_days` after it (for the
    holdout group: after the moment the mail was planned for). Uplift against a holdout is
    given with a `confidence` interval (0.95: 95%), per campaign and per campaign × tier, × stage
    and × variant; a group with fewer than `min_group` mailed or held-out customers reads
    "too few" (no uplift, no interval).

    Engagement rates leave out mail sent less than `judge_after_days` before the report's time (most
    people read within a day or two, so such mail would look ignored) and count it as "too recent";
    a row whose rates rest on fewer than `min_rate_n` judged mails reads "too few to judge" and is
    left out of the charts and of rankings. An NPS or CSAT over fewer than `min_answers` answers reads
    "too few to judge" too and is not drawn.
    """

    attribution_days: int = Field(DEFAULT_ATTRIBUTION_DAYS, ge=1, le=365)
    confidence: float = Field(0.95, gt=0.5, lt=1)
    min_group: int = Field(30, ge=1)
    judge_after_days: float = Field(2, ge=0, le=60)
    min_rate_n: int = Field(20, ge=1)
    min_answers: int = Field(5, ge=1)


class RetentionSettings(_Section):
    """How long personal detail is kept (edm.privacy.retention; `edm retention apply`, the daemon daily).

    `events_days`: raw opens, clicks, bounces... older than this are counted per message, day and kind
    (`event_totals`, which the reports read too, so their figures stay) and dropped with their URLs and
    user agents; at least 365 (engagement scores read a year of events); None keeps them. `bodies_days`:
    `.eml` copies in `mail_dir` (the local sink's) older than this are deleted. `signups_days`: expired
    and confirmed sign-ups older than this are deleted (a confirmed one's proof stays in the consent
    history). `audit_days`: audit entries older than this are deleted; None (the default) keeps them.
    """

    events_days: int | None = Field(None, ge=365)
    bodies_days: int | None = Field(None, ge=1)
    signups_days: int | None = Field(None, ge=1)
    audit_days: int | None = Field(None, ge=365)
    cron: str = "15 3 * * *"  # the daemon's daily run, in daemon.timezone

    @model_validator(mode="after")
    def _schedule(self) -> RetentionSettings:
        _check_schedules("UTC", {"cron": self.cron})
        return self


DEFAULT_METRICS_PORT = 9464  # the port commonly given to an application's Prometheus exporter


class DaemonSettings(_Section):
    """`edm daemon`: what it schedules and when, its standby retries, how it stops, where it reports.

    Cron strings have five fields (minute hour day month weekday) read in `timezone`. Only the
    daemon holding the leader lock schedules; another one waits, trying the lock every
    `standby_retry_seconds`. Every daemon, leader or standby, keeps `workers` child `edm worker`
    processes sending. SIGTERM or SIGINT: stop, finish in-flight sends, exit within
    `stop_timeout_seconds` (the workers get at least `smtp.stop_timeout_seconds` + 5 s).
    `/healthz` and `/metrics` are served on `metrics_host:metrics_port` (0: off).
    `report_to`: analysts who get the engagement report by mail on `report_cron`.
    Every `react_seconds` the leader reacts to new customer events and orders (docs/events.md).
    """

    timezone: str = "UTC"
    reclassify_cron: str = "30 2 * * *"
    plan_every_seconds: float = Field(300.0, gt=0)
    bounces_every_seconds: float = Field(600.0, gt=0)  # when a bounce mailbox is configured
    # new customer events and orders: that customer's profile refreshed and event mail planned (edm.reactions)
    react_seconds: float = Field(2.0, gt=0)
    report_cron: str = "0 7 * * mon"
    report_to: tuple[str, ...] = ()
    workers: int = Field(1, ge=0, le=64)
    standby_retry_seconds: float = Field(5.0, gt=0)
    stop_timeout_seconds: float = Field(30.0, gt=0)
    misfire_grace_seconds: int = Field(3600, ge=1)  # a run missed by less than this (downtime) still runs
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(DEFAULT_METRICS_PORT, ge=0, le=65535)

    @model_validator(mode="after")
    def _schedules(self) -> DaemonSettings:
        crons = {"reclassify_cron": self.reclassify_cron, "report_cron": self.report_cron}
        _check_schedules(self.timezone, crons)
        return self


def _check_schedules(timezone: str, crons: Mapping[str, str]) -> None:
    """ValueError naming the key: the time zone must be an IANA name, each cron string five fields."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from apscheduler.triggers.cron import CronTrigger

    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"timezone {timezone!r} is not an IANA name (e.g. Asia/Shanghai)") from exc
    for name, cron in crons.items():
        try:
            CronTrigger.from_crontab(cron, timezone=zone)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc} (five fields: minute hour day month weekday)") from exc


DigestLanguage = Literal["en", "zh-Hans", "zh-Hant"]


class AlertSettings(_Section):
    """Account managers' digests (edm.alerts): a mail per manager on `digest_cron`, none without news.

    A digest lists the manager's customers who, since the last one, became at risk or churned,
    dropped a product line, answered a survey as a detractor, unsubscribed, or clicked a mail of
    one of `win_back_campaigns`. The cron is read, and dates are shown, in `timezone`; the digest
    is written in `language`. A manager's first digest looks back `first_lookback_hours`.
    """

    enabled: bool = True
    digest_cron: str = "0 8 * * *"
    timezone: str = "UTC"
    language: DigestLanguage = "en"
    win_back_campaigns: tuple[str, ...] = ("win_back",)
    first_lookback_hours: float = Field(24.0, gt=0)

    @model_validator(mode="after")
    def _schedule(self) -> AlertSettings:
        _check_schedules(self.timezone, {"digest_cron": self.digest_cron})
        return self


class WarmupSettings(_Section):
    """A new sending domain or IP: each receiving provider gets at most `start` bulk messages on the
    first day, `growth` times more each following day (UTC days from `since`; without it, from the
    day of the first mail in the outbox). `providers` adds to or overrides the built-in groups
    (edm.providers.PROVIDERS: gmail, microsoft, yahoo, qq, netease, ...), provider -> domains.
    """

    start: int = Field(200, ge=1)
    growth: float = Field(1.5, ge=1)
    per: Literal["day"] = "day"
    since: date | None = None
    providers: dict[str, tuple[str, ...]] = {}


class DeliverabilitySettings(_Section):
    """What mailbox providers demand of a bulk sender: the `edm doctor` gate, automatic pause and
    warm-up (docs/deliverability.md, edm.delivery.health, edm.delivery.warmup).

    `enforce`: `edm send`, `edm campaign run` and `edm daemon` refuse to start while `edm doctor`
    finds an ERROR in DNS (SPF, DKIM, DMARC, reverse DNS) or the sender's identity. "remote" (the
    default): only when a relay is off this machine (a sink or test server on 127.0.0.1 is not
    gated); true: always; false: never. `--i-know` skips it for one run. `nameservers`: the DNS
    servers to ask, as IP or IP:PORT (none: the system's).

    A campaign pauses itself when, over its last `window_deliveries` deliveries within
    `window_hours`, hard bounces exceed `max_bounce_rate` or complaints `max_complaint_rate`,
    judged only once the window holds `min_deliveries` (one bounce in three sends is no signal).
    The same check over all bulk mail (every kind but service) pauses bulk sending. `edm campaign
    resume` lifts a pause. `warmup` (off when null) caps each receiving provider's daily volume.
    """

    max_bounce_rate: float = Field(0.05, gt=0, le=1)
    max_complaint_rate: float = Field(0.001, gt=0, le=1)
    window_deliveries: int = Field(1000, ge=1)
    window_hours: float = Field(24.0, gt=0)
    min_deliveries: int = Field(100, ge=1)
    warmup: WarmupSettings | None = None
    enforce: bool | Literal["remote"] = "remote"
    nameservers: tuple[str, ...] = ()


WEBHOOK_EVENTS = ("stage.changed", "loyalty.changed", "customer.unsubscribed", "customer.bounced",
                  "customer.complained", "message.clicked", "survey.answered", "customer.detractor",
                  "digest.alert")
_ENV_NAME = r"^[A-Z_][A-Z0-9_]*$"
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")


def _check_events(events: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [e for e in events if e != "*" and e not in WEBHOOK_EVENTS]
    if unknown:
        raise ValueError(f"unknown event {unknown[0]!r}; events are {', '.join(WEBHOOK_EVENTS)} or \"*\"")
    return events


class WebhookSettings(_Section):
    """One endpoint that receives signed events (Standard Webhooks; docs/webhooks-out.md).

    The signing secret (`whsec_...`) is read from the environment variable `secret_env` names,
    never from the file. `https://` only, except `http://` to this machine (localhost) for tests
    and local relays. Private-network addresses are allowed: the endpoint is the operator's choice.
    """

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    url: str
    events: tuple[str, ...] = ("*",)
    secret_env: str = Field(pattern=_ENV_NAME)
    max_attempts: int = Field(8, ge=1, le=100)
    timeout_seconds: float = Field(10.0, gt=0, le=300)

    @model_validator(mode="after")
    def _check(self) -> WebhookSettings:
        _check_events(self.events)
        scheme, _, rest = self.url.partition("://")
        host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
        host = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
        if scheme == "http" and host not in _LOOPBACK_HOSTS:
            raise ValueError("url: plain http only to this machine (localhost); use https://")
        if scheme not in ("http", "https") or not host:
            raise ValueError("url: must be an https:// URL")
        return self


class AppriseTargetSettings(_Section):
    """A chat target through Apprise (WeCom `wecombot://`, DingTalk, Feishu, Slack, ...): a short text
    per event. The Apprise URL carries its token, so it is read from the variable `apprise_url_env`."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    apprise_url_env: str = Field(pattern=_ENV_NAME)
    events: tuple[str, ...] = ("digest.alert", "customer.detractor")
    max_attempts: int = Field(8, ge=1, le=100)

    @model_validator(mode="after")
    def _check(self) -> AppriseTargetSettings:
        _check_events(self.events)
        return self


class WebhooksSettings(_Section):
    """Outbound webhooks: endpoints, Apprise targets and the retry schedule (docs/webhooks-out.md)."""

    endpoints: tuple[WebhookSettings, ...] = ()
    apprise: tuple[AppriseTargetSettings, ...] = ()
    retry_seconds: tuple[float, ...] = (5, 30, 120, 600, 3600, 3 * 3600, 6 * 3600)  # then the last, again
    jitter: float = Field(0.1, ge=0, le=1)  # each wait stretched by up to this share, at random
    batch_size: int = Field(100, ge=1, le=10_000)
    claim_lease_seconds: float = Field(300.0, gt=0)  # a claimed row is retried after this if its sender died
    every_seconds: float = Field(5.0, gt=0)  # the daemon's delivery job

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, data: Any) -> Any:
        """`webhooks:` may be just the list of targets: an entry with `apprise_url_env` is an Apprise one."""
        if isinstance(data, list | tuple):
            return {"endpoints": [e for e in data if not (isinstance(e, dict) and "apprise_url_env" in e)],
                    "apprise": [e for e in data if isinstance(e, dict) and "apprise_url_env" in e]}
        return data

    @model_validator(mode="after")
    def _check(self) -> WebhooksSettings:
        names = [e.name for e in self.endpoints] + [a.name for a in self.apprise]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"endpoint name {duplicates[0]!r} is used twice")
        if not self.retry_seconds or any(s < 0 for s in self.retry_seconds):
            raise ValueError("retry_seconds: one or more waits of 0 seconds or more")
        return self

    def env_names(self) -> set[str]:
        """The environment variables the entries name: read here, not settings to overlay."""
        return {e.secret_env for e in self.endpoints} | {a.apprise_url_env for a in self.apprise}


DEFAULT_TOPICS: dict[str, Localized] = {  # the shipped campaigns name these (and config/edm.yaml lists them)
    "news": {"en": "News and product updates", "zh-Hans": "新闻与产品动态", "zh-Hant": "新聞與產品動態"},
    "offers": {"en": "Offers and promotions", "zh-Hans": "优惠与促销", "zh-Hant": "優惠與促銷"},
    "greetings": {"en": "Holiday and anniversary greetings", "zh-Hans": "节日与纪念日问候",
                  "zh-Hant": "節日與紀念日問候"},
    "surveys": {"en": "Surveys and feedback requests", "zh-Hans": "问卷与意见征询",
                "zh-Hant": "問卷與意見徵詢"},
}


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    database_url: str = DEFAULT_DATABASE_URL
    campaigns_dir: Path = Path("campaigns")
    mail_dir: Path = Path("mail")
    sender: SenderSettings = SenderSettings()
    brand: BrandSettings = BrandSettings()
    smtp: SmtpSettings = SmtpSettings()
    tracking: TrackingSettings = TrackingSettings()
    api: ApiSettings = ApiSettings()
    console: ConsoleSettings = ConsoleSettings()
    classification: ClassificationSettings = ClassificationSettings()
    imports: ImportSettings = ImportSettings()
    engagement: EngagementSettings = EngagementSettings()
    policy: PolicySettings = PolicySettings()
    bounces: BounceSettings = BounceSettings()
    hooks: HooksSettings = HooksSettings()
    reports: ReportSettings = ReportSettings()
    daemon: DaemonSettings = DaemonSettings()
    alerts: AlertSettings = AlertSettings()
    deliverability: DeliverabilitySettings = DeliverabilitySettings()
    compliance: ComplianceSettings = ComplianceSettings()
    webhooks: WebhooksSettings = WebhooksSettings()
    signup: SignupSettings = SignupSettings()
    retention: RetentionSettings = RetentionSettings()
    consent: ConsentSettings = ConsentSettings()
    # what a person may choose to receive on the preference page: topic -> its title (one string
    # or one per language); each campaign names its `topic` (docs/preferences.md). `topics: {}`: none
    topics: dict[str, Localized] = DEFAULT_TOPICS
    secret_keys: tuple[SecretStr, ...] = ()

    @field_validator("topics")
    @classmethod
    def _topic_names(cls, topics: dict[str, Localized]) -> dict[str, Localized]:
        for name in topics:
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", name):
                raise ValueError(f"topic {name!r}: use lower-case letters, digits and _ (e.g. offers)")
        return topics

    @model_validator(mode="after")
    def _signup_topics(self) -> Settings:
        unknown = [name for name in self.signup.topics if name not in self.topics]
        if unknown:
            known = ", ".join(self.topics) or "none"
            raise ValueError(f"signup.topics: {', '.join(unknown)} not among topics: (known: {known})")
        return self

    def signing_keys(self) -> list[bytes]:
        """The link-signing keys, newest first; raises if none is configured or one is too weak."""
        if not self.secret_keys:
            raise ConfigError(f"EDM_SECRET_KEY is not set: tracking and unsubscribe links must be signed. "
                              f"Make a key with: {MAKE_KEY}")
        keys = [key.get_secret_value() for key in self.secret_keys]
        for number, key in enumerate(keys, 1):
            weakness = key_weakness(key)
            if weakness:
                which = f"key {number} of {len(keys)}" if len(keys) > 1 else "the key"
                raise ConfigError(f"EDM_SECRET_KEY: {which} is too weak ({weakness}); it needs "
                                  f"{KEY_BYTES} random bytes. Make one with: {MAKE_KEY}")
        return [key.encode() for key in keys]


MAKE_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'
KEY_BYTES = 32  # HMAC-SHA256 keys: as long as the hash
KEY_VARIETY = 10  # different characters at least: 'aaaa...' or 'abab...' is not a key
_HEX = frozenset("0123456789abcdefABCDEF")
_BASE64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/")


def key_weakness(key: str) -> str | None:
    """Why `key` cannot hold 32 random bytes, or None when it can. A floor, not an entropy measure:

    hex digits only: 64 at least (32 bytes); base64 or base64url characters only (what `MAKE_KEY`
    prints): 43 at least, padding not counted (32 bytes); any other text: 32 characters at least;
    and always at least `KEY_VARIETY` different characters.
    """
    if len(set(key)) < KEY_VARIETY:
        return f"fewer than {KEY_VARIETY} different characters"
    if set(key) <= _HEX:
        return None if len(key) >= 2 * KEY_BYTES else f"{len(key)} hex digits, {2 * KEY_BYTES} needed"
    unpadded = key.rstrip("=")
    if set(unpadded) <= _BASE64:
        need = -(-KEY_BYTES * 4 // 3)  # 43 characters carry 32 bytes
        return None if len(unpadded) >= need else f"{len(unpadded)} base64 characters, {need} needed"
    return None if len(key) >= KEY_BYTES else f"{len(key)} characters, {KEY_BYTES} needed"


NO_FOLDER = "no edm.yaml here or above: run `edm init` or pass --config"
SETTINGS_FILE = "edm.yaml"


def find_settings_file(path: Path | None = None, environ: Mapping[str, str] | None = None,
                       start: Path | None = None) -> Path:
    """The working folder's settings file: `path`, else `EDM_CONFIG`, else the first `edm.yaml` in
    `start` (default: the current folder) or a folder above it. Never the bundled defaults: a command
    run outside a working folder must not write into the installed package."""
    environ = os.environ if environ is None else environ
    if path is None and environ.get("EDM_CONFIG"):
        path = Path(environ["EDM_CONFIG"])
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"{path}: no such settings file (run `edm init FOLDER` to make one)")
        return path.resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / SETTINGS_FILE).is_file():
            return folder / SETTINGS_FILE
    raise ConfigError(NO_FOLDER)


def default_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The bundled defaults overlaid with `environ`, for what needs no working folder (no store:
    `edm.store.make_engine` refuses a database inside the installed package)."""
    return load_settings(bundled_config_dir() / SETTINGS_FILE, environ)


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from `path` (default: `find_settings_file`) and `environ`.

    Relative paths in the file (database, campaigns, mail) are taken from the file's folder.
    """
    environ = os.environ if environ is None else environ
    if path is None:
        path = find_settings_file(None, environ)
    base = load_model(path, Settings, ConfigError)
    if base.secret_keys or base.smtp.username or base.smtp.password or base.sender.dkim_private_key:
        raise ConfigError(f"{path}: secrets belong in the environment ({', '.join(SECRET_ENV)})")
    hooks = base.hooks
    if hooks.mailgun_signing_key or hooks.postmark_username or hooks.postmark_password:
        raise ConfigError(f"{path}: webhook secrets belong in the environment "
                          "(EDM_HOOKS__MAILGUN_SIGNING_KEY, "
                          "EDM_HOOKS__POSTMARK_USERNAME, EDM_HOOKS__POSTMARK_PASSWORD)")
    if base.bounces.imap is not None and base.bounces.imap.password is not None:
        raise ConfigError(f"{path}: the IMAP password belongs in EDM_BOUNCES__IMAP__PASSWORD")
    data = base.model_dump()
    folder = path.resolve().parent
    for key in ("campaigns_dir", "mail_dir"):
        data[key] = folder / data[key]
    for key in ("maildir", "mbox"):
        if data["bounces"][key] is not None:
            data["bounces"][key] = folder / data["bounces"][key]
    data["database_url"] = _resolve_sqlite(data["database_url"], folder)
    _overlay_environment(data, environ)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {validation_message(e)}" for e in exc.errors())
        raise ConfigError(f"invalid setting from the environment: {problems}") from exc


def _overlay_environment(data: dict[str, Any], environ: Mapping[str, str]) -> None:
    keys = environ.get("EDM_SECRET_KEY")
    named = _named_env(data)  # variables the settings point to (secrets), not settings themselves
    if keys:
        data["secret_keys"] = tuple(k.strip() for k in keys.split(",") if k.strip())
    for name, raw in environ.items():
        if (not name.startswith("EDM_") or name in NOT_SETTINGS or name.startswith("EDM_TEST_")
                or name in named):
            continue
        path = name.removeprefix("EDM_").lower().split("__")
        target = data
        for part in path[:-1]:
            if not isinstance(target.get(part), dict):
                raise ConfigError(f"{name}: there is no settings section {part!r}")
            target = target[part]
        if path[-1] not in target:
            raise ConfigError(f"{name}: there is no setting {'.'.join(path)!r}")
        target[path[-1]] = raw if name in SECRET_ENV else _parse_scalar(raw)


def _named_env(data: dict[str, Any]) -> set[str]:
    hooks = data.get("webhooks") or {}
    names = {e.get("secret_env") for e in hooks.get("endpoints") or ()}
    names |= {a.get("apprise_url_env") for a in hooks.get("apprise") or ()}
    relays = (data.get("smtp") or {}).get("relays") or ()
    names |= {r.get(k) for r in relays for k in ("username_env", "password_env")}
    return {n for n in names if isinstance(n, str)}


def _parse_scalar(raw: str) -> Any:
    """An environment value as YAML would read it (numbers, booleans), or the raw text."""
    try:
        return yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        return raw


def _resolve_sqlite(url: str, folder: Path) -> str:
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str(folder / url.removeprefix(prefix))
    return url
