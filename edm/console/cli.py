"""`edm users ...` and `edm console`: the console's commands, added to the `edm` group by edm.cli."""

from __future__ import annotations

import os

import click

from edm.cli import with_settings
from edm.clock import SystemClock
from edm.config import Settings

# for scripts; otherwise the password is asked for with a hidden prompt
PASSWORD_ENV = "EDM_USER_PASSWORD"  # noqa: S105 - the variable's name, not a password


@click.group()
def users() -> None:
    """Who may sign in to the web console (`edm console`), with which role."""


@users.command(name="add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["admin", "marketer", "analyst", "manager"]),
              help="admin, marketer: approve, pause, resume; analyst: read only; "
                   "manager: their customers only.")
@click.option("--email", help="A manager's email: their customers are those with this account_manager_email.")
@with_settings
def users_add(name: str, role: str, email: str | None, settings: Settings) -> None:
    """Add a console user; the password is asked for (hidden), or read from EDM_USER_PASSWORD.

    Example: edm users add li.wei --role marketer
    """
    from edm.console.users import add_user
    from edm.runner import open_store

    password = os.environ.get(PASSWORD_ENV) or click.prompt("password", hide_input=True,
                                                            confirmation_prompt=True)
    sessions = open_store(settings)
    with sessions.begin() as session:
        user = add_user(session, name, role, password, SystemClock().now(), email)
    click.echo(f"added {user.name} ({user.role}" + (f", {user.email})" if user.email else ")"))


@users.command(name="list")
@with_settings
def users_list(settings: Settings) -> None:
    """Every console user: role, email, created, disabled.

    Example: edm users list
    """
    from edm.console.users import list_users
    from edm.runner import open_store

    with open_store(settings)() as session:
        found = list_users(session)
    if not found:
        click.echo("no users yet: edm users add NAME --role admin")
    for user in found:
        state = f"disabled {user.disabled_at:%Y-%m-%d}" if user.disabled_at else "active"
        click.echo(f"{user.name}\t{user.role}\t{user.email or '-'}\t"
                   f"created {user.created_at:%Y-%m-%d}\t{state}")


@users.command(name="disable")
@click.argument("name")
@with_settings
def users_disable(name: str, settings: Settings) -> None:
    """Stop a user signing in; their open sessions end with their next request.

    Example: edm users disable li.wei
    """
    from edm.console.users import disable_user
    from edm.runner import open_store

    with open_store(settings).begin() as session:
        user = disable_user(session, name, SystemClock().now())
    click.echo(f"disabled {user.name}")


@click.command(name="console")
@click.option("--host", help="Interface to listen on (default: console.host from settings).")
@click.option("--port", type=int, help="Port (default: console.port from settings).")
@with_settings
def console(host: str | None, port: int | None, settings: Settings) -> None:
    """Serve the web console until interrupted: today's sending, campaigns (approve, pause, resume),
    customers. Needs EDM_SECRET_KEY (sessions are signed with it) and a user (`edm users add`).

    Example: EDM_SECRET_KEY=... edm console
    """
    from edm.console.app import create_console_app
    from edm.runner import open_store
    from edm.tracking import serve_forever

    settings.signing_keys()  # no key, or a weak one: stop before the store is touched
    app = create_console_app(open_store(settings), settings, SystemClock())
    where = host or settings.console.host
    click.echo(f"console at {settings.console.base_url} "
               f"(listening on {where}:{port or settings.console.port})")
    serve_forever(app, where, port or settings.console.port,
                  forwarded_allow_ips=settings.console.forwarded_allow_ips)
