"""Probe each configured relay as sending would use it: connect, EHLO, TLS, AUTH, QUIT (no mail).

aiosmtplib's exceptions end here, each as an ERROR saying what to fix.
"""

from __future__ import annotations

import ipaddress
import ssl

import aiosmtplib

from edm.delivery.pool import Relay
from edm.doctor.report import Check, error, ok, warn

SECTION = "relay"
LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


def is_local(host: str) -> bool:
    """A relay on this machine (a sink, a test server, a local MTA): loopback address or localhost."""
    if host.lower() in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def probe_relay(relay: Relay, timeout: float) -> list[Check]:
    """Checks for one relay; never sends a message."""
    client = aiosmtplib.SMTP(hostname=relay.host, port=relay.port, use_tls=relay.use_tls, start_tls=False,
                             timeout=timeout)
    name = relay.name
    try:
        await client.connect()
        await client.ehlo()
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        client.close()
        return [error(SECTION, f"{name} connect", f"cannot open an SMTP session with {name}: "
                      f"{_reason(exc)}", f"check {relay.setting}.host and port"
                      + (f" and {relay.setting}.use_tls" if relay.use_tls else ""))]
    greeting = client.last_ehlo_response.message.splitlines()[0] if client.last_ehlo_response else ""
    checks = [ok(SECTION, f"{name} connect", f"EHLO answered: {greeting}")]
    try:
        encrypted, tls = await _tls(client, relay)
        checks.append(tls)
        checks.append(await _auth(client, relay, encrypted))
        await client.quit()
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        checks.append(error(SECTION, f"{name} session", f"{name} broke off the session: {_reason(exc)}",
                            "look at the relay's log"))
    finally:
        client.close()
    return checks


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"its certificate is not trusted ({exc.verify_message})"
    return str(exc) or type(exc).__name__


async def _tls(client: aiosmtplib.SMTP, relay: Relay) -> tuple[bool, Check]:
    name = f"{relay.name} TLS"
    if relay.use_tls:
        return True, ok(SECTION, name, "TLS from the first byte (use_tls)")
    if not client.supports_extension("starttls"):
        if relay.starttls:
            return False, error(SECTION, name, f"{relay.name} does not offer STARTTLS, which "
                                f"{relay.setting}.starttls demands: every send fails",
                                "use the relay's submission port (587), or use_tls on 465")
        if is_local(relay.host):
            return False, warn(SECTION, name, "no STARTTLS offered: mail crosses in clear (on this machine)",
                               "fine for a sink or a local MTA; a relay elsewhere must offer STARTTLS")
        return False, error(SECTION, name, f"{relay.name} offers no STARTTLS: mail and login cross the "
                            "network in clear", f"use the relay's submission port (587) with "
                            f"{relay.setting}.starttls: true, or 465 with {relay.setting}.use_tls: true")
    try:
        await client.starttls()
        await client.ehlo()
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        return False, error(SECTION, name, f"STARTTLS with {relay.name} failed: {_reason(exc)}",
                            "the relay needs a certificate valid for its host name (or its CA in "
                            "SSL_CERT_FILE)")
    if not relay.starttls:
        return True, warn(SECTION, name, "STARTTLS works, but the settings do not demand it: sending stays "
                          "in clear", f"set {relay.setting}.starttls: true")
    return True, ok(SECTION, name, "STARTTLS offered and working")


async def _auth(client: aiosmtplib.SMTP, relay: Relay, encrypted: bool) -> Check:
    name = f"{relay.name} AUTH"
    if relay.username is None:
        offered = "offers AUTH" if client.supports_extension("auth") else "offers no AUTH"
        return ok(SECTION, name, f"no login configured ({relay.name} {offered})")
    if not encrypted and not relay.allow_plaintext_auth:
        return error(SECTION, name, "a login is configured but the connection is not encrypted: edm refuses "
                     "to send the password in clear", f"set {relay.setting}.starttls: true")
    methods = client.supported_auth_methods
    if not methods:
        return error(SECTION, name, f"{relay.name} offers no AUTH method edm speaks "
                     f"({', '.join(client.server_auth_methods) or 'none'})", "check the relay's port")
    method = getattr(client, "auth_" + methods[0].replace("-", ""))
    try:
        await method(relay.username, relay.password or "")
    except aiosmtplib.SMTPAuthenticationError as exc:
        return error(SECTION, name, f"{relay.name} refused the login for {relay.username!r}: {exc.code} "
                     f"{exc.message}", f"check {relay.credentials}")
    return ok(SECTION, name, f"login accepted for {relay.username!r} ({methods[0]})")


__all__ = ["is_local", "probe_relay"]
