from __future__ import annotations

import os
from pathlib import Path

import pytest

from edm.config import Quantile, SmtpSettings, load_settings
from edm.errors import ConfigError
from edm.resources import bundled_config_dir
from tests.conftest import OLD_SECRET_KEY, SECRET_KEY


def test_bundled_settings_load_with_paths_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "edm.yaml").write_text("database_url: sqlite:///data/edm.db\n", encoding="utf-8")
    settings = load_settings(tmp_path / "edm.yaml", environ={})
    assert settings.database_url == f"sqlite:///{tmp_path / 'data/edm.db'}"
    assert settings.campaigns_dir == tmp_path / "campaigns"
    assert load_settings(bundled_config_dir() / "edm.yaml", environ={}).smtp.port == 1025


def test_environment_overrides_nested_keys_and_brings_secrets(tmp_path: Path) -> None:
    (tmp_path / "edm.yaml").write_text("{}\n", encoding="utf-8")
    settings = load_settings(tmp_path / "edm.yaml", environ={
        "EDM_SMTP__PORT": "2525", "EDM_SECRET_KEY": f"{SECRET_KEY}, {OLD_SECRET_KEY}",
        "EDM_SMTP__PASSWORD": "12345",
        "EDM_DATABASE_URL": "postgresql+psycopg://edm@db/edm",
        "EDM_CONFIG": str(tmp_path / "edm.yaml"),  # the settings file's path, not a setting
    })
    assert settings.smtp.port == 2525
    assert settings.signing_keys() == [SECRET_KEY.encode(), OLD_SECRET_KEY.encode()]
    assert settings.smtp.password is not None and settings.smtp.password.get_secret_value() == "12345"
    assert settings.database_url == "postgresql+psycopg://edm@db/edm"
    assert "12345" not in repr(settings) and SECRET_KEY not in repr(settings)


@pytest.mark.parametrize(("environ", "message"), [
    ({"EDM_SMTP__PORT": "many"}, "smtp.port"),
    ({"EDM_SMPT__PORT": "25"}, "EDM_SMPT__PORT: there is no settings section 'smpt'"),
    ({"EDM_SMTP__HOSTNAME": "x"}, "there is no setting 'smtp.hostname'"),
])
def test_a_bad_environment_value_names_the_variable(tmp_path: Path, environ: dict[str, str],
                                                     message: str) -> None:
    (tmp_path / "edm.yaml").write_text("{}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_settings(tmp_path / "edm.yaml", environ=environ)


def test_a_bad_settings_file_names_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "edm.yaml"
    path.write_text("smtp:\n  host: relay\n  prot: 25\n", encoding="utf-8")
    expected = r"edm.yaml:3:3: smtp.prot: unknown key 'prot'; did you mean 'port'\?"
    with pytest.raises(ConfigError, match=expected):
        load_settings(path, environ={})


def test_secrets_in_the_settings_file_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "edm.yaml"
    path.write_text("smtp:\n  password: hunter2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="secrets belong in the environment") as caught:
        load_settings(path, environ={})
    assert "hunter2" not in str(caught.value)


def test_no_signing_key_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "edm.yaml").write_text("{}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="EDM_SECRET_KEY is not set"):
        load_settings(tmp_path / "edm.yaml", environ={}).signing_keys()


def test_thresholds_are_figures_or_quantiles_and_must_be_ordered(tmp_path: Path) -> None:
    (tmp_path / "edm.yaml").write_text(
        "classification:\n  value_tier: {high: 50000, medium: {quantile: 0.5}}\n"
        "  scale: {large: {quantile: 0.9}, medium: {quantile: 0.6}}\n", encoding="utf-8")
    rules = load_settings(tmp_path / "edm.yaml", environ={}).classification
    assert rules.value_tier.high == 50000 and rules.value_tier.medium == Quantile(quantile=0.5)
    assert rules.scale.large == Quantile(quantile=0.9)
    (tmp_path / "edm.yaml").write_text(
        "classification:\n  scale: {large: {quantile: 0.5}, medium: {quantile: 0.6}}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="medium must be below large"):
        load_settings(tmp_path / "edm.yaml", environ={})


@pytest.mark.parametrize(("cores", "composers"), [(1, 1), (2, 1), (3, 2), (16, 2)])
def test_compose_processes_default_to_the_cores_beside_the_senders(
    monkeypatch: pytest.MonkeyPatch, cores: int, composers: int
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(cores)), raising=False)
    assert SmtpSettings().compose_processes == composers
    assert SmtpSettings(compose_processes=0).compose_processes == 0  # what is set wins
