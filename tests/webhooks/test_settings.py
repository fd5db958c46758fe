"""The `webhooks:` settings: what is refused, in one line, and the documented receiver code works."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from edm.config import load_settings
from edm.errors import ConfigError
from edm.webhooks import signing

DOCS = Path(__file__).parents[2] / "docs" / "webhooks-out.md"


def settings_with(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> object:
    config = tmp_path / "edm.yaml"
    config.write_text(text, encoding="utf-8")
    return load_settings(config, environ or {})


@pytest.mark.parametrize(("entry", "message"), [
    ("{name: a, url: 'http://shop.example.com/x', secret_env: S}", "plain http only to this machine"),
    ("{name: a, url: 'ftp://shop.example.com/x', secret_env: S}", "must be an https:// URL"),
    ("{name: a, url: 'https://x.example', secret_env: S, events: [order.placed]}",
     "unknown event 'order.placed'"),
    ("{name: a, url: 'https://x.example', secret: whsec_abc}", "secret"),
])
def test_bad_entries_are_refused(tmp_path: Path, entry: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        settings_with(tmp_path, f"webhooks: [{entry}]\n")


def test_names_are_unique_across_endpoints_and_chat_targets(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'a' is used twice"):
        settings_with(tmp_path, "webhooks: [{name: a, url: 'https://x.example', secret_env: S},"
                                " {name: a, apprise_url_env: W}]\n")


def test_the_named_variables_are_secrets_not_settings(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, "webhooks: [{name: a, url: 'http://localhost:9/x', "
                                       "secret_env: EDM_WEBHOOK_A_SECRET}, "
                                       "{name: w, apprise_url_env: EDM_WECOM_URL}]\n",
                             {"EDM_WEBHOOK_A_SECRET": "whsec_x", "EDM_WECOM_URL": "wecombot://key"})
    assert "whsec_x" not in repr(settings) and "wecombot" not in repr(settings)


def test_the_by_hand_verifier_in_the_docs_accepts_ours() -> None:
    text = DOCS.read_text(encoding="utf-8")
    code = text.split("### Verifying by hand", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    scope: dict[str, object] = {}
    exec(code, scope)  # the documented function, as a reader would paste it
    verify = scope["verify"]
    secret = signing.new_secret()
    body = b'{"type":"customer.detractor"}'
    headers = signing.headers([signing.secret_key(secret)], "msg_9", int(time.time()), body)
    assert verify(secret, headers, body) is True  # type: ignore[operator]
    assert verify(secret, headers, body + b" ") is False  # type: ignore[operator]
