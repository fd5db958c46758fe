"""`edm` commands against a real store and relay: a campaigns folder, the environment that points the
command at them, and the command run in-process (CliRunner). The store itself is the `store` fixture."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner, Result

from edm.cli import main
from edm.resources import bundled_config_dir
from tests.conftest import SECRET_KEY


def cli_environment(tmp_path: Path, url: str, port: int, **extra: str) -> dict[str, str]:
    """The shipped campaigns in `tmp_path/campaigns`, the store at `url`, the relay on `port`."""
    campaigns = tmp_path / "campaigns"
    if not campaigns.exists():
        shutil.copytree(bundled_config_dir() / "campaigns", campaigns)
    (tmp_path / "edm.yaml").write_text(f"campaigns_dir: {campaigns}\n", encoding="utf-8")
    return {"EDM_CONFIG": str(tmp_path / "edm.yaml"), "EDM_DATABASE_URL": url, "EDM_SECRET_KEY": SECRET_KEY,
            "EDM_SMTP__HOST": "127.0.0.1", "EDM_SMTP__PORT": str(port), "EDM_SMTP__CONCURRENCY": "4",
            "EDM_SMTP__BATCH_SIZE": "20", "EDM_SMTP__COMPOSE_PROCESSES": "0", **extra}


def edm(env: dict[str, str], *arguments: str) -> Result:
    return CliRunner(env=env).invoke(main, list(arguments), catch_exceptions=False)
