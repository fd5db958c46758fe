"""The relay pool: several relays, one down, connections reused, credentials from the environment."""

from __future__ import annotations

import asyncio

from pydantic import SecretStr

from edm.config import RelaySettings, SmtpSettings, load_settings
from edm.delivery.pool import Relay, relays_from
from edm.delivery.transport import Outgoing, SmtpTransport
from edm.errors import NotAttemptedError
from edm.resources import bundled_config_dir
from tests.delivery.smtp_servers import ScriptedHandler, refusing_port, serving

DATA = b"From: care@example.com\r\nTo: a@example.com\r\nSubject: hi\r\n\r\nhello\r\n"


def _batch(start: int, size: int) -> list[Outgoing]:
    return [Outgoing(i, "care@example.com", f"u{i}@example.com", DATA) for i in range(start, start + size)]


def test_with_one_relay_down_everything_goes_through_the_other() -> None:
    handler = ScriptedHandler()
    with serving(handler) as port, refusing_port() as down:
        settings = SmtpSettings(concurrency=3, relay_retry_seconds=30, claim_lease_seconds=8)
        transport = SmtpTransport(settings, relays=[Relay("127.0.0.1", down), Relay("127.0.0.1", port)])

        async def send() -> list[bool]:
            results = await asyncio.gather(*(transport.send(_batch(i * 10, 10)) for i in range(6)))
            down = transport.pool.is_down(Relay("127.0.0.1", port))
            await transport.close()
            return [all(d.error is None for d in batch) for batch in results] + [down]

        outcome = asyncio.run(send())
    assert outcome == [True] * 6 + [False]
    assert sorted(handler.recipients) == sorted(f"u{i}@example.com" for i in range(60))
    assert len(handler.sessions) <= 3  # at most `concurrency` connections, reused across batches


def test_when_every_relay_is_down_the_messages_come_back_unattempted() -> None:
    settings = SmtpSettings(relay_retry_seconds=0.05, relay_retry_max_seconds=0.1, claim_lease_seconds=1)
    with refusing_port() as first, refusing_port() as second:
        transport = SmtpTransport(settings, relays=[Relay("127.0.0.1", first), Relay("127.0.0.1", second)])
        results = asyncio.run(transport.send(_batch(0, 5)))
    assert all(isinstance(d.error, NotAttemptedError) for d in results)
    assert "no relay reachable" in results[0].reply


def test_a_connection_is_reused_across_batches() -> None:
    handler = ScriptedHandler()
    with serving(handler) as port:
        transport = SmtpTransport(SmtpSettings(port=port, concurrency=1))

        async def send() -> None:
            for i in range(5):
                assert all(d.error is None for d in await transport.send(_batch(i * 3, 3)))
            await transport.close()

        asyncio.run(send())
    assert len(handler.recipients) == 15 and len(handler.sessions) == 1


def test_relay_credentials_come_from_the_named_environment_variables() -> None:
    settings = SmtpSettings(relays=(
        RelaySettings(host="a.example", port=587, starttls=True, username_env="A_USER",
                      password_env="A_PASS"),
        RelaySettings(host="b.example", port=465, use_tls=True),
    ))
    first, second = relays_from(settings, {"A_USER": "alice", "A_PASS": "s3cret"})
    assert (first.host, first.port, first.starttls, first.username, first.password) == (
        "a.example", 587, True, "alice", "s3cret")
    assert (second.use_tls, second.username) == (True, None)
    assert "s3cret" not in repr(first)


def test_the_single_host_form_is_one_relay() -> None:
    settings = SmtpSettings(host="relay.example", port=2525, username=SecretStr("u"), password=SecretStr("p"))
    assert relays_from(settings, {}) == [Relay("relay.example", 2525, False, False, "u", "p")]


def test_relays_and_limits_load_from_the_environment() -> None:
    settings = load_settings(bundled_config_dir() / "edm.yaml", {
        "EDM_SMTP__RELAYS": "[{host: r1.example, port: 25}, {host: r2.example, password_env: R2}]",
        "EDM_SMTP__DOMAIN_LIMITS": "{gmail.com: 20, qq.com: 5}",
        "EDM_SMTP__CONCURRENCY": "32",
    }).smtp
    assert [(r.host, r.port) for r in settings.relays] == [("r1.example", 25), ("r2.example", 1025)]
    assert settings.domain_limits == {"gmail.com": 20, "qq.com": 5} and settings.concurrency == 32
