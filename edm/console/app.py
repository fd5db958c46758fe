"""The console's Starlette app: server-rendered pages over the library, plain forms; one script,
Today's static/live.js, refreshes its sending figures from /today/outbox (the page works without it).

Each route reads the signed session cookie (edm.console.sessions), finds the user (a disabled
user's session ends at once), renders a Jinja template with autoescape on. Every POST is refused
(403, nothing written) without the session's CSRF token; approve, pause and resume need a role
that may act (admin, marketer); an account manager sees only their own customers (403 otherwise,
nothing of the customer shown).
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from edm.alerts.items import reason
from edm.campaigns.approvals import approve, revoke
from edm.campaigns.decisions import SENDING
from edm.campaigns.labels import display_name
from edm.campaigns.loader import CampaignFile, CampaignFolder, read_campaigns
from edm.clock import Clock
from edm.config import Settings
from edm.console import figures
from edm.console.reports import (
    CHOICES,
    CSV_TYPE,
    REPORTS,
    XLSX_TYPE,
    ZIP_TYPE,
    ChoiceError,
    build_report,
    chosen_filters,
    csv_table,
    csv_zip,
    file_name,
    output_format,
    period,
    workbook,
)
from edm.console.sessions import (
    COOKIE,
    LANGUAGE_COOKIE,
    ConsoleSession,
    LoginLimit,
    new_session,
    seal,
    unseal,
)
from edm.console.snapshots import Refreshed
from edm.console.texts import LANGUAGE_NAMES, LANGUAGES, Texts, console_language, translator
from edm.console.users import MANAGER, User, active_user, authenticate, manager_key, sign_out
from edm.customers.card import CustomerNotFound, customer_card
from edm.delivery.health import campaign_scope
from edm.delivery.holds import pause, resume
from edm.privacy.audit import record_audit
from edm.reports.html import SORT_SCRIPT_HASH, render_html
from edm.tracking.forms import read_form
from edm.tracking.pages import Language

log = logging.getLogger(__name__)

FORM_MAX_BYTES = 8192
ACTIONS = ("approve", "revoke", "pause", "resume")
STYLE = (Path(__file__).parent / "static" / "console.css").read_text(encoding="utf-8")
LIVE_SCRIPT = (Path(__file__).parent / "static" / "live.js").read_text(encoding="utf-8")
# a report is the self-contained page `edm report` writes: its own inline style, charts as data: PNGs
REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "  # script: its tables' sorting
              f"script-src '{SORT_SCRIPT_HASH}'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
# a preview frames mail HTML (sandboxed: no scripts, no forms) whose CSS is inline, its https images
# (a brand's logo) shown; the open pixel is taken out
PREVIEW_CSP = ("default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; "
               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
# Today also runs static/live.js (its one script, from the console itself: no inline script, no eval),
# which fetches the outbox figures from /today/outbox
TODAY_CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; connect-src 'self'; "
             "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


Tiers = list[tuple[str, int, list[tuple[str, int]]]]  # (tier, its count, [(stage, count), ...])


@dataclass(frozen=True, slots=True)
class SlowFigures:
    """Today's figures that move slowly (see count_slow)."""

    planned: dict[str, Tiers]
    alerts: list[figures.ManagerAlertCount]
    rates: list[figures.RateFinding]


@dataclass(frozen=True, slots=True)
class Visit:
    """Who asks, in which language, with which session."""

    session: ConsoleSession
    user: User | None
    language: Language
    t: Texts
    csrf: str


Handler = Callable[[Request, Visit], Awaitable[Response]]


def create_console_app(sessions: sessionmaker[Session], settings: Settings, clock: Clock) -> Starlette:
    keys = settings.signing_keys()
    console = settings.console
    secure = console.base_url.startswith("https://")
    lifetime = console.session_hours * 3600
    limit = LoginLimit(console.login_per_ip, console.login_per_user, console.login_window_seconds)
    env = Environment(loader=PackageLoader("edm.console", "templates"), autoescape=select_autoescape(["j2"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals["display_name"] = display_name

    def visit_of(request: Request) -> tuple[Visit, bool]:
        """The visit; True when its session is new and must be set as a cookie."""
        found = unseal(request.cookies.get(COOKIE), keys, time.time())
        fresh = found is None
        session = found or new_session(None, time.time(), lifetime)
        user = None
        if session.user is not None:
            with sessions() as db:
                user = active_user(db, session.user)
            if user is not None and user.signed_out_at is not None \
                    and session.issued <= user.signed_out_at.timestamp():
                user = None  # signed out since (here or on another device)
        language = console_language(request.cookies.get(LANGUAGE_COOKIE),
                                    request.headers.get("accept-language"))
        return Visit(session, user, language, translator(language), session.csrf(keys)), fresh

    def page(template: str, visit: Visit, request: Request, status: int = 200, /,
             **values: Any) -> HTMLResponse:
        html = env.get_template(template).render(
            t=visit.t, user=visit.user, csrf=visit.csrf, language=visit.language, languages=LANGUAGES,
            language_names=LANGUAGE_NAMES, here=request.url.path, **values)
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    def with_cookie(response: Response, session: ConsoleSession) -> Response:
        response.set_cookie(COOKIE, seal(session, keys), max_age=int(lifetime), path="/", httponly=True,
                            samesite="strict", secure=secure)
        return response

    def refused(visit: Visit, request: Request) -> HTMLResponse:
        return page("message.html.j2", visit, request, 403, title=visit.t("refused"),
                    text=visit.t("refused_text"))

    def signed_in(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            visit, fresh = visit_of(request)
            if request.method == "POST":
                form = await read_form(request, FORM_MAX_BYTES, max_fields=20, keep_blank=True)
                if not _csrf_ok(visit, form, keys):
                    return page("message.html.j2", visit, request, 403, title=visit.t("refused"),
                                text=visit.t("expired"))
                request.state.form = form
            if visit.user is None:
                response: Response = RedirectResponse("/login", status_code=303, headers=HEADERS)
                return with_cookie(response, visit.session) if fresh else response
            return await handler(request, visit)
        return endpoint

    async def login_form(request: Request) -> Response:
        visit, fresh = visit_of(request)
        if visit.user is not None:
            return RedirectResponse("/", status_code=303, headers=HEADERS)
        response = page("login.html.j2", visit, request, error=None, name="")
        return with_cookie(response, visit.session) if fresh else response

    async def login(request: Request) -> Response:
        visit, fresh = visit_of(request)
        form = await read_form(request, FORM_MAX_BYTES, max_fields=20, keep_blank=True)
        if fresh or not _csrf_ok(visit, form, keys):
            return page("message.html.j2", visit, request, 403, title=visit.t("refused"),
                        text=visit.t("expired"))
        name, password = _first(form or {}, "name")[:100], _first(form or {}, "password")[:1000]
        client = request.client.host if request.client else "-"
        if not limit.allowed(client, name):
            log.warning("console sign-in refused, too many attempts ip=%s", client)
            return page("login.html.j2", visit, request, 429, error=visit.t("too_many"), name=name)
        with sessions.begin() as db:
            user = authenticate(db, name, password)
        if user is None:
            limit.failed(name)
            log.info("console sign-in failed ip=%s", client)
            return page("login.html.j2", visit, request, 401, error=visit.t("wrong"), name=name)
        log.info("console sign-in user=%s ip=%s", user.name, client)
        response = RedirectResponse("/", status_code=303, headers=HEADERS)
        return with_cookie(response, new_session(user.name, time.time(), lifetime))  # a new nonce

    async def logout(request: Request, visit: Visit) -> Response:
        assert visit.user is not None
        with sessions.begin() as db:
            sign_out(db, visit.user.name, datetime.fromtimestamp(time.time(), UTC))  # sessions' own clock
        response = RedirectResponse("/login", status_code=303, headers=HEADERS)
        return with_cookie(response, new_session(None, time.time(), lifetime))

    async def switch_language(request: Request) -> Response:
        language = request.path_params["language"]
        target = request.query_params.get("next", "/")
        if not _local_path(target):
            target = "/"
        response = RedirectResponse(target, status_code=303, headers=HEADERS)
        if language in LANGUAGES:
            response.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 86400, path="/", httponly=True,
                                samesite="strict", secure=secure)
        return response

    loaded: dict[tuple[tuple[str, int, int], ...], CampaignFolder] = {}

    def campaign_files() -> tuple[dict[str, CampaignFile], list[str]]:
        """The campaigns folder, read again only when a file in it was added, removed or changed."""
        state = _folder_state(settings.campaigns_dir)
        folder = loaded.get(state)
        if folder is None:
            folder = read_campaigns(settings.campaigns_dir)
            loaded.clear()
            loaded[state] = folder
        return folder.files, folder.problems

    def count_live() -> tuple[figures.Today, list[figures.Progress]]:
        """What is due, waits and went out: counted again every `figures_max_age_seconds`."""
        files, _ = campaign_files()
        now = clock.now()
        with sessions() as db:
            shown = figures.today_figures(db, [f.campaign for f in files.values()], now)
            return shown, figures.sending_progress(db, now, shown.outbox)

    def count_slow() -> SlowFigures:
        """The due campaigns' audiences, managers' alerts and the week's rates: they move with
        classification and over days, so they are counted every `slow_figures_max_age_seconds`."""
        files, _ = campaign_files()
        now = clock.now()
        due = figures.due_soon([f.campaign for f in files.values()], now.astimezone(UTC).date())
        with sessions() as db:
            planned = {campaign.name: figures.planned_audience(db, campaign, now) for campaign in due}
            alerts = figures.alert_counts(db, now, settings.alerts)
        rates = figures.deliverability(sessions, now, settings.deliverability.max_bounce_rate)
        return SlowFigures(_by_tier(planned), alerts, rates)

    live = Refreshed(count_live, clock.now, console.figures_max_age_seconds)
    slow = Refreshed(count_slow, clock.now, console.slow_figures_max_age_seconds)

    async def today(request: Request, visit: Visit) -> Response:
        assert visit.user is not None
        files, _ = campaign_files()
        counted, later = live.read(), slow.read()
        shown, progress = counted.value
        mine = manager_key(visit.user)
        my_alerts = next((found.alerts for found in later.value.alerts if found.email == mine), 0)
        response = page("today.html.j2", visit, request, today=shown, progress=progress,
                        as_of=_clock_time(counted.counted_at), titles=_titles(files),
                        planned=later.value.planned, rates=later.value.rates,
                        alerts=later.value.alerts if mine is None else [], my_alerts=my_alerts,
                        rate_days=figures.RATE_DAYS, alert_days=figures.ALERT_DAYS)
        response.headers["Content-Security-Policy"] = TODAY_CSP
        return response

    async def today_outbox(request: Request, visit: Visit) -> Response:
        """The Today page's outbox table alone, which static/live.js swaps in every few seconds."""
        files, _ = campaign_files()
        counted = live.read()
        html = env.get_template("_outbox.html.j2").render(
            t=visit.t, language=visit.language, progress=counted.value[1],
            as_of=_clock_time(counted.counted_at), titles=_titles(files))
        return HTMLResponse(html, headers=HEADERS)

    async def campaign_list(request: Request, visit: Visit) -> Response:
        files, problems = campaign_files()
        with sessions() as db:
            rows = figures.campaign_rows(db, [f.campaign for f in files.values()], clock.now().date())
        return page("campaigns.html.j2", visit, request, rows=rows, problems=problems)

    async def campaign_page(request: Request, visit: Visit) -> Response:
        from edm.runner import check_campaigns

        name = request.path_params["name"]
        files, _ = campaign_files()
        loaded = files.get(name)
        if loaded is None:
            return page("message.html.j2", visit, request, 404, title=visit.t("not_found"), text=name)
        with sessions() as db:
            row = figures.campaign_rows(db, [loaded.campaign], clock.now().date())[0]
        problems = check_campaigns(settings, sessions, [loaded], clock.now()).get(name, [])
        done = request.query_params.get("done")
        return page("campaign.html.j2", visit, request, row=row, problems=problems,
                    source=loaded.path.read_text(encoding="utf-8"),
                    done=done if done in (*ACTIONS, "nothing") else None)

    async def campaign_preview(request: Request, visit: Visit) -> Response:
        """Today's dry run of one campaign: audience, each reason's count, the split by variant, tier
        and stage, a few recipients, and one message per variant and language (HTML in a sandboxed
        frame). It names real customers of every manager, so managers get 403."""
        from edm.campaigns.preview import preview_campaign

        assert visit.user is not None
        if visit.user.role == MANAGER:
            return refused(visit, request)
        name = request.path_params["name"]
        files, _ = campaign_files()
        if name not in files:
            return page("message.html.j2", visit, request, 404, title=visit.t("not_found"), text=name)
        shown = preview_campaign(settings, sessions, files[name].campaign, clock.now())
        counted = shown.plan.reasons.items()
        reasons = sorted(((reason.value, reason in SENDING, count) for reason, count in counted),
                         key=lambda row: (not row[1], row[0]))
        opens = re.escape(settings.tracking.base_url.rstrip("/")) + "/o/"
        pixel = re.compile(r'<img\b[^>]*\bsrc="' + opens + r'[^"]*"[^>]*>')
        messages = [(arm, language, composed.subject, pixel.sub("", html), text)  # a preview is no open
                    for arm, language, composed in shown.messages for html, text in [_parts(composed.data)]]
        response = page("preview.html.j2", visit, request, name=name, shown=shown, reasons=reasons,
                        messages=messages, title=files[name].campaign.title)
        response.headers["Content-Security-Policy"] = PREVIEW_CSP
        return response

    async def campaign_action(request: Request, visit: Visit) -> Response:
        name, action = request.path_params["name"], request.path_params["action"]
        assert visit.user is not None
        if action not in ACTIONS:
            return page("message.html.j2", visit, request, 404, title=visit.t("not_found"), text=action)
        if not visit.user.may_act:
            log.warning("console refused user=%s role=%s action=%s campaign=%s", visit.user.name,
                        visit.user.role, action, name)
            return refused(visit, request)
        files, _ = campaign_files()
        if name not in files:
            return page("message.html.j2", visit, request, 404, title=visit.t("not_found"), text=name)
        now = clock.now()
        actor = visit.user.name
        with sessions.begin() as db:
            changed = _act(db, action, name, actor, now)
        log.info("console %s campaign=%s user=%s changed=%s", action, name, actor, changed)
        live.forget()
        done = action if changed else "nothing"
        return RedirectResponse(f"/campaigns/{name}?done={done}", status_code=303, headers=HEADERS)

    async def customer_search(request: Request, visit: Visit) -> Response:
        assert visit.user is not None
        text = request.query_params.get("q", "")[:200]
        mine = manager_key(visit.user)
        risky: list[tuple[Any, Any]] = []
        alerts: list[tuple[str, str, str]] = []
        with sessions() as db:
            found = figures.search_customers(db, text, mine)
            if mine is not None and not text:  # a manager's own page: alerts, then customers by risk
                risky = figures.by_churn_risk(db, mine)
                alerts = [(item.external_id, item.customer_name, reason(item, visit.language))
                          for item in figures.manager_alerts(db, mine, clock.now(), settings.alerts)]
        return page("customers.html.j2", visit, request, q=text, found=found, risky=risky, alerts=alerts)

    async def customer_page(request: Request, visit: Visit) -> Response:
        assert visit.user is not None
        external_id = request.path_params["external_id"]
        with sessions() as db:
            customer = figures.find_customer(db, external_id)
            if customer is None:
                return page("message.html.j2", visit, request, 404, title=visit.t("not_found"), text="")
            if not figures.may_see(customer, manager_key(visit.user)):
                log.warning("console refused user=%s customer=%s (not theirs)", visit.user.name, customer.id)
                return refused(visit, request)
            events = figures.timeline(db, customer.id)
        try:
            card = customer_card(sessions, external_id, settings.classification, settings.engagement,
                                 clock.now(), settings.consent)
        except CustomerNotFound:
            return page("message.html.j2", visit, request, 404, title=visit.t("not_found"), text="")
        return page("customer.html.j2", visit, request, card=card, events=events)

    def report_choices(visit: Visit, request: Request, status: int = 200,
                       error: str | None = None) -> Response:
        """The reports page: per report a GET form of its period, filters and formats."""
        query = request.query_params
        return page("reports.html.j2", visit, request, status, reports=list(REPORTS), choices=CHOICES,
                    error=error, since=query.get("since", "")[:10], until=query.get("until", "")[:10])

    async def report_list(request: Request, visit: Visit) -> Response:
        assert visit.user is not None
        if visit.user.role == MANAGER:  # reports count every customer, not only a manager's own
            return refused(visit, request)
        return report_choices(visit, request)

    async def report_page(request: Request, visit: Visit) -> Response:
        """The report as HTML, or `format=xlsx` a workbook, `format=csv` a zip of its tables' CSV files
        (`table=NAME`: that table alone); a filter, format or table it does not have is a 400."""
        assert visit.user is not None
        if visit.user.role == MANAGER:
            return refused(visit, request)
        name = request.path_params["name"]
        if name not in REPORTS:
            return page("message.html.j2", visit, request, 404, title=visit.t("not_found"), text=name)
        now = clock.now()
        query = request.query_params
        try:
            since, until = period(query.get("since"), query.get("until"), now)
            chosen = chosen_filters(name, {key: query.getlist(key) for key in query})
            fmt, table = output_format(query.get("format")), query.get("table")
            built = build_report(name, sessions, settings, now, since, until, chosen)
            stem = file_name(name, f"{since:%Y%m%d}", f"{until:%Y%m%d}")
            if table is not None and fmt != "csv":
                raise ChoiceError("a table is downloaded alone only as CSV (format=csv)")
            if fmt == "csv" and table is not None:
                return _download(csv_table(built, table), CSV_TYPE, file_name(stem, table) + ".csv")
        except ChoiceError as exc:
            log.info("console report refused user=%s report=%s: %s", visit.user.name, name, exc)
            return report_choices(visit, request, 400, f"{visit.t('report_' + name)}: {exc}")
        if fmt == "csv":
            return _download(csv_zip(built, stem), ZIP_TYPE, f"{stem}-csv.zip")
        if fmt == "xlsx":
            return _download(workbook(built), XLSX_TYPE, f"{stem}.xlsx")
        return HTMLResponse(render_html(built), headers={**HEADERS, "Content-Security-Policy": REPORT_CSP})

    async def style(request: Request) -> Response:
        return Response(STYLE, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    async def live_script(request: Request) -> Response:
        return Response(LIVE_SCRIPT, media_type="text/javascript",
                        headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"})

    async def no_icon(request: Request) -> Response:
        return Response(status_code=204, headers={"Cache-Control": "max-age=86400"})

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    routes = [
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", signed_in(logout), methods=["POST"]),
        Route("/language/{language}", switch_language, methods=["GET"]),
        Route("/", signed_in(today), methods=["GET"]),
        Route("/today/outbox", signed_in(today_outbox), methods=["GET"]),
        Route("/campaigns", signed_in(campaign_list), methods=["GET"]),
        Route("/campaigns/{name}", signed_in(campaign_page), methods=["GET"]),
        Route("/campaigns/{name}/preview", signed_in(campaign_preview), methods=["GET"]),
        Route("/campaigns/{name}/{action}", signed_in(campaign_action), methods=["POST"]),
        Route("/customers", signed_in(customer_search), methods=["GET"]),
        Route("/customers/{external_id}", signed_in(customer_page), methods=["GET"]),
        Route("/reports", signed_in(report_list), methods=["GET"]),
        Route("/reports/{name}", signed_in(report_page), methods=["GET"]),
        Route("/static/console.css", style, methods=["GET"]),
        Route("/static/live.js", live_script, methods=["GET"]),
        Route("/favicon.ico", no_icon, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        live.warm()
        slow.warm()
        yield

    return Starlette(routes=routes, lifespan=lifespan)


def _download(data: bytes, media_type: str, filename: str) -> Response:
    """A file to save (`filename` from file_name: letters, digits, dot and dash only)."""
    return Response(data, media_type=media_type,
                    headers={**HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'})


def _titles(files: dict[str, CampaignFile]) -> dict[str, dict[str, str]]:
    """Each campaign's `title:` by language, for display_name in the templates."""
    return {name: dict(loaded.campaign.title) for name, loaded in files.items()}


def _clock_time(now: datetime) -> str:
    return f"{now.astimezone(UTC):%H:%M:%S}"


def _by_tier(planned: dict[str, dict[tuple[str, str], int]]) -> dict[str, Tiers]:
    """Per campaign, per value tier: its total and its stages' counts (the biggest first)."""
    shown: dict[str, Tiers] = {}
    for name, counts in planned.items():
        tiers: dict[str, list[tuple[str, int]]] = {}
        for (tier, stage), count in counts.items():
            tiers.setdefault(tier, []).append((stage, count))
        shown[name] = [(tier, sum(c for _, c in stages), sorted(stages, key=lambda s: (-s[1], s[0])))
                       for tier, stages in sorted(tiers.items())]
    return shown


def _act(db: Session, action: str, name: str, actor: str, now: datetime) -> bool:
    """Approve, withdraw, pause or resume `name` as `actor`; pauses are also in the audit log."""
    if action == "approve":
        return approve(db, name, actor, now)
    if action == "revoke":
        return revoke(db, name, actor, now)
    scope = campaign_scope(name)
    if action == "pause":
        changed = pause(db, scope, f"paused in the console by {actor}", now)
    else:
        changed = resume(db, scope, now) is not None
    if changed:
        record_audit(db, f"console:{actor}", action, f"campaign {name}", now)
    return changed


def _parts(data: bytes) -> tuple[str, str]:
    """The HTML and the text part of a composed message."""
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    html, text = message.get_body(("html",)), message.get_body(("plain",))
    return (str(html.get_content()) if isinstance(html, EmailMessage) else "",
            str(text.get_content()) if isinstance(text, EmailMessage) else "")


def _folder_state(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """Each file's name, change time and size: what tells that the folder changed."""
    try:
        found = [(entry.name, entry.stat().st_mtime_ns, entry.stat().st_size) for entry in folder.iterdir()]
    except OSError:
        return ()
    return tuple(sorted(found))


def _csrf_ok(visit: Visit, form: dict[str, list[str]] | None, keys: list[bytes]) -> bool:
    token = _first(form or {}, "csrf")
    return bool(token) and visit.session.csrf_ok(token, keys)


def _first(form: dict[str, list[str]], name: str) -> str:
    values = form.get(name) or [""]
    return values[0]


def _local_path(target: str) -> bool:
    """Only a path on this site: no scheme, no host, no `//` or `/\\` (browsers read both as a host)."""
    return (target.startswith("/") and not target.startswith(("//", "/\\"))
            and all(c.isprintable() and c not in "\\\r\n" for c in target))

