"""Reused SMTP connections to one or more relays, at most `concurrency` in use at once.

A relay that refuses connections is marked down and tried again after a growing pause
(doubling from `relay_retry_seconds` to `relay_retry_max_seconds`); meanwhile new
connections go to the other relays. When every relay is down, `acquire` waits for the
first one due another try, up to a limit, and then raises `RelaysDown`: the caller puts
its messages back, so nothing is lost and nothing is counted as an attempt. With
`give_up_after`, the limit is also that many seconds after the first failed connection since
the last one that worked: a run against a relay that stays down ends within a known time.

A login is tried once per relay per pool (the first connection logs in while the others wait):
a relay that refuses it (5xx) makes every later `acquire` raise the same `RelayLoginError`
without contacting anyone, so a wrong password costs one AUTH, not a retry storm. Only the
configured TLS is used (`starttls` demands the upgrade, no opportunistic STARTTLS), and a
login over plain text is refused before connecting unless `allow_plaintext_auth` is set.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiosmtplib

from edm.config import SmtpSettings
from edm.delivery.ratelimit import Timer
from edm.errors import ConfigError, RelayLoginError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Relay:
    host: str
    port: int
    starttls: bool = False
    use_tls: bool = False
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    allow_plaintext_auth: bool = False
    setting: str = "smtp"  # where it is configured, for messages: smtp, smtp.relays[1]
    credentials: str = "EDM_SMTP__USERNAME / EDM_SMTP__PASSWORD"  # where its login comes from

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"


def relays_from(settings: SmtpSettings, environ: Mapping[str, str]) -> list[Relay]:
    """The configured relays with their credentials read from `environ`; one relay if none is listed."""
    if not settings.relays:
        return [
            Relay(
                settings.host,
                settings.port,
                settings.starttls,
                settings.use_tls,
                settings.username.get_secret_value() if settings.username else None,
                settings.password.get_secret_value() if settings.password else None,
                settings.allow_plaintext_auth,
            )
        ]
    return [
        Relay(
            r.host,
            r.port,
            r.starttls,
            r.use_tls,
            environ.get(r.username_env) if r.username_env else None,
            environ.get(r.password_env) if r.password_env else None,
            settings.allow_plaintext_auth if r.allow_plaintext_auth is None else r.allow_plaintext_auth,
            f"smtp.relays[{index}]",
            f"{r.username_env or '(no username_env)'} / {r.password_env or '(no password_env)'}",
        )
        for index, r in enumerate(settings.relays)
    ]


def check_login_security(relays: list[Relay]) -> None:
    """Refuse, before any connection, to send a password over plain text unless the settings allow it."""
    for relay in relays:
        encrypted = relay.starttls or relay.use_tls
        if relay.username is not None and not encrypted and not relay.allow_plaintext_auth:
            raise ConfigError(
                f"refusing to log in to {relay.name} without TLS: the password would cross the network in "
                f"clear. Set {relay.setting}.starttls: true (port 587) or {relay.setting}.use_tls: true "
                f"(port 465); on a trusted network, set {relay.setting}.allow_plaintext_auth: true"
            )


def login_refused(relay: Relay, reply: str) -> RelayLoginError:
    """The one message for a relay that refused our login or demands one."""
    if relay.username is None:
        return RelayLoginError(f"the relay {relay.name} demands a login ({reply}): set {relay.credentials}")
    return RelayLoginError(f"the relay {relay.name} refused the login for user {relay.username!r} ({reply}): "
                           f"check {relay.credentials}")


LOGIN_CODES = (530, 534, 535, 538)  # authentication required / too weak / refused / needs encryption


class RelaysDown(Exception):
    """No relay could be reached. Internal to the transport, which turns it into a delivery error.

    `gave_up`: none has been reachable for the pool's `give_up_after` seconds."""

    def __init__(self, reason: str, *, gave_up: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.gave_up = gave_up


@dataclass
class _Health:
    failures: int = 0
    down_until: float = float("-inf")
    last_error: str = ""


@dataclass
class Connection:
    """One open SMTP session; `sent` counts messages so it can be retired after the relay's limit."""

    relay: Relay
    client: aiosmtplib.SMTP
    sent: int = 0
    reused: bool = False  # taken from the idle list: the relay may have closed it meanwhile


class RelayPool:
    def __init__(self, relays: list[Relay], settings: SmtpSettings, timer: Timer, *,
                 give_up_after: float | None = None) -> None:
        if not relays:
            raise ValueError("at least one relay is needed")
        self._relays = relays
        self._give_up_after = give_up_after
        self._unreachable_since: float | None = None  # first failed connection since the last that worked
        self._settings = settings
        self._timer = timer
        self._health = {relay: _Health() for relay in relays}
        self._turn = itertools.cycle(relays)
        self._idle: list[Connection] = []
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._login_lock = asyncio.Lock()
        self._logged_in: set[Relay] = set()  # relays that took our login once: no need to queue up
        self.refused: RelayLoginError | None = None  # set once: every later acquire raises it

    def refuse(self, error: RelayLoginError) -> RelayLoginError:
        """Stop the pool: the first refusal is kept and raised to every caller from now on."""
        if self.refused is None:
            self.refused = error  # reported once, by whoever runs the pool (the CLI prints it)
        return self.refused

    def is_down(self, relay: Relay) -> bool:
        return self._health[relay].down_until > self._timer.monotonic()

    async def acquire(self, max_wait: float) -> Connection:
        """A connection for this task alone; waits for a free slot, and up to `max_wait` for a relay."""
        await self._slots.acquire()
        try:
            while self._idle:
                connection = self._idle.pop()
                if connection.client.is_connected:
                    connection.reused = True
                    return connection
            return await self._connect(max_wait)
        except BaseException:
            self._slots.release()
            raise

    def release(self, connection: Connection | None) -> None:
        """Give the slot back, and keep the connection for the next batch while it is healthy."""
        try:
            if connection is not None and connection.client.is_connected:
                if connection.sent < self._settings.max_messages_per_connection:
                    self._idle.append(connection)
                else:
                    connection.client.close()
        finally:
            self._slots.release()

    async def replace(self, connection: Connection, max_wait: float) -> Connection:
        """Put a fresh session in place of one that broke (the caller keeps its slot)."""
        connection.client.close()
        if self.refused is not None:
            raise self.refused
        fresh = await self._connect(max_wait)
        connection.relay, connection.client = fresh.relay, fresh.client
        connection.sent, connection.reused = 0, False
        return connection

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            try:
                await connection.client.quit()
            except (aiosmtplib.SMTPException, OSError):
                connection.client.close()

    async def _connect(self, max_wait: float) -> Connection:
        give_up = self._timer.monotonic() + max_wait
        last_try = False
        while True:
            for _ in range(len(self._relays)):
                if self.refused is not None:
                    raise self.refused
                relay = next(self._turn)
                if self.is_down(relay):
                    continue
                if relay.username is None or relay in self._logged_in:
                    client = await self._open(relay)
                else:
                    async with self._login_lock:  # the first login to a relay goes alone
                        if self.refused is not None:
                            raise self.refused
                        client = await self._open(relay)
                if client is None:
                    continue
                if self._health[relay].failures:
                    log.warning("relay=%s up again", relay.name)
                self._health[relay] = _Health()
                self._unreachable_since = None
                return Connection(relay, client)
            now = self._timer.monotonic()
            if self._unreachable_since is None:
                self._unreachable_since = now
            retry_at = min(health.down_until for health in self._health.values())
            deadline, gave_up = give_up, False
            if self._give_up_after is not None and self._unreachable_since + self._give_up_after < give_up:
                deadline, gave_up = self._unreachable_since + self._give_up_after, True
            if retry_at > deadline:
                if gave_up and not last_try and now < deadline:
                    last_try = True  # one more try at the bound itself, whatever the backoff says
                    await self._timer.sleep(deadline - now)
                    for health in self._health.values():
                        health.down_until = min(health.down_until, self._timer.monotonic())
                    continue
                reasons = "; ".join(f"{r.name}: {h.last_error}" for r, h in self._health.items())
                since = f" for {now - self._unreachable_since:.0f} s" if gave_up else ""
                raise RelaysDown(f"no relay reachable{since} ({reasons})", gave_up=gave_up)
            await self._timer.sleep(max(retry_at - now, 0.0))

    async def _open(self, relay: Relay) -> aiosmtplib.SMTP | None:
        """A session with `relay`, logged in when it has credentials; None when it is down."""
        client = self._client(relay)
        try:
            await client.connect()
            if relay.starttls:
                await self._starttls(client, relay)
            if relay.username is not None:
                await self._login(client, relay)
        except RelayLoginError as exc:
            client.close()
            raise self.refuse(exc) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            client.close()
            self._mark_down(relay, exc)
            return None
        except BaseException:  # cancelled (a stopping sender): no half-open socket left behind
            client.close()
            raise
        return client

    async def _starttls(self, client: aiosmtplib.SMTP, relay: Relay) -> None:
        """The upgrade the settings demand; a relay that does not offer it is a settings problem."""
        if client.is_ehlo_or_helo_needed:
            await client.ehlo()
        if not client.supports_extension("starttls"):
            raise self.refuse(RelayLoginError(
                f"the relay {relay.name} does not offer STARTTLS, which {relay.setting}.starttls demands: "
                f"check the host and port (STARTTLS is usually on 587; 465 wants {relay.setting}.use_tls)"))
        await client.starttls()

    async def _login(self, client: aiosmtplib.SMTP, relay: Relay) -> None:
        """One AUTH with the relay's preferred method (aiosmtplib's `login` would try each in turn)."""
        if client.is_ehlo_or_helo_needed:
            await client.ehlo()
        methods = client.supported_auth_methods
        if not methods:
            offered = ", ".join(client.server_auth_methods) or "no AUTH at all"
            raise login_refused(relay, f"it offers {offered}")
        method = getattr(client, "auth_" + methods[0].replace("-", ""))
        try:
            await method(relay.username, relay.password or "")
        except aiosmtplib.SMTPAuthenticationError as exc:
            if exc.code >= 500:
                raise login_refused(relay, f"{exc.code} {exc.message}".strip()) from None
            raise  # 454 temporary failure: the relay is down for now
        self._logged_in.add(relay)

    def _mark_down(self, relay: Relay, exc: BaseException) -> None:
        health = self._health[relay]
        if self.is_down(relay):  # another connection, tried at the same moment, failed first
            health.last_error = f"{type(exc).__name__}: {exc}"
            return
        pause = min(
            self._settings.relay_retry_max_seconds,
            self._settings.relay_retry_seconds * 2 ** min(health.failures, 30),
        )
        health.failures += 1
        health.down_until = self._timer.monotonic() + pause
        health.last_error = f"{type(exc).__name__}: {exc}"
        log.warning("relay=%s down failures=%d retry_in=%.1fs error=%s", relay.name, health.failures, pause,
                    health.last_error)

    def _client(self, relay: Relay) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=relay.host,
            port=relay.port,
            use_tls=relay.use_tls,
            start_tls=False,  # `_starttls` upgrades when configured; never opportunistically (None would)
            timeout=self._settings.timeout_seconds,
        )
