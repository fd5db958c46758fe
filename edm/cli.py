"""The `edm` command line: thin commands that parse, call one library function, report.

Errors users can cause (`EdmError`) are printed without a traceback and exit 1.
"""

from __future__ import annotations

import asyncio
import functools
import io
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from edm import __version__, wording
from edm.clock import SystemClock
from edm.config import Settings, default_settings, load_settings
from edm.errors import EdmError

if TYPE_CHECKING:
    from rich.table import Table
    from sqlalchemy.orm import Session, sessionmaker
    from starlette.routing import Route

    from edm.alerts.digest import DigestSummary
    from edm.campaigns.planner import PlanResult
    from edm.campaigns.schema import Campaign
    from edm.consent.status import ConsentView
    from edm.customers import ClassificationSummary, ImportResult
    from edm.customers.card import CustomerCard
    from edm.delivery.sender import SendSummary, Until
    from edm.runner import RunReport

F = TypeVar("F", bound=Callable[..., Any])
WIDTH = 100
# exit status of the commands that send (campaign run, send, worker); docs/operator.md "Exit status"
EXIT_FAILED = 2  # some rows failed in this run: ours to fix, then `edm send --retry-failed`
EXIT_RELAY_UNREACHABLE = 3  # `edm send`, `campaign run`: no relay reachable, the rest deferred
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": WIDTH}


class EdmGroup(click.Group):
    """Turns every `EdmError` raised by a command into a clean message and exit code 1; so too a database
    failing under it (disk full, read-only, unreachable: `edm.store.faults`), naming the database."""

    def invoke(self, ctx: click.Context) -> Any:
        from edm.store.faults import is_store_fault, store_error

        try:
            return super().invoke(ctx)
        except EdmError as exc:
            raise click.ClickException(str(exc)) from exc
        except Exception as exc:
            if not is_store_fault(exc):
                raise
            raise click.ClickException(str(store_error(exc, ctx.meta.get(DATABASE_URL)))) from exc


DATABASE_URL = "edm.database_url"  # ctx.meta key: the store a command uses, for error messages


def with_settings(command: F) -> F:
    """Adds `--config` and passes the working folder's `Settings` as `settings`.

    The settings file is --config, else EDM_CONFIG, else the nearest `edm.yaml` here or above;
    without one the command stops (it never falls back to the installed package). The database
    used is printed (password masked) on standard error before the command runs.
    """

    @click.option(
        "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), envvar="EDM_CONFIG",
        help="Settings file (default: edm.yaml in this folder or the nearest one above). Env: EDM_CONFIG.",
    )
    @functools.wraps(command)
    def wrapper(*args: Any, config_path: Path | None, **kwargs: Any) -> Any:
        from edm.config import find_settings_file
        from edm.store.faults import mask_url

        context = click.get_current_context()
        path = find_settings_file(config_path)
        context.params["config_path"] = path  # the daemon starts its workers on the same file
        settings = load_settings(path)
        context.meta[DATABASE_URL] = settings.database_url
        click.echo(f"database: {mask_url(settings.database_url)}", err=True)
        return command(*args, settings=settings, **kwargs)

    return wrapper  # type: ignore[return-value]


@click.group(cls=EdmGroup, context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="edm")
def main() -> None:
    """Email marketing that keeps old customers: classify, greet, re-engage, win back, measure.

    Start with `edm demo`, or `edm init` to make a working folder of your own.
    """


@main.command()
@click.argument("folder", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--profile", type=click.Choice(["default", "cn"]), default="default", show_default=True,
              help="Settings for where you mail. cn: subjects of marketing mail start with 【广告】 / AD "
                   "(compliance.mark_ads), customers without a locale or time zone are zh-Hans in "
                   "Asia/Shanghai, schedules and digests in Beijing time and Chinese (docs/compliance.md).")
def init(folder: Path, profile: str) -> None:
    """Create a working folder: settings, example campaigns and a SQLite database.

    Example: edm init acme && cd acme && edm import customers customers.csv
    (a company in mainland China: edm init --profile cn acme)
    """
    from edm.config import MAKE_KEY
    from edm.runner import initialise_folder
    from edm.store.faults import mask_url

    settings = initialise_folder(folder, profile=profile)
    click.echo(f"Working folder ready: {folder.resolve()}")
    click.echo(f"  settings   {folder / 'edm.yaml'}")
    click.echo(f"  campaigns  {settings.campaigns_dir}")
    click.echo(f"  database   {mask_url(settings.database_url)}")
    click.echo(f"Next: set EDM_SECRET_KEY (make one: {MAKE_KEY}), then, in this folder or below: "
               "edm import customers FILE; edm import orders FILE; edm classify")


class _DemoHelp(click.Command):
    """The demo's help ends with what it sends, read from the bundled campaign files."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from edm.demo import describe_run
        from edm.resources import bundled_config_dir

        with formatter.section("What it sends"):
            formatter.write_text(describe_run(bundled_config_dir() / "campaigns"))


@main.command(cls=_DemoHelp)
@click.option("--dir", "folder", default="edm-demo", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Working folder (recreated).")
@click.option("--customers", default=360, show_default=True, type=click.IntRange(50, 100_000),
              help="How many sample customers to generate.")
@click.option("--console/--no-console", default=None,
              help="At the end, serve the web console over the demo (its day, a throwaway `demo` user) "
                   "until Ctrl-C. Default: only when run in a terminal (stdin and stdout); otherwise it "
                   "prints how to serve it later.")
def demo(folder: Path, customers: int, console: bool | None) -> None:
    """Run the whole product once on embedded defaults, with nothing else installed.

    Imports sample customers, classifies them, sends the bundled campaigns (below) to a local SMTP
    sink, holding part of each marketing and greeting audience out, simulates recipients over
    HTTP, adapts contact intervals, simulates a month of orders after the mail, writes a report
    and says what worked: each campaign's order rate, mailed against its holdout. Then it serves
    the web console over it (in a terminal; --console / --no-console to choose).

    Example: edm demo --dir /tmp/edm-demo
    """
    import sys

    from edm.console.demo import later_console, serve_demo_console
    from edm.demo import run_demo

    done = run_demo(folder, customers=customers, echo=click.echo)
    if console is None:
        console = sys.stdin.isatty() and sys.stdout.isatty()
    if console:
        serve_demo_console(done.settings, done.sessions, done.clock, click.echo)
    else:
        click.echo(later_console(folder))


class _ImportHelp(click.Group):
    """The import group's help ends with the accepted date spellings and encodings, from the code."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from edm.customers.checks import KINDS
        from edm.customers.fields import DATE_SPELLINGS

        for name in KINDS:
            with formatter.section(f"Columns of {name} files"):
                formatter.write_dl(_columns(name))
        with formatter.section("Dates and times (imports.date_format: auto, dmy, mdy or a strptime pattern)"):
            formatter.write_dl(list(DATE_SPELLINGS))
        with formatter.section("CSV encodings (--encoding NAME or imports.encoding; default auto)"):
            formatter.write_text("auto detects a byte-order mark (UTF-8, UTF-16 LE/BE), else UTF-8, else "
                                 "GB18030 (GBK, GB2312) or Big5 (cp950); any Python codec name may be given. "
                                 "Bytes not valid in the encoding stop the import, naming the row.")


class _ImportCommand(click.Command):
    """An import command's help ends with the columns its kind of file takes, from the code."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Columns (match ignoring case; map your own headers under imports.columns)"):
            formatter.write_dl(_columns(self.name or ""))
        super().format_epilog(ctx, formatter)


def _columns(name: str) -> list[tuple[str, str]]:
    """The columns a kind of import file takes, as checks.KINDS defines them."""
    from edm.customers.checks import KINDS
    from edm.customers.importer import import_kind

    kind = KINDS[import_kind(name)]
    rows = [("required", ", ".join(kind.required)), ("optional", ", ".join(kind.optional))]
    if kind.one_of:
        rows.append(("at least one of", ", ".join(kind.one_of)))
    if kind.attributes:
        rows.append(("custom", "attr.<name>: any number of custom attributes"))
    return rows


@main.group(name="import", cls=_ImportHelp)
def import_group() -> None:
    """Import customers, orders, share-of-wallet estimates and contacts from CSV or XLSX files.

    Re-importing a file changes nothing; an updated file updates. If any row is bad nothing is
    written (or, with --skip-invalid, the bad rows go to a rejects file). Map your own column
    headers to edm's fields under `imports.columns` in edm.yaml. CSV files saved by Excel on
    Chinese Windows (GBK, Big5) and dates like 2024/3/5 or 2024年3月5日 are read as they are.
    Each command's --help lists its columns.
    """


def _encoding_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    import codecs

    if value is not None and value != "auto":
        try:
            codecs.lookup(value)
        except LookupError:
            raise click.BadParameter(f"unknown encoding {value!r}; use e.g. gb18030, big5, utf-8") from None
    return None if value == "auto" else value


def import_options(command: F) -> F:
    """FILE, --encoding, --skip-invalid, --rejects and --config, shared by every import command."""
    command = click.option(
        "--rejects", type=click.Path(dir_okay=False, path_type=Path),
        help="Where --skip-invalid writes the rejected rows (default: beside FILE, as NAME.rejects.csv).",
    )(command)
    command = click.option(
        "--skip-invalid", is_flag=True,
        help="Import the good rows; write the bad ones, with row, column and reason, to a rejects file.",
    )(command)
    command = click.option(
        "--encoding", metavar="NAME", callback=_encoding_name,
        help="The CSV file's encoding, e.g. gb18030, gbk, big5, utf-16, utf-8 (default: imports.encoding, "
             "auto: detected).",
    )(command)
    command = click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))(command)
    return with_settings(command)


@import_group.command(name="customers", cls=_ImportCommand)
@import_options
def import_customers_command(file: Path, encoding: str | None, skip_invalid: bool, rejects: Path | None,
                             settings: Settings) -> None:
    """Import customers, matched by external_id; kind is company or person.

    Example: edm import customers customers.csv
    """
    _run_import("customers", file, encoding, skip_invalid, rejects, settings)


@import_group.command(name="orders", cls=_ImportCommand)
@import_options
def import_orders_command(file: Path, encoding: str | None, skip_invalid: bool, rejects: Path | None,
                          settings: Settings) -> None:
    """Import orders, matched by external_id (import the customers first).

    margin is amount minus cost: give either (or both, agreeing).

    Example: edm import orders orders.xlsx --skip-invalid
    """
    _run_import("orders", file, encoding, skip_invalid, rejects, settings)


@import_group.command(name="wallet", cls=_ImportCommand)
@import_options
def import_wallet_command(file: Path, encoding: str | None, skip_invalid: bool, rejects: Path | None,
                          settings: Settings) -> None:
    """Import share-of-wallet estimates, one per customer.

    share is 0.35 or 35%; category_spend is the customer's yearly spend in our category;
    estimated_on defaults to today.

    Example: edm import wallet wallet.csv
    """
    _run_import("wallet", file, encoding, skip_invalid, rejects, settings)


@import_group.command(name="contacts", cls=_ImportCommand)
@import_options
def import_contacts_command(file: Path, encoding: str | None, skip_invalid: bool, rejects: Path | None,
                            settings: Settings) -> None:
    """Import contacts at customer companies, matched by customer and email.

    Example: edm import contacts contacts.csv --skip-invalid --rejects bad-contacts.csv
    """
    _run_import("contacts", file, encoding, skip_invalid, rejects, settings)


def _run_import(kind: str, file: Path, encoding: str | None, skip_invalid: bool, rejects: Path | None,
                settings: Settings) -> None:
    """Import with a progress line (rows and rows/s) on a terminal's stderr, then one summary line."""
    import time

    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from edm.consent.imported import lookup_keys
    from edm.customers.importer import import_file, import_kind
    from edm.runner import open_store

    if rejects is not None and not skip_invalid:
        raise click.UsageError("--rejects names the file --skip-invalid writes; pass --skip-invalid too")
    sessions = open_store(settings)
    console = Console(stderr=True)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.fields[done]}"),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(f"importing {file.name}", total=None, done="")
        started = time.monotonic()

        def progress(rows: int) -> None:
            rate = rows / max(time.monotonic() - started, 1e-6)
            bar.update(task, done=f"{rows:,} rows, {rate:,.0f} rows/s")

        result = import_file(sessions, import_kind(kind), file, SystemClock(), settings=settings.imports,
                             skip_invalid=skip_invalid, rejects=rejects, progress=progress,
                             encoding=encoding, keys=lookup_keys(settings))
    click.echo(format_import(file, result))


def format_import(file: Path, result: ImportResult) -> str:
    line = (f"{file}: {wording.count(result.rows, 'row')}, {result.inserted:,} new, "
            f"{result.updated:,} updated, {result.unchanged:,} unchanged")
    if result.rejected:
        line += f", {result.rejected:,} rejected (see {result.rejects_path})"
    if result.encoding:
        line += f"; read as {result.encoding}"
    if result.shared is not None:
        line += "\n" + result.shared.warning()
    return line


@main.group()
def db() -> None:
    """The database schema."""


@db.command()
@with_settings
def upgrade(settings: Settings) -> None:
    """Migrate the database to the newest schema, keeping its data (a new one is created).

    Example: EDM_DATABASE_URL=postgresql+psycopg://edm@db/edm edm db upgrade
    """
    from edm.store import make_engine
    from edm.store.migrate import upgrade_schema

    version = upgrade_schema(make_engine(settings.database_url))
    click.echo(f"{settings.database_url.split('@')[-1]}: at version {version}")


@main.command()
@click.option("--full", is_flag=True,
              help="Recompute even when nothing it reads changed since the last run today.")
@with_settings
def classify(settings: Settings, full: bool) -> None:
    """Recompute every customer's classes in all nine dimensions, and the churn risk.

    Prints customers per class and how many moved since the last run. A second run on the same
    day, when no order, customer, wallet estimate, open, click or survey answer changed, keeps
    the profiles (on SQLite; PostgreSQL always recomputes).

    Example: edm classify
    """
    from edm.customers import recompute_profiles
    from edm.runner import open_store

    summary = recompute_profiles(open_store(settings), settings.classification, SystemClock(), full=full)
    click.echo(render(classification_table(summary)), nl=False)


def format_classification(summary: ClassificationSummary) -> str:
    """Two short lines (value tier, lifecycle stage) for progress output such as the demo's."""
    counts = summary.counts
    tiers = ", ".join(f"{name} {n}" for name, n in counts["value_tier"].items())
    stages = ", ".join(f"{name} {n}" for name, n in counts["lifecycle_stage"].items() if n)
    return (f"{wording.count(summary.total, 'customer')} ({summary.customers_moved:,} moved)\n"
            f"  value tier: {tiers}\n  lifecycle:  {stages}")


def classification_table(summary: ClassificationSummary) -> Table:
    from rich.table import Table

    table = Table(
        title=f"{summary.total:,} customers classified at {summary.computed_at:%Y-%m-%d %H:%M} UTC",
        caption=(
            f"{summary.customers_moved:,} moved since the last run; "
            f"{summary.first_profiles:,} classified for the first time"
        ),
    )
    if summary.kept_since is not None:
        table.caption = (f"nothing read changed since the run at {summary.kept_since:%Y-%m-%d %H:%M} UTC: "
                         "profiles kept (--full recomputes)")
    for header, justify in (("dimension", "left"), ("class", "left"), ("customers", "right"),
                            ("share", "right"), ("moved in", "right")):
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    for dimension, counts in summary.counts.items():
        for index, (name, count) in enumerate(counts.items()):
            share = f"{count / summary.total:.1%}" if summary.total else "-"
            moved_in = summary.moved_into.get(dimension, {}).get(name, 0)
            table.add_row(dimension if index == 0 else "", name, f"{count:,}", share, f"{moved_in:,}",
                          end_section=index == len(counts) - 1)
    churn, spend = summary.models.churn, summary.models.spend
    if churn is not None:
        table.caption = (f"{table.caption}\nchurn model ({churn.name}, weeks): r={churn.r:.3g} "
                         f"alpha={churn.alpha:.3g} a={churn.a:.3g} b={churn.b:.3g}")
    if spend is not None:
        table.caption = (f"{table.caption}\nspend model (Gamma-Gamma): p={spend.p:.3g} q={spend.q:.3g} "
                         f"gamma={spend.gamma:.3g}")
    return table


@main.group()
def customers() -> None:
    """Look at individual customers."""


@customers.command()
@click.argument("customer_id")
@with_settings
def show(customer_id: str, settings: Settings) -> None:
    """One customer's profile: consent (may marketing go now, else why not), every class with its reason,
    churn risk, recent moves.

    CUSTOMER_ID is the id from your CRM (external_id) or edm's internal number.

    Example: edm customers show C-1042
    """
    from edm.customers.card import customer_card
    from edm.runner import open_store

    card = customer_card(open_store(settings), customer_id, settings.classification, settings.engagement,
                         consent=settings.consent)
    click.echo(render(*card_tables(card)), nl=False)


@customers.command(name="export")
@click.argument("customer_id")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="The zip to write (default: edm-export-<internal id>.zip here).")
@click.option("--actor", help="Who asks, for the audit log (default: the OS user).")
@with_settings
def customers_export(customer_id: str, out: Path | None, actor: str | None, settings: Settings) -> None:
    """Everything held about one customer, as a zip of JSON and CSV with a README in their language.

    Records, contacts, consent and its history, classes and their changes, orders, every mail, every
    open and click, survey answers, custom events. The export is written to the audit log.

    Example: edm customers export C-1042 --out c-1042.zip
    """
    from edm.privacy import who_runs_this
    from edm.privacy.service import export_request
    from edm.runner import open_store

    number, data = export_request(settings, open_store(settings), customer_id, actor or who_runs_this(),
                                  datetime.now(UTC))
    target = out or Path(f"edm-export-{number}.zip")
    target.write_bytes(data)
    click.echo(f"customer #{number}: {target} ({len(data):,} bytes)")


@customers.command(name="erase")
@click.argument("customer_id")
@click.option("--yes", is_flag=True, help="Do not ask (for scripts).")
@click.option("--actor", help="Who asks, for the audit log (default: the OS user).")
@with_settings
def customers_erase(customer_id: str, yes: bool, actor: str | None, settings: Settings) -> None:
    """Forget one customer: their personal data goes everywhere, anonymous figures stay for reports.

    Contacts, consents, sign-ups and suppressions of their mailboxes are deleted; mails, events and
    survey scores are kept without address, URL, user agent or comment; their addresses are kept only
    as keyed hashes, so a later import of them is held until new consent. Cannot be undone.

    Example: edm customers erase C-1042 --yes
    """
    from edm.privacy import who_runs_this
    from edm.privacy.export import find_customer
    from edm.privacy.service import erase_request
    from edm.runner import open_store

    sessions = open_store(settings)
    with sessions() as session:
        found = find_customer(session, customer_id)
        named = f"{found.name} <{found.email}> ({found.external_id}, #{found.id})"
    if not yes and not click.confirm(f"Erase {named}? This cannot be undone", default=False):
        click.echo("nothing erased")
        return
    result = erase_request(settings, sessions, customer_id, actor or who_runs_this(), datetime.now(UTC))
    n = wording.count
    click.echo(f"customer #{result.customer_id} erased: {n(result.mailboxes, 'mailbox', 'mailboxes')} "
               f"forgotten, {n(result.contacts, 'contact')} deleted, {n(result.mails, 'mail')} and "
               f"{n(result.events, 'event')} anonymised, {n(result.cancelled, 'unsent mail')} cancelled, "
               f"{n(result.mail_files, 'stored message')} deleted")


def card_tables(card: CustomerCard) -> list[Table | str]:
    from rich.table import Table

    from edm.classes import DIMENSIONS

    customer, profile = card.customer, card.profile
    header = (f"{customer.name} ({customer.external_id}, #{customer.id}) <{customer.email}>\n"
              f"{customer.kind}, industry {customer.industry or '-'}, locale {customer.locale}, "
              f"time zone {customer.timezone}")
    if customer.account_manager or customer.account_manager_email:
        manager = f"{customer.account_manager or ''} <{customer.account_manager_email or '-'}>"
        header += f"\naccount manager {manager}"
    if customer.tags:
        header += f"\ntags {customer.tags}"
    if customer.attributes:
        header += "\n" + ", ".join(f"{name} = {value}" for name, value in sorted(customer.attributes.items()))
    if card.consent is not None:
        header += "\n" + consent_text(card.consent)
    if profile is None:
        return [header, "Not classified yet: run `edm classify`."]
    if profile.satisfaction is not None and profile.surveyed_at is not None:
        scores = ", ".join(f"{name} {score}" for name, score in (("NPS", profile.nps_score),
                                                                   ("CSAT", profile.csat_score))
                           if score is not None)
        trend = f", {profile.satisfaction_trend}" if profile.satisfaction_trend else ""
        header += (f"\nsatisfaction {profile.satisfaction} ({scores}{trend}), "
                   f"last answered {profile.surveyed_at:%Y-%m-%d}")
    classified_at = card.classified_at or profile.computed_at
    classes = Table(title=f"Classes as of {classified_at:%Y-%m-%d %H:%M} UTC")
    classes.add_column("dimension")
    classes.add_column("class")
    classes.add_column("why")
    for dimension, explanation in card.explanations.items():
        stored = getattr(profile, dimension, None)
        reason = explanation.reason
        if dimension == "loyalty" and stored != explanation.value and profile.satisfaction == "detractor":
            reason += f"; but a detractor (latest survey answer) is at most {stored}"
        shown = stored if dimension in DIMENSIONS else None  # a figure reads as explained: 7,560.27
        classes.add_row(dimension, str(shown or explanation.value), reason)
    moves = Table(title="Recent moves")
    for column in ("when (UTC)", "dimension", "from", "to"):
        moves.add_column(column)
    for move in card.transitions:
        moves.add_row(f"{move.computed_at:%Y-%m-%d %H:%M}", move.dimension, move.old or "-", move.new)
    if not card.transitions:
        moves.add_row("-", "no class changes recorded", "", "")
    engagement = Table(title="Engagement and contact frequency")
    for column in ("", "now", "why"):
        engagement.add_column(column)
    for what, value, why in card.engagement:
        engagement.add_row(what, value, why)
    return [header, classes, moves, engagement] if card.engagement else [header, classes, moves]


def consent_text(consent: ConsentView) -> str:
    """The card's consent lines: as recorded, and whether marketing may be sent now (else why not)."""
    if consent.recorded:
        wording = f", wording {consent.wording_version}" if consent.wording_version else ""
        when = f"{consent.recorded_at:%Y-%m-%d}" if consent.recorded_at else "-"
        recorded = f"consent {consent.basis}, {consent.status}, from {consent.source}, {when}{wording}"
    else:
        recorded = "consent: none recorded (existing_customer: the customer relationship)"
    may = ("marketing may be sent now: " + consent.standing.why if consent.marketing_held is None
           else "marketing may not be sent now: " + consent.marketing_held)
    return f"{recorded}\n{may}"


def render(*parts: Any) -> str:
    """Rich renderables as plain text at a fixed width, so output is the same in a pipe and in tests."""
    from rich.console import Console

    console = Console(width=WIDTH, record=True, file=io.StringIO(), color_system=None)
    for part in parts:
        console.print(part)
    return console.export_text()


@main.group()
def campaign() -> None:
    """Check and run campaigns defined in YAML."""


@campaign.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), envvar="EDM_CONFIG",
    help="Settings file whose store lends real customers to render for (default: ./edm.yaml if any). "
         "Env: EDM_CONFIG.",
)
def validate(files: tuple[Path, ...], config_path: Path | None) -> None:
    """Check campaign files, and render every message each can send (each template, language,
    variant, step and subject) for sample customers; errors name the file, line and field.

    Example: edm campaign validate campaigns/*.yaml
    """
    from edm.campaigns.check import Checker
    from edm.campaigns.loader import describe_problems, load_campaign
    from edm.campaigns.schema import kind_note
    from edm.errors import CampaignError
    from edm.runner import store_samples, store_sessions
    from edm.yamlfile import load_yaml

    settings = load_settings(config_path) if config_path or Path("edm.yaml").exists() else None
    checker = Checker(sender=settings.sender if settings else None,
                      brand=settings.brand if settings else None,
                      topics=(settings or default_settings()).topics)
    sessions = store_sessions(settings) if settings else None
    samples = store_samples(sessions) if sessions else []
    now = datetime.now(UTC)
    problems: list[str] = []
    for path in files:
        try:
            loaded = load_campaign(path)
        except EdmError as exc:
            problems.append(str(exc))
            continue
        found = checker.check(loaded.campaign, samples, now)
        for warning in checker.warnings(loaded.campaign):
            click.echo(f"{path}: warning: {warning}", err=True)
        if found:
            problems.extend(describe_problems(loaded, found))
        else:
            raw, _ = load_yaml(path, CampaignError)
            note = kind_note(raw.get("kind")) if isinstance(raw, dict) else None
            click.echo(f"{path}: ok ({loaded.campaign.name})" + (f"; note: {note}" if note else ""))
    if problems:
        raise click.ClickException("\n".join(problems))


@campaign.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the schema here instead of to standard output.")
@click.option("--format", "fmt", type=click.Choice(["json", "markdown"]), default="json", show_default=True,
              help="JSON Schema for editors, or the Markdown reference (docs/campaigns.md).")
def schema(out: Path | None, fmt: str) -> None:
    """The JSON Schema of campaign files, for editors that autocomplete and check YAML.

    Example: edm campaign schema --out campaign.schema.json, then in VS Code's YAML
    extension map campaigns/*.yaml to it (yaml.schemas).
    """
    from edm.campaigns.reference import campaign_reference
    from edm.campaigns.schema import campaign_json_schema

    if fmt == "markdown":
        text = campaign_reference()
    else:
        text = json.dumps(campaign_json_schema(), indent=2, ensure_ascii=False) + "\n"
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}")


@campaign.command()
@click.option("--date", "on", type=click.DateTime(["%Y-%m-%d"]), help="The day to check (default: today).")
@with_settings
def due(on: datetime | None, settings: Settings) -> None:
    """Which campaigns fire on a day (by schedule or holiday), and when each fires next.

    Example: edm campaign due --date 2027-02-03
    """
    from edm.campaigns.labels import named
    from edm.campaigns.loader import read_campaigns
    from edm.campaigns.triggers import due_on, next_due

    day = on.date() if on else datetime.now(UTC).date()
    folder = read_campaigns(settings.campaigns_dir)
    for problem in folder.problems:
        click.echo(f"skipped, does not load: {problem}", err=True)
    for name, loaded in sorted(folder.files.items()):
        campaign = loaded.campaign
        upcoming = next_due(campaign, day)
        state = "due" if due_on(campaign, day) else "not due"
        following = upcoming or "not within 400 days"
        label = named(name, campaign.title, settings.alerts.language)
        click.echo(f"{label}: {state} on {day}; next {following} ({trigger_text(campaign)})")


@campaign.command()
@click.argument("name", required=False)
@click.option("--bulk", is_flag=True,
              help="Resume bulk sending (all mail but service mail), paused as a whole.")
@with_settings
def resume(name: str | None, bulk: bool, settings: Settings) -> None:
    """Lift an automatic pause (deliverability.*): the campaign's queued mail goes out with the next
    `edm send` or worker. Its bounce and complaint window starts afresh now.

    Example: edm campaign resume spring_sale
    """
    from edm.delivery.health import BULK, campaign_scope, describe_scope
    from edm.delivery.holds import resume as lift
    from edm.delivery.holds import waiting
    from edm.runner import open_store

    if bool(name) == bulk:
        raise click.UsageError("name one campaign, or pass --bulk")
    scope = BULK if bulk else campaign_scope(name or "")
    sessions = open_store(settings)
    with sessions.begin() as session:
        lifted = lift(session, scope, SystemClock().now())
        pending = waiting(session, None if bulk else [name or ""])
    if lifted is None:
        raise click.ClickException(f"{describe_scope(scope)} is not paused (see `edm campaign paused`)")
    count = sum(pending.values())
    click.echo(f"resumed {describe_scope(scope)} (paused {lifted.paused_at:%Y-%m-%d %H:%M} UTC: "
               f"{lifted.reason}); {count} message(s) waiting: `edm send` (or the workers) sends them")


@campaign.command()
@with_settings
def paused(settings: Settings) -> None:
    """Campaigns (or bulk mail) paused for their bounce or complaint rate, why, and what waits.

    Example: edm campaign paused
    """
    from edm.delivery.health import BULK, CAMPAIGN_PREFIX, describe_scope
    from edm.delivery.holds import pauses, waiting
    from edm.runner import open_store

    with open_store(settings)() as session:
        found = pauses(session)
        pending = waiting(session)
    if not found:
        click.echo("nothing is paused")
        return
    for held in found:
        if held.scope == BULK:
            count, how = sum(pending.values()), "edm campaign resume --bulk"
        else:
            name = held.scope[len(CAMPAIGN_PREFIX):]
            count, how = pending.get(name, 0), f"edm campaign resume {name}"
        click.echo(f"{describe_scope(held.scope)}: paused {held.paused_at:%Y-%m-%d %H:%M} UTC: "
                   f"{held.reason}; {count} waiting; `{how}` once the list is cleaned")


def report_holds(summary: SendSummary) -> None:
    """On stderr: what this run paused, and what is still held back (paused, or over a warm-up cap)."""
    from edm.delivery.health import BULK, CAMPAIGN_PREFIX, describe_scope

    for held in summary.held:
        how = ("edm campaign resume --bulk" if held.scope == BULK
               else f"edm campaign resume {held.scope[len(CAMPAIGN_PREFIX):]}")
        new = "paused" if any(p.scope == held.scope for p in summary.paused) else "still paused"
        click.echo(f"{describe_scope(held.scope)} {new}: {held.reason}; its mail stays queued: "
                   f"`{how}` once the list is cleaned", err=True)
    if summary.capped:
        caps = ", ".join(f"{provider} {cap}" for provider, cap in sorted(summary.capped.items()))
        click.echo(f"warm-up: today's cap reached for {caps}; the rest goes on the following days", err=True)


def campaign_namer(settings: Settings) -> Callable[[str], str]:
    """How the CLI names a campaign to people: its `title` in `alerts.language` (the team's language,
    as in digests) with the name to type, "Spring Festival greeting (spring_festival)"; a campaign
    without a title, or whose file does not load, by its name."""
    from edm.campaigns.labels import named
    from edm.campaigns.loader import read_campaigns

    folder = settings.campaigns_dir
    files = read_campaigns(folder).files if folder.is_dir() else {}
    titles = {name: loaded.campaign.title for name, loaded in files.items()}
    return lambda name: named(name, titles.get(name), settings.alerts.language)


def trigger_text(campaign: Campaign) -> str:
    """What sets the campaign off, in English (edm.campaigns.labels: every trigger kind)."""
    from edm.campaigns.labels import trigger_label

    return trigger_label(campaign)


@campaign.command()
@click.argument("name")
@click.option("--date", "on", type=click.DateTime(["%Y-%m-%d"]), help="The day to preview (default: today).")
@with_settings
def preview(name: str, on: datetime | None, settings: Settings) -> None:
    """Who would receive campaign NAME on a day, how they split, and each message as rendered.

    Nothing is queued or sent. Example: edm campaign preview win_back --date 2027-02-03
    """
    from email import message_from_bytes, policy

    from edm.campaigns.labels import named
    from edm.campaigns.loader import read_campaigns
    from edm.campaigns.preview import preview_campaign
    from edm.runner import open_store

    folder = read_campaigns(settings.campaigns_dir)  # another campaign's broken file is no reason to stop
    files = folder.files
    if name not in files:
        found = ", ".join(sorted(files)) or "none"
        broken = "".join(f"\n{problem}" for problem in folder.problems)
        raise EdmError(f"no campaign named {name!r} in {settings.campaigns_dir} (found: {found}){broken}")
    now = datetime.combine(on.date(), datetime.now(UTC).time(), UTC) if on else datetime.now(UTC)
    shown = preview_campaign(settings, open_store(settings), files[name].campaign, now)
    plan = shown.plan
    label = named(name, files[name].campaign.title, settings.alerts.language)
    click.echo(f"{label} on {now.date()}: {'due' if shown.due else 'not due (shown as if run by name)'}")
    click.echo(f"  audience {plan.audience}: would send {plan.queued}, hold out {plan.held_out}, "
               f"already planned {plan.already_planned}, suppressed {plan.suppressed}, "
               f"too soon {plan.too_soon}, busy {plan.busy}, paused {plan.paused}, in sunset {plan.sunset}"
               + (f", no consent {plan.no_consent}" if plan.no_consent else "")
               + (f", holiday not kept in their country {plan.not_observed}" if plan.not_observed else ""))
    for (arm, tier, stage), count in sorted(plan.breakdown.items()):
        click.echo(f"  {arm or '-':>8}  {tier:<7} {stage:<11} {count}")
    for external_id, customer_name, email in shown.customers[:10]:
        click.echo(f"  e.g. {external_id}: {customer_name} <{email}>")
    for arm, locale, composed in shown.messages:
        click.echo(f"\n--- {'variant ' + arm + ', ' if arm else ''}{locale}: {composed.subject}")
        message = message_from_bytes(composed.data, policy=policy.default)
        text = message.get_body(("plain",))
        click.echo((text.get_content() if text is not None else "").strip()[:1200])


@campaign.command()
@click.argument("names", nargs=-1)
@click.option("--all", "run_all", is_flag=True,
              help="Run every campaign due today (by its schedule, holiday or life event).")
@click.option("--dry-run", is_flag=True,
              help="Only show who would receive it (variant, language) and who is held back by which rule; "
                   "queue and send nothing.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write every audience member's decision here as CSV (campaign, step, customer, "
                   "variant, language, send or held, reason, detail).")
@click.option("--i-know", "i_know", is_flag=True,
              help="Send even though `edm doctor` finds an ERROR in DNS or the sender's identity.")
@with_settings
def run(names: tuple[str, ...], run_all: bool, dry_run: bool, out: Path | None, i_know: bool,
        settings: Settings) -> None:
    """Plan campaigns for today and send them. Running twice the same day sends nothing new.

    Named campaigns run now, whether due or not; --all runs what is due today (for cron).
    --dry-run lists, per campaign, the counts per reason (send now, scheduled later, suppressed,
    no consent, too soon, paused, in sunset, holdout, ...) with the first customers of each; --out the
    full list.
    SIGTERM or Ctrl-C stops cleanly (exit 0, the rest stays queued); no relay reachable for
    smtp.give_up_after_seconds: exit 3, the rest deferred to the next run.

    A campaign file that does not load, or whose mail does not render (as `validate` checks),
    is not planned: the others are, and the command then says why and exits 1.

    Example: edm campaign run win_back --dry-run --out win_back.csv

    \b
    Exit status: 0 all sent (or deferred by design: a 4xx to retry, a rate limit; bounced
    addresses are the recipients' problem, not a failure); 1 an error (settings, a relay that
    refused the login); 2 some rows failed (the summary says why); 3 rows deferred, no relay reachable.
    """
    from edm.campaigns.dry_run import DecisionAccount, decision_account
    from edm.runner import open_store, run_campaigns, stop_on_signals

    if not names and not run_all:
        raise click.UsageError("name at least one campaign, or pass --all")
    if not dry_run:
        settings.signing_keys()  # no key, or a weak one: stop before the store is touched
        _require_deliverable(settings, i_know)

    async def plan_and_send(account: DecisionAccount) -> RunReport:
        with stop_on_signals() as stop:  # SIGTERM while planning or sending: a clean stop, exit 0
            return await run_campaigns(settings, open_store(settings), SystemClock(), list(names) or None,
                                       dry_run=dry_run, watch=account, stop=stop)

    with decision_account(out) as account:
        report = asyncio.run(plan_and_send(account))
    for line in format_run(report, account.sends, campaign_namer(settings)):
        click.echo(line)
    if out is not None:
        click.echo(f"wrote {out}")
    if report.problems:
        count = len(report.problems)
        click.echo(f"Error: {count} campaign{'s' * (count != 1)} {'would not be' if dry_run else 'not'} "
                   "planned:\n" + "\n".join(report.problems), err=True)
    if report.delivery is not None:
        report_holds(report.delivery)
        _exit_for_failures(report.delivery)
        _exit_if_unreachable(report.delivery, settings)
    if report.problems:
        click.get_current_context().exit(1)


def format_run(report: RunReport, sends: Mapping[tuple[str, str, str], int] | None = None,
               label: Callable[[str], str] = str) -> list[str]:
    """The run's summary; for a dry run also each reason's count with its first customers, and the
    sends per variant and language (`sends`: (plan, variant, language) -> customers). `label` names
    a campaign (`campaign_namer`: its title with its name)."""
    lines = []
    if report.classification is not None:
        due = "profiles were due, classified " + format_classification(report.classification)
        lines.extend(due.splitlines())
    lines.extend(winner.line for winner in report.winners)
    lines.extend(f"{label(name)}: awaiting approval (approve it in `edm console`); nothing planned"
                 for name in report.awaiting_approval)
    for plan in report.plans:
        lines.append(
            f"{label(plan.campaign)} {plan.occurrence}: audience {plan.audience:,}, queued {plan.queued:,}, "
            f"already planned {plan.already_planned:,}, suppressed {plan.suppressed:,}, "
            f"too soon {plan.too_soon:,}"
            + (f", no consent {plan.no_consent:,}" if plan.no_consent else "")
            + (f", held out {plan.held_out:,}" if plan.held_out else "")
            + (f", mailed today by another campaign {plan.busy:,}" if plan.busy else "")
            + (f", holiday not kept in their country {plan.not_observed:,}" if plan.not_observed else "")
            + (f", paused by the customer {plan.paused:,}" if plan.paused else "")
            + (f", topic turned off {plan.topic_off:,}" if plan.topic_off else "")
            + (f", in sunset {plan.sunset:,}" if plan.sunset else "")
            + (f", left the sequence {plan.exited:,}" if plan.exited else "")
            + (f", of them awaiting the A/B winner {plan.awaiting_winner:,}" if plan.awaiting_winner else "")
        )
        if report.dry_run:
            lines.extend(_decision_lines(plan, sends or {}))
    if report.delivery is not None:
        d = report.delivery
        lines.append(f"sent {d.sent:,}, deferred {d.deferred:,}, bounced {d.bounced:,}, "
                     f"suppressed {d.suppressed:,}, failed {d.failed:,}")
    return lines


def _decision_lines(plan: PlanResult, sends: Mapping[tuple[str, str, str], int]) -> list[str]:
    """`send  due  12  e.g. 4 ann@example.com, ...` per reason, then the sends per variant and language."""
    from edm.campaigns.decisions import SENDING

    lines = []
    for reason, count in sorted(plan.reasons.items(), key=lambda item: (item[0] not in SENDING, item[0])):
        decision = "send" if reason in SENDING else "held"
        shown = ", ".join(f"{customer_id} {email}" for customer_id, email in plan.examples.get(reason, []))
        more = ", ..." if count > len(plan.examples.get(reason, [])) else ""
        lines.append(f"  {decision} {reason.value:<16} {count:>7}  e.g. {shown}{more}")
    for (title, variant, language), count in sorted(sends.items()):
        if title == plan.campaign:
            arm = f"variant {variant}" if variant else "no variant"
            lines.append(f"  send {arm:<24} {language:<8} {count:>7}")
    return lines


@main.command()
@click.option("--no-wait", is_flag=True,
              help="Stop once nothing is due now, instead of waiting for retries and expired claims.")
@click.option("--retry-failed", is_flag=True,
              help="First put the failed messages back in the queue (once), then send as usual.")
@click.option("--campaign", metavar="NAME", help="With --retry-failed: only this campaign's failed messages.")
@click.option("--i-know", "i_know", is_flag=True,
              help="Send even though `edm doctor` finds an ERROR in DNS or the sender's identity.")
@with_settings
def send(no_wait: bool, retry_failed: bool, campaign: str | None, i_know: bool, settings: Settings) -> None:
    """Send the outbox until it is drained, with a progress line (sent/s, deferred, bounced).

    Deferred messages are retried when due, so this waits for them; Ctrl-C (or SIGTERM)
    stops claiming, gives what is on the wire smtp.stop_timeout_seconds and exits 0. With no relay
    reachable for smtp.give_up_after_seconds it stops and exits 3, the rest deferred.
    Relays and limits: smtp.* in edm.yaml.
    After fixing what made messages fail (a template, a relay setting), --retry-failed gives
    them one more chance; what was sent is never sent again.

    Example: EDM_DATABASE_URL=postgresql+psycopg://edm@db/edm edm send

    \b
    Exit status: 0 all sent (or deferred by design: a 4xx to retry, a rate limit; bounced
    addresses are the recipients' problem, not a failure); 1 an error (settings, a relay that
    refused the login); 2 some rows failed (the summary says why); 3 rows deferred, no relay reachable.
    """
    from edm.delivery.sender import Until

    if campaign is not None and not retry_failed:
        raise click.UsageError("--campaign goes with --retry-failed")
    _require_deliverable(settings, i_know)
    if retry_failed:
        _requeue_failed(settings, campaign)
    summary = _sending(settings, Until.NOTHING_DUE if no_wait else Until.DRAINED)
    click.echo(format_delivery(summary))
    report_holds(summary)
    _exit_for_failures(summary)
    _exit_if_unreachable(summary, settings)


def _requeue_failed(settings: Settings, campaign: str | None) -> None:
    from edm.delivery.outbox import retry_failed
    from edm.runner import open_store

    sessions = open_store(settings)
    with sessions.begin() as session:
        count = retry_failed(session, SystemClock().now(), campaign)
    whose = f" of campaign {campaign!r}" if campaign else ""
    click.echo(f"{wording.count(count, 'failed message')}{whose} queued again" if count
               else f"no failed messages{whose}", err=True)


@main.command()
@with_settings
def worker(settings: Settings) -> None:
    """Send continuously: claim due outbox batches, sleep smtp.poll_seconds when idle.

    Run several, on several machines, against one PostgreSQL database: they share the work.
    A relay that is down is waited for. SIGTERM or Ctrl-C stops claiming, gives what is on the
    wire smtp.stop_timeout_seconds, puts the rest back and exits 0, or 2 when messages failed
    while it ran (the summary says why), or 1 on an error (a relay that refused the login).

    Example: EDM_DATABASE_URL=postgresql+psycopg://edm@db/edm edm worker
    """
    import logging

    from edm.delivery.sender import Until

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    summary = _sending(settings, Until.STOPPED)
    click.echo(format_delivery(summary))
    _exit_for_failures(summary)


@main.command()
@with_settings
def daemon(settings: Settings) -> None:
    """Run scheduled work until stopped: plan due campaigns, reclassify nightly, poll bounces,
    mail the weekly report, and keep daemon.workers `edm worker` processes sending.

    Start several against one database: one leads (schedules), the others stand by and take over
    if it dies. /healthz and /metrics on daemon.metrics_port. SIGTERM or Ctrl-C: in-flight sends
    finish (smtp.stop_timeout_seconds), the rest goes back to the queue, then it exits 0 within
    daemon.stop_timeout_seconds. Schedules: daemon.* in edm.yaml.

    Example: EDM_DATABASE_URL=postgresql+psycopg://edm@db/edm EDM_SECRET_KEY=... edm daemon
    """
    import logging

    from edm.daemon import run_daemon, worker_command

    settings.signing_keys()  # no key, or a weak one: stop before leading, planning or starting workers
    _require_deliverable(settings, False)  # deliverability.enforce: false to start anyway
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    config_path = click.get_current_context().params.get("config_path")
    run_daemon(settings, SystemClock(), worker_command=worker_command(config_path))


def _require_deliverable(settings: Settings, i_know: bool) -> None:
    """Refuse to start bulk sending while `edm doctor` has an ERROR in DNS or identity (edm.doctor.gate)."""
    from edm.doctor.gate import require_deliverable

    require_deliverable(settings, i_know=i_know)


@main.command()
@click.option("--nameserver", "nameservers", multiple=True, metavar="IP[:PORT]",
              help="Ask this DNS server (repeatable; default: deliverability.nameservers, else the "
                   "system's).")
@click.option("--sending-ip", "sending_ips", multiple=True, metavar="IP",
              help="An address your mail leaves from, to check SPF and reverse DNS for (repeatable; "
                   "default: the relays' addresses).")
@click.option("--skip", default="", metavar="SECTIONS",
              help="Comma-separated sections not to check: identity, dns, relay, message, rates.")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@with_settings
def doctor(nameservers: tuple[str, ...], sending_ips: tuple[str, ...], skip: str, as_json: bool,
           settings: Settings) -> None:
    """Will mailbox providers accept our mail? OK / WARN / ERROR per check, and how to fix each.

    Checks the sender's identity; DNS (SPF record, its lookups and the sending addresses, the DKIM
    key against the configured one, DMARC and alignment, forward-confirmed reverse DNS, MTA-STS and
    TLS-RPT); each relay (connect, EHLO, STARTTLS, AUTH; no mail is sent); a sample message as
    built (DKIM over the unsubscribe headers, Message-ID, Date, one-click unsubscribe, Return-Path);
    and bounce and complaint rates over the last 7 days against Gmail's lines (0.1%, 0.3%).
    docs/deliverability.md explains each check.

    Example: edm doctor --sending-ip 203.0.113.25 --skip rates

    \b
    Exit status: 0 no ERROR (WARNs allowed); 1 at least one ERROR.
    """
    import ipaddress

    from edm.doctor.report import Status, errors
    from edm.doctor.report import as_json as checks_json
    from edm.doctor.resolver import DnsResolver
    from edm.doctor.run import SECTIONS, run_doctor
    from edm.runner import open_store

    skipped = {part.strip() for part in skip.split(",") if part.strip()}
    unknown = sorted(skipped - set(SECTIONS))
    if unknown:
        raise click.BadParameter(f"unknown section {', '.join(unknown)} (sections: {', '.join(SECTIONS)})",
                                 param_hint="--skip")
    for ip in sending_ips:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise click.BadParameter(f"{ip!r} is not an IP address", param_hint="--sending-ip") from None
    try:
        resolver = DnsResolver(nameservers or settings.deliverability.nameservers)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--nameserver") from None
    sessions = None if "rates" in skipped else open_store(settings)
    checks = run_doctor(settings, resolver, SystemClock().now(), sending_ips=sending_ips, skip=skipped,
                        sessions=sessions)
    if as_json:
        click.echo(checks_json(checks))
    else:
        from rich.table import Table
        from rich.text import Text

        table = Table(show_lines=False, expand=False)
        for column in ("section", "check", "status", "what was found / how to fix"):
            table.add_column(column)
        colours = {Status.OK: "green", Status.WARN: "yellow", Status.ERROR: "red"}
        for check in checks:
            text = check.message + (f"\nfix: {check.fix}" if check.fix else "")
            table.add_row(check.section, Text(check.name), Text(check.status, style=colours[check.status]),
                          Text(text))
        click.echo(render(table))
        counts = {status: sum(check.status is status for check in checks) for status in Status}
        click.echo(", ".join(f"{count} {status}" for status, count in counts.items()))
    if errors(checks):
        click.get_current_context().exit(1)


def _sending(settings: Settings, until: Until) -> SendSummary:
    """Run the sender with a live progress line on a terminal's stderr."""
    import time

    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from edm.runner import run_sender

    console = Console(stderr=True)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.fields[done]}"),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("sending", total=None, done="")
        started = time.monotonic()

        def progress(summary: SendSummary) -> None:
            rate = summary.sent / max(time.monotonic() - started, 1e-6)
            bar.update(task, done=f"{format_delivery(summary)} ({rate:,.0f} sent/s)")

        return asyncio.run(run_sender(settings, SystemClock(), until=until, progress=progress))


def _exit_if_unreachable(summary: SendSummary, settings: Settings) -> None:
    """Exit code 3 when the run gave up on the relays: the unsent rows wait for the next run."""
    if summary.unreachable is None:
        return
    click.echo(f"Error: {summary.unreachable}; gave up (smtp.give_up_after_seconds: "
               f"{settings.smtp.give_up_after_seconds:g}), the rest is deferred to the next run: "
               "check smtp.host and smtp.port, or smtp.relays", err=True)
    raise click.exceptions.Exit(EXIT_RELAY_UNREACHABLE)


def format_delivery(summary: SendSummary) -> str:
    return (f"sent {summary.sent}, deferred {summary.deferred}, bounced {summary.bounced}, "
            f"suppressed {summary.suppressed}, failed {summary.failed}")


def format_failures(summary: SendSummary) -> list[str]:
    """The run's failed rows by reason (most first), and how to give them another chance."""
    if not summary.failed:
        return []
    by_reason: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    for (campaign, reason), count in summary.failures.most_common():
        counts[reason] = counts.get(reason, 0) + count
        by_reason.setdefault(reason, []).append(campaign)
    lines = [f"{summary.failed} failed:"]
    for reason in sorted(counts, key=lambda r: (-counts[r], r)):
        lines.append(f"  {counts[reason]} × {reason} ({', '.join(sorted(by_reason[reason]))})")
    campaigns = sorted({campaign for campaign, _ in summary.failures})
    if len(campaigns) == 1:
        lines.append(f"fix the cause, then run `edm send --retry-failed --campaign {campaigns[0]}`")
    else:
        lines.append("fix the cause, then run `edm send --retry-failed` (or with --campaign NAME for one)")
    return lines


def _exit_for_failures(summary: SendSummary) -> None:
    """Failed rows are ours to fix: say why on stderr and exit EXIT_FAILED."""
    lines = format_failures(summary)
    if lines:
        click.echo("\n".join(lines), err=True)
        click.get_current_context().exit(EXIT_FAILED)


@main.group()
def track() -> None:
    """The tracking server: open pixel, click redirect, unsubscribe and preferences."""


@track.command()
@click.option("--host", help="Interface to listen on (default: tracking.host from settings).")
@click.option("--port", type=int, help="Port (default: tracking.port from settings).")
@with_settings
def serve(host: str | None, port: int | None, settings: Settings) -> None:
    """Serve tracking links until interrupted. Needs EDM_SECRET_KEY (the key the mail was signed with).

    With signup.enabled, also the double opt-in sign-up form at /signup (docs/signup.md).

    Also takes the configured sending services' bounce, complaint and unsubscribe webhooks at
    POST /hooks/ses, /hooks/sendgrid, /hooks/mailgun and /hooks/postmark (docs/webhooks.md).

    Example: EDM_SECRET_KEY=... edm track serve --port 8080
    """
    from edm.runner import open_store
    from edm.tracking import create_tracking_app, serve_forever
    from edm.tracking.hooks import Hooks

    settings.signing_keys()  # no key, or a weak one: stop before the store is touched
    hooks = Hooks(settings.hooks, SystemClock())
    sessions = open_store(settings)
    app = create_tracking_app(sessions, settings.signing_keys(), SystemClock(), settings.tracking,
                              hooks, signup_routes(settings, sessions), topics=settings.topics,
                              one_click=settings.compliance.one_click)
    serve_forever(app, host or settings.tracking.host, port or settings.tracking.port,
                  forwarded_allow_ips=settings.tracking.forwarded_allow_ips)


@main.command(name="serve")
@click.option("--host", help="Interface to listen on (default: api.host from settings).")
@click.option("--port", type=int, help="Port (default: api.port from settings).")
@click.option("--with-tracking", is_flag=True,
              help="Also serve the tracking links and webhooks (as `edm track serve`) on the same port.")
@with_settings
def serve_api(host: str | None, port: int | None, with_tracking: bool, settings: Settings) -> None:
    """Serve the HTTP API until interrupted: customers, orders, events in; cards, campaigns out.

    Docs at /docs, the OpenAPI document at /openapi.json; keys from `edm api-key create` (docs/api.md).

    Example: EDM_SECRET_KEY=... edm serve --port 8090
    """
    from edm.api import create_api_app
    from edm.api import with_tracking as combined
    from edm.runner import open_store
    from edm.tracking import create_tracking_app, serve_forever
    from edm.tracking.hooks import Hooks

    settings.signing_keys()  # as every serving command: no key, or a weak one, stops here
    sessions = open_store(settings)
    app = create_api_app(sessions, settings, SystemClock())
    if with_tracking:
        tracking = create_tracking_app(sessions, settings.signing_keys(), SystemClock(), settings.tracking,
                                       Hooks(settings.hooks, SystemClock()),
                                       signup_routes(settings, sessions), topics=settings.topics,
                                       one_click=settings.compliance.one_click)
        app = combined(app, tracking)  # type: ignore[assignment]
    serve_forever(app, host or settings.api.host, port or settings.api.port,
                  forwarded_allow_ips=settings.tracking.forwarded_allow_ips)


@main.group(name="api-key")
def api_key() -> None:
    """Keys for the HTTP API: each has a name, scopes and a rate; only its hash is stored."""


@api_key.command(name="create")
@click.option("--name", required=True, help="Who uses the key, e.g. shop.")
@click.option("--scope", "scopes", required=True,
              help="Comma-separated: customers:read, customers:write, customers:export, customers:erase, "
                   "orders:write, events:write, campaigns:read, campaigns:send.")
@click.option("--rate", type=int, help="Requests per minute (default: api.default_rate_per_minute).")
@with_settings
def api_key_create(name: str, scopes: str, rate: int | None, settings: Settings) -> None:
    """Make a key and print it once: store it where the caller keeps secrets; it cannot be shown again.

    Example: edm api-key create --name shop --scope orders:write,events:write,customers:write
    """
    from edm.api.auth import create_key, parse_scopes
    from edm.runner import open_store

    key = create_key(open_store(settings), name, parse_scopes(scopes), datetime.now(UTC), rate)
    click.echo(key)
    click.echo(f"API key {name!r} created; this is the only time it is shown", err=True)


@api_key.command(name="list")
@with_settings
def api_key_list(settings: Settings) -> None:
    """Every key: name, public prefix, scopes, rate, and whether it is revoked.

    Example: edm api-key list
    """
    from edm.api.auth import list_keys
    from edm.runner import open_store

    for key in list_keys(open_store(settings)):
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        rate = f"{key.rate_per_minute}/min" if key.rate_per_minute else "default rate"
        click.echo(f"{key.name}  edm_{key.prefix}...  {','.join(key.scopes)}  {rate}  {state}")


@api_key.command(name="revoke")
@click.argument("name")
@with_settings
def api_key_revoke(name: str, settings: Settings) -> None:
    """Revoke a key: requests with it get 401 from then on.

    Example: edm api-key revoke shop
    """
    from edm.api.auth import revoke_key
    from edm.runner import open_store

    changed = revoke_key(open_store(settings), name, datetime.now(UTC))
    click.echo(f"API key {name!r} revoked" if changed else f"API key {name!r} was revoked already")


@main.group()
def retention() -> None:
    """Keep personal detail no longer than the `retention:` settings say."""


@retention.command(name="apply")
@click.option("--dry-run", is_flag=True, help="Count what would go; change nothing.")
@click.option("--actor", help="Who runs it, for the audit log (default: the OS user).")
@with_settings
def retention_apply(dry_run: bool, actor: str | None, settings: Settings) -> None:
    """Count raw events past `retention.events_days` into totals and drop them (reports keep their
    figures); delete stored message bodies, sign-ups and audit entries past their limits.

    Example: edm retention apply --dry-run
    """
    from edm.privacy import who_runs_this
    from edm.privacy.service import retention_request
    from edm.runner import open_store

    result = retention_request(settings, open_store(settings), actor or who_runs_this(), datetime.now(UTC),
                               dry_run)
    verb = "would drop" if dry_run else "dropped"
    n = wording.count
    click.echo(f"{verb}: {n(result.events, 'raw event')} (into {n(result.totals, 'total')}), "
               f"{n(result.bodies, 'stored message')}, {n(result.signups, 'sign-up')}, "
               f"{n(result.audit_entries, 'audit entry', 'audit entries')}")


@main.group()
def report() -> None:
    """Reports for analysts."""


def report_options(command: F) -> F:
    """--since, --until, --format, --out and --config, shared by every report."""
    command = click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
                           help="Output file (default: <report>.<format>; CSV: one file per table).")(command)
    command = click.option("--format", "fmt", type=click.Choice(["html", "csv", "xlsx"]), default="html",
                           show_default=True)(command)
    day = click.DateTime(["%Y-%m-%d"])
    command = click.option("--until", type=day, help="First day excluded (UTC).")(command)
    command = click.option("--since", type=day, help="First day included (UTC).")(command)
    return with_settings(command)


@report.command()
@click.option("--by", default="campaign,tier,stage", show_default=True,
              help="Comma-separated groupings, each a table: campaign, variant, tier, stage, industry, "
                   "locale, or a+b to combine (e.g. tier+stage).")
@report_options
def engagement(by: str, since: datetime | None, until: datetime | None, fmt: str, out: Path | None,
               settings: Settings) -> None:
    """Sent, delivered, opens (people and machines), clicks, unsubscribes, orders and revenue
    within reports.attribution_days, and the uplift of campaigns with a holdout group (as
    `edm report uplift`). Opened counts people who opened or clicked (a click is an open).

    Example: edm report engagement --by campaign,tier+stage --since 2026-01-01 --format xlsx
    """
    from edm.reports import format_summary, write_engagement_report
    from edm.reports.campaigns import read_facts
    from edm.runner import open_store

    groupings = [part.split("+") for part in by.split(",") if part]
    paths, summary = write_engagement_report(
        open_store(settings), groupings, since=_utc(since), until=_utc(until), fmt=fmt,
        out=out or Path(f"engagement.{fmt}"), now=SystemClock().now(), settings=settings.reports,
        campaigns=read_facts(settings.campaigns_dir),
    )
    click.echo(format_summary(summary))
    for path in paths:
        click.echo(f"wrote {path}")


@report.command()
@report_options
def uplift(since: datetime | None, until: datetime | None, fmt: str, out: Path | None,
           settings: Settings) -> None:
    """Orders and revenue of mailed customers against each campaign's holdout group (planned, never
    sent): per campaign, campaign × value tier, × lifecycle stage and × variant, with intervals.

    Tier and stage are the customer's class when the mail went out; groups smaller than
    reports.min_group read "too few".

    Example: edm report uplift --since 2026-10-01 --format xlsx
    """
    from edm.reports import uplift_report, write_report
    from edm.reports.campaigns import read_facts
    from edm.runner import open_store

    built = uplift_report(open_store(settings), now=SystemClock().now(), since=_utc(since), until=_utc(until),
                          settings=settings.reports, campaigns=read_facts(settings.campaigns_dir))
    for label, value in built.summary:
        click.echo(f"{label}: {value}")
    for path in write_report(built, out or Path(f"uplift.{fmt}"), fmt):
        click.echo(f"wrote {path}")


@report.command()
@report_options
def lifecycle(since: datetime | None, until: datetime | None, fmt: str, out: Path | None,
              settings: Settings) -> None:
    """How customers moved between lifecycle stages and loyalty classes, as counts and flow charts.

    Example: edm report lifecycle --since 2026-01-01 --until 2026-04-01
    """
    from edm.reports import lifecycle_report, write_report
    from edm.runner import open_store

    built = lifecycle_report(open_store(settings), now=SystemClock().now(), since=_utc(since),
                             until=_utc(until))
    for label, value in built.summary:
        click.echo(f"{label}: {value}")
    for path in write_report(built, out or Path(f"lifecycle.{fmt}"), fmt):
        click.echo(f"wrote {path}")


@report.command()
@click.option("--days", default=90, show_default=True, type=click.IntRange(min=1),
              help="Without --since: the period is this many days before --until (default: today).")
@report_options
def frequency(days: int, since: datetime | None, until: datetime | None, fmt: str, out: Path | None,
              settings: Settings) -> None:
    """Contact intervals and engagement scores per value tier, and how the actual gaps between
    mails and the engaged share changed against the previous period of the same length.

    Example: edm report frequency --days 30 --format csv
    """
    from datetime import timedelta

    from edm.reports import frequency_report, write_report
    from edm.runner import open_store

    now = SystemClock().now()
    end = _utc(until) or now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    start = _utc(since) or end - timedelta(days=days)
    built = frequency_report(open_store(settings), now=now, since=start, until=end)
    for label, value in built.summary:
        click.echo(f"{label}: {value}")
    for path in write_report(built, out or Path(f"frequency.{fmt}"), fmt):
        click.echo(f"wrote {path}")


@report.command()
@click.option("--by", default="tier,industry,manager", show_default=True,
              help="Comma-separated groupings, each a table per survey: tier, industry, manager "
                   "(the first also gets the charts).")
@click.option("--period", type=click.Choice(["month", "week", "quarter"]), default="month",
              show_default=True, help="Put answers into calendar months, ISO weeks or quarters (UTC).")
@report_options
def satisfaction(by: str, period: str, since: datetime | None, until: datetime | None, fmt: str,
                 out: Path | None, settings: Settings) -> None:
    """NPS and CSAT per period by value tier, industry and account manager, with trend charts
    and the answers that came with a comment.

    Example: edm report satisfaction --by manager,tier --period quarter --since 2026-01-01
    """
    from edm.reports import satisfaction_report, write_report
    from edm.runner import open_store

    built = satisfaction_report(open_store(settings), [part for part in by.split(",") if part],
                                period=period, now=SystemClock().now(), since=_utc(since), until=_utc(until),
                                min_answers=settings.reports.min_answers)
    for label, value in built.summary:
        click.echo(f"{label}: {value}")
    for path in write_report(built, out or Path(f"satisfaction.{fmt}"), fmt):
        click.echo(f"wrote {path}")


@report.command()
@click.option("--period", type=click.Choice(["day", "week"]), default="day", show_default=True,
              help="Put messages into UTC days or ISO weeks (by when they were sent).")
@report_options
def deliverability(period: str, since: datetime | None, until: datetime | None, fmt: str, out: Path | None,
                   settings: Settings) -> None:
    """Hard-bounce and complaint rates per day or week (charts with Gmail's 0.1% and 0.3% spam-rate
    limits), per campaign and per receiving provider (gmail, microsoft, yahoo, qq, netease, other).

    Example: edm report deliverability --period week --since 2026-10-01 --format xlsx
    """
    from edm.reports import deliverability_report, write_report
    from edm.runner import open_store

    built = deliverability_report(open_store(settings), period=period, now=SystemClock().now(),
                                  since=_utc(since), until=_utc(until))
    for label, value in built.summary:
        click.echo(f"{label}: {value}")
    for path in write_report(built, out or Path(f"deliverability.{fmt}"), fmt):
        click.echo(f"wrote {path}")


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value else None


@main.group()
def alerts() -> None:
    """Alerts to account managers: a digest of their customers who need attention (alerts.* in edm.yaml)."""


@alerts.command(name="digest")
@click.option("--dry-run", is_flag=True, help="Show what each manager would get; mail nothing, move nothing.")
@with_settings
def alerts_digest(dry_run: bool, settings: Settings) -> None:
    """Mail each account manager the customers who, since their last digest, became at risk or
    churned, dropped a product line, answered a survey as a detractor, unsubscribed or clicked a
    win-back offer. A manager with nothing new gets no mail. The daemon does this on
    alerts.digest_cron; exits 1 when a digest could not be sent (it is retried next time).

    Example: edm alerts digest --dry-run
    """
    from edm.alerts.digest import send_digests
    from edm.runner import open_store

    if not settings.alerts.enabled:
        click.echo("alerts.enabled is false: no digests")
        return
    if not dry_run:
        settings.signing_keys()  # it sends: refuse to start without a strong key, as every sender does
    summary = send_digests(settings, open_store(settings), SystemClock(), dry_run=dry_run)
    for line in format_digests(summary):
        click.echo(line)
    if summary.failed:
        raise click.exceptions.Exit(1)


def format_digests(summary: DigestSummary) -> list[str]:
    status = {"sent": "mailed", "empty": "nothing new, not mailed", "ready": "would be mailed (dry run)",
              "failed": "NOT mailed"}
    lines = [f"{r.email}: {wording.count(r.items, 'item')}, {wording.count(r.customers, 'customer')}, "
             f"{status[r.status]}"
             + (f": {r.error}" if r.error else "") for r in summary.results]
    lines.append(f"managers {summary.managers:,}, mailed {summary.sent:,}, nothing new {summary.empty:,}, "
                 f"failed {summary.failed:,}, items {summary.items:,}")
    return lines


@main.group()
def webhooks() -> None:
    """Outbound webhooks: signed events to your systems and chat groups (webhooks: in edm.yaml;
    docs/webhooks-out.md). The daemon delivers every webhooks.every_seconds."""


@webhooks.command(name="deliver")
@with_settings
def webhooks_deliver(settings: Settings) -> None:
    """Deliver the due events once: signed POSTs, failures retried later with backoff, dead after
    max_attempts. Exits 1 when a target's secret or URL variable is not set (its events wait).

    Example: edm webhooks deliver
    """
    from edm.runner import open_store
    from edm.webhooks.deliver import deliver_due

    summary = deliver_due(open_store(settings), settings.webhooks, SystemClock())
    for problem in summary.problems:
        click.echo(f"not delivered: {problem}", err=True)
    click.echo(f"sent {summary.sent}, to retry {summary.retried}, dead {summary.dead}")
    if summary.problems:
        raise click.exceptions.Exit(1)


@webhooks.command(name="replay")
@click.option("--since", required=True, type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
              help="Events created at or after this (UTC), e.g. 2026-12-01.")
@click.option("--endpoint", help="Only this target (its webhooks: name).")
@click.option("--type", "event_type", help="Only this event type, e.g. stage.changed.")
@with_settings
def webhooks_replay(since: datetime, endpoint: str | None, event_type: str | None,
                    settings: Settings) -> None:
    """Send sent and dead events again: they become pending with their attempts reset and keep their
    webhook-id, so a receiver that dedupes sees each once. `edm webhooks deliver` (or the daemon) sends them.

    Example: edm webhooks replay --since 2026-12-01 --endpoint shop
    """
    from edm.runner import open_store
    from edm.webhooks.deliver import replay

    with open_store(settings).begin() as session:
        n = replay(session, since.replace(tzinfo=UTC), SystemClock().now(), endpoint, event_type)
    click.echo(f"queued again: {n}")


@webhooks.command(name="status")
@with_settings
def webhooks_status(settings: Settings) -> None:
    """Per target: deliveries pending, sent and dead, and the last error.

    Example: edm webhooks status
    """
    from edm.runner import open_store
    from edm.webhooks.status import endpoint_status

    with open_store(settings)() as session:
        rows = endpoint_status(session)
    if not rows:
        click.echo("no webhook deliveries yet")
    for row in rows:
        c = row.counts
        click.echo(f"{row.endpoint}: pending {c['pending']}, sent {c['sent']}, dead {c['dead']}"
                   + (f"; last error: {row.last_error}" if row.last_error else ""))


@main.group()
def bounces() -> None:
    """Bounces that arrive by mail after the relay accepted a message (delivery status notifications)."""


@bounces.command()
@click.option("--maildir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Read this Maildir instead of the configured bounces.* mailboxes.")
@click.option("--mbox", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read this mbox file instead of the configured bounces.* mailboxes.")
@with_settings
def poll(maildir: Path | None, mbox: Path | None, settings: Settings) -> None:
    """Read the bounce mailboxes once: hard bounces suppress the address, soft ones are recorded,
    feedback-loop complaints (ARF, Outlook JMRP) record a complaint and suppress the address.

    Prints how many were hard, soft, complaints, about mail edm does not know, neither bounce nor
    complaint, and already recorded. Processed mail is not read again.

    Example: edm bounces poll --maildir /var/mail/bounces
    """
    from edm.config import BounceSettings
    from edm.delivery.mailbox import poll_bounces
    from edm.runner import open_store

    where = BounceSettings(maildir=maildir, mbox=mbox) if maildir or mbox else settings.bounces
    s = poll_bounces(open_store(settings), where, SystemClock(), settings.signing_keys())
    click.echo(f"hard {s.hard}, soft {s.soft}, complaints {s.complaint}, unknown {s.unknown}, "
               f"skipped {s.skipped}, already recorded {s.repeated}")


def signup_routes(settings: Settings, sessions: sessionmaker[Session]) -> list[Route]:
    """The sign-up routes for the tracking server, when signup.enabled; none otherwise."""
    if not settings.signup.enabled:
        return []
    from edm.signup.routes import signup_routes as routes

    return routes(sessions, settings.signing_keys(), SystemClock(), settings)


@main.group()
def signup() -> None:
    """Double opt-in sign-up: the form to embed, confirmation mails, expiry (docs/signup.md)."""


@signup.command(name="snippet")
@click.option("--lang", "language", type=click.Choice(["zh-Hans", "zh-Hant", "en"]), default="en",
              show_default=True, help="The form's language.")
@with_settings
def signup_snippet(language: str, settings: Settings) -> None:
    """Print a self-contained HTML sign-up form that posts to tracking.base_url/signup.

    Paste it into any page of your site; it needs no other file. Example: edm signup snippet --lang zh-Hans
    """
    from edm.signup.pages import SignupTexts
    from edm.signup.snippet import snippet
    from edm.tracking.pages import language_of

    if not settings.signup.enabled:
        click.echo("note: signup.enabled is false: the tracking server has no /signup until it is true",
                   err=True)
    click.echo(snippet(SignupTexts(settings), language_of(language), settings.tracking.base_url), nl=False)


@signup.command(name="send")
@with_settings
def signup_send(settings: Settings) -> None:
    """Send the confirmation mails of pending sign-ups the relay has not accepted yet (the form sends
    its own at once; this catches up after a relay failure). Exit 2 when some could not be sent.

    Example: edm signup send
    """
    from edm.runner import open_store
    from edm.signup.mail import send_confirmations

    result = send_confirmations(settings, open_store(settings), settings.signing_keys(), SystemClock())
    click.echo(f"sent {result.sent}, to retry {result.deferred}, refused {result.refused}")
    for error in result.errors[:20]:
        click.echo(f"  {error}", err=True)
    if result.deferred:
        raise SystemExit(EXIT_FAILED)


@signup.command(name="expire")
@with_settings
def signup_expire(settings: Settings) -> None:
    """Expire pending sign-ups past signup.expire_hours: their personal fields are blanked and the
    pending consent they recorded is withdrawn.

    Example: edm signup expire
    """
    from edm.runner import open_store
    from edm.signup.signups import expire_due

    click.echo(f"expired {expire_due(open_store(settings), SystemClock().now())}")


def _add_console_commands() -> None:
    """The console's commands live beside it (edm/console/cli.py), which uses `with_settings` above."""
    from edm.console import cli as console_cli

    main.add_command(console_cli.users)
    main.add_command(console_cli.console)


_add_console_commands()
