"""`edm api-key create/list/revoke` and `edm serve` as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from edm.cli import main
from edm.delivery.sink import free_port
from tests.conftest import SECRET_KEY

COMMAND = [sys.executable, "-c", "from edm.cli import main; main()"]


def _folder(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    assert CliRunner().invoke(main, ["init", str(work)]).exit_code == 0
    return work


def test_keys_are_shown_once_listed_and_revoked(tmp_path: Path) -> None:
    work = _folder(tmp_path)
    config = ["--config", str(work / "edm.yaml")]
    runner = CliRunner()
    made = runner.invoke(main, ["api-key", "create", "--name", "shop", "--scope", "orders:write,events:write",
                                *config])
    assert made.exit_code == 0, made.output
    key = made.stdout.strip()
    assert key.startswith("edm_") and len(key) > 50
    listed = runner.invoke(main, ["api-key", "list", *config])
    assert "shop" in listed.stdout and "events:write,orders:write" in listed.stdout
    assert key not in listed.stdout and key.split(".")[1] not in listed.output  # never shown again
    wrong = runner.invoke(main, ["api-key", "create", "--name", "x", "--scope", "orders:delete", *config])
    assert wrong.exit_code == 1 and "unknown scope 'orders:delete'" in wrong.output
    assert "Traceback" not in wrong.output
    twice = runner.invoke(main, ["api-key", "create", "--name", "shop", "--scope", "orders:write", *config])
    assert twice.exit_code == 1 and "exists" in twice.output
    revoked = runner.invoke(main, ["api-key", "revoke", "shop", *config])
    assert revoked.exit_code == 0 and "revoked" in revoked.stdout
    assert "revoked" in runner.invoke(main, ["api-key", "list", *config]).stdout


def test_edm_serve_answers_with_a_key_and_stops(tmp_path: Path) -> None:
    work = _folder(tmp_path)
    config = ["--config", str(work / "edm.yaml")]
    key = CliRunner().invoke(main, ["api-key", "create", "--name", "shop", "--scope", "campaigns:read",
                                    *config]).stdout.strip()
    port = free_port()
    env = {**os.environ, "EDM_SECRET_KEY": SECRET_KEY}
    server = subprocess.Popen([*COMMAND, "serve", "--port", str(port), "--with-tracking",
                               *config], env=env, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                answer = httpx.get(url + "/v1/campaigns", headers={"Authorization": f"Bearer {key}"})
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        assert answer.status_code == 200 and answer.json()["campaigns"]
        assert httpx.get(url + "/healthz").status_code == 200  # the tracking app, on the same port
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_edm_serve_needs_the_secret_key(tmp_path: Path) -> None:
    work = _folder(tmp_path)
    result = CliRunner().invoke(main, ["serve", "--config", str(work / "edm.yaml")])
    assert result.exit_code == 1 and "EDM_SECRET_KEY" in result.output
