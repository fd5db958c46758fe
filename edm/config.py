"""Settings: `edm.yaml` overlaid with `EDM_*` environment variables, validated.

Secrets (the link-signing key, SMTP credentials) come only from the environment;
a settings file that holds one is rejected, and no secret is ever part of a repr.
Nested keys are set from the environment with a double underscore, e.g.
`EDM_SMTP__PORT=2525` or `EDM_TRACKING__BASE_URL=https://t.example.com`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from edm.classes import Tier
from edm.errors import ConfigError
from edm.resources import bundled_config_dir
from edm.yamlfile import load_model

DEFAULT_DATABASE_URL = "sqlite:///edm.db"
DEFAULT_SMTP_PORT = 1025
DEFAULT_TRACKING_PORT = 8080
SECRET_ENV = ("EDM_SECRET_KEY", "EDM_SMTP__USERNAME", "EDM_SMTP__PASSWORD")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SenderSettings(_Section):
    from_address: str = "Customer Care <care@example.com>"
    reply_to: str | None = None


class SmtpSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(DEFAULT_SMTP_PORT, ge=1, le=65535)
    starttls: bool = False
    use_tls: bool = False
    timeout_seconds: float = Field(30.0, gt=0)
    batch_size: int = Field(100, ge=1)
    retry_after_seconds: int = Field(600, ge=1)
    max_attempts: int = Field(5, ge=1)
    username: SecretStr | None = None
    password: SecretStr | None = None


class TrackingSettings(_Section):
    base_url: str = f"http://127.0.0.1:{DEFAULT_TRACKING_PORT}"
    host: str = "127.0.0.1"
    port: int = Field(DEFAULT_TRACKING_PORT, ge=0, le=65535)


class ValueTierRules(_Section):
    """Revenue quantiles: at or above `high_quantile` is high, above `medium_quantile` medium."""

    high_quantile: float = Field(0.8, gt=0, lt=1)
    medium_quantile: float = Field(0.45, gt=0, lt=1)

    @model_validator(mode="after")
    def _ordered(self) -> ValueTierRules:
        if self.medium_quantile >= self.high_quantile:
            raise ValueError("medium_quantile must be below high_quantile")
        return self


class LifecycleRules(_Section):
    """Day thresholds, measured from the first and the last order."""

    new_days: int = Field(90, ge=1)
    mature_days: int = Field(365, ge=1)
    at_risk_days: int = Field(150, ge=1)
    churned_days: int = Field(365, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> LifecycleRules:
        if self.at_risk_days >= self.churned_days:
            raise ValueError("at_risk_days must be below churned_days")
        return self


class ClassificationSettings(_Section):
    value_tier: ValueTierRules = ValueTierRules()
    lifecycle: LifecycleRules = LifecycleRules()


class EngagementSettings(_Section):
    """The adaptive contact interval: a base per tier, shortened by engagement, lengthened by silence."""

    base_interval_days: dict[Tier, float] = {"high": 21.0, "medium": 14.0, "low": 7.0}
    min_interval_days: float = Field(3.0, gt=0)
    max_interval_days: float = Field(90.0, gt=0)
    engaged_factor: float = Field(0.5, gt=0, le=1)
    ignored_factor: float = Field(1.5, ge=1)
    response_window_days: float = Field(3.0, ge=0)

    def base_interval(self, tier: str) -> float:
        """The starting interval for a tier; an unlisted tier gets the longest (the safe side)."""
        by_tier = {str(name): days for name, days in self.base_interval_days.items()}
        return by_tier.get(tier, max(by_tier.values()))


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    database_url: str = DEFAULT_DATABASE_URL
    campaigns_dir: Path = Path("campaigns")
    mail_dir: Path = Path("mail")
    sender: SenderSettings = SenderSettings()
    smtp: SmtpSettings = SmtpSettings()
    tracking: TrackingSettings = TrackingSettings()
    classification: ClassificationSettings = ClassificationSettings()
    engagement: EngagementSettings = EngagementSettings()
    secret_keys: tuple[SecretStr, ...] = ()

    def signing_keys(self) -> list[bytes]:
        """The link-signing keys, newest first; raises if none is configured."""
        if not self.secret_keys:
            raise ConfigError(
                "EDM_SECRET_KEY is not set: tracking and unsubscribe links must be signed. "
                "Set it to a long random value, e.g. "
                "export EDM_SECRET_KEY="
                "$(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        return [key.get_secret_value().encode() for key in self.secret_keys]


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from `path` (or `./edm.yaml`, or the bundled default) and `environ`.

    Relative paths in the file (database, campaigns, mail) are taken from the file's folder.
    """
    environ = os.environ if environ is None else environ
    if path is None:
        local = Path("edm.yaml")
        path = local if local.exists() else bundled_config_dir() / "edm.yaml"
    base = load_model(path, Settings, ConfigError)
    if base.secret_keys or base.smtp.username or base.smtp.password:
        raise ConfigError(f"{path}: secrets belong in the environment ({', '.join(SECRET_ENV)})")
    data = base.model_dump()
    folder = path.resolve().parent
    for key in ("campaigns_dir", "mail_dir"):
        data[key] = folder / data[key]
    data["database_url"] = _resolve_sqlite(data["database_url"], folder)
    _overlay_environment(data, environ)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid setting from the environment: {problems}") from exc


def _overlay_environment(data: dict[str, Any], environ: Mapping[str, str]) -> None:
    keys = environ.get("EDM_SECRET_KEY")
    if keys:
        data["secret_keys"] = tuple(k.strip() for k in keys.split(",") if k.strip())
    for name, raw in environ.items():
        if not name.startswith("EDM_") or name == "EDM_SECRET_KEY" or name.startswith("EDM_TEST_"):
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
