"""The sign-up's routes on the tracking server: `GET/POST /signup`, `GET/POST /signup/confirm/{token}`.

A post is answered in this order: over the per-address rate → 429; too large → 413; a bot's
(edm.signup.guard) → dropped: nothing written, and the same "check your inbox" page a person gets,
so bots learn nothing; a bad address or no topic chosen → the form again (400); else the sign-up
is written and the "check your inbox" page is sent, the same whether the address was known,
suppressed, or signed up too often today; the confirmation mail goes out after the response.

A confirmation link's GET only shows a button (mail scanners fetch links); its POST confirms once.
A token that does not verify gets 404 and writes nothing.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Sequence

from sqlalchemy.orm import Session, sessionmaker
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from edm.clock import Clock
from edm.config import Settings
from edm.customers.fields import parse_email
from edm.delivery.message import addr_spec
from edm.render import one_line
from edm.signup import pages, signups
from edm.signup.guard import EMBED, HOSTED, PerIpLimit, Posted, bot_reason
from edm.signup.mail import ConfirmationSender
from edm.signup.pages import HONEYPOT, Entered, SignupTexts, page_language
from edm.signup.signups import Confirmation, Outcome, SignupRequest
from edm.signup.tokens import form_token, read_confirm_token
from edm.store import Signup
from edm.tracking.forms import read_form
from edm.tracking.pages import Language, language_of

log = logging.getLogger(__name__)

FORM_MAX_BYTES = 8 * 1024
NAME_MAX = 200
AGENT_MAX = 500
_HEADERS = {"Cache-Control": "no-store, no-cache, must-revalidate, max-age=0", "Pragma": "no-cache",
            "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


class SignupPage(HTMLResponse):
    """A sign-up page: never cached nor indexed, and leaking no token via Referer."""

    def __init__(self, content: str, status_code: int = 200,
                 background: BackgroundTask | None = None) -> None:
        headers = dict(_HEADERS)
        if status_code == 429:
            headers["Retry-After"] = "3600"
        super().__init__(content, status_code=status_code, headers=headers, background=background)


def signup_routes(
    sessions: sessionmaker[Session], keys: Sequence[bytes], clock: Clock, settings: Settings,
    sender: ConfirmationSender | None = None,
) -> list[Route]:
    """The routes, for `create_tracking_app(signup=...)`. `sender` mails the confirmations (default:
    one over the configured relay)."""
    keys = tuple(keys)
    texts = SignupTexts(settings)
    options = settings.signup
    limit = PerIpLimit(options.per_ip_per_hour)
    mailer = sender or ConfirmationSender(settings, sessions, keys, clock)

    async def form(request: Request) -> Response:
        language = page_language(request.query_params.get("lang"), request.headers.get("accept-language"))
        return SignupPage(pages.form_page(texts, language, form_token(clock.now(), keys)))

    async def submit(request: Request) -> Response:
        client = request.client.host if request.client else "unknown"
        asked = request.query_params.get("lang")
        accept = request.headers.get("accept-language")
        now = clock.now()
        if not limit.allow(client, now.timestamp()):
            log.info("signup refused ip=%s reason=rate", client)
            return SignupPage(pages.busy_page(page_language(asked, accept)), status_code=429)
        fields = await read_form(request, FORM_MAX_BYTES, max_fields=12 + len(texts.offered), keep_blank=True)
        if fields is None:
            return SignupPage(pages.too_long_page(page_language(asked, accept)), status_code=413)

        def first(name: str) -> str:
            return (fields.get(name) or [""])[0]

        language = page_language(first("lang") or asked, accept)
        kind = first("form") or HOSTED
        posted = Posted(kind, first(HONEYPOT), first("issued") or None, first("started") or None)
        reason = bot_reason(posted, now, keys, options.min_fill_seconds)
        if reason is not None:
            log.info("signup dropped ip=%s reason=%s", client, reason)
            return SignupPage(pages.sent_page(texts, language))
        email = _address(first("email"))
        name = one_line(first("name"))[:NAME_MAX] or None
        chosen = tuple(t for t in texts.offered if t in set(fields.get("topic", [])))
        error = "bad_email" if email is None else "no_topic" if texts.offered and not chosen else None
        if error is not None or email is None:
            entered = Entered(first("email")[:254], name or "", chosen, error)
            again = pages.form_page(texts, language, form_token(now, keys), entered)
            return SignupPage(again, status_code=400)
        agent = request.headers.get("user-agent")
        wanted = SignupRequest(email, name, language, chosen if texts.offered else None,
                               EMBED if kind == EMBED else HOSTED, options.wording_version, client,
                               agent[:AGENT_MAX] if agent else None)
        signup_id = await run_in_threadpool(store, wanted)
        log.info("signup ip=%s form=%s stored=%s", client, kind, "yes" if signup_id is not None else "no")
        mail = BackgroundTask(send_one, signup_id) if signup_id is not None else None
        return SignupPage(pages.sent_page(texts, language), background=mail)

    def store(wanted: SignupRequest) -> int | None:
        with sessions.begin() as session:
            return signups.submit(session, wanted, clock.now(), options.expire_hours)

    async def send_one(signup_id: int) -> None:
        try:
            await mailer.send([signup_id])
        except Exception:  # the row stays unsent: `edm signup send` or the daemon sends it later
            log.exception("signup mail id=%d failed", signup_id)

    def state_of(signup_id: int, nonce: str) -> Confirmation:
        """What confirming would say, without confirming (for the GET)."""
        with sessions() as session:
            row = session.get(Signup, signup_id)
            if row is None or not row.nonce or not _same(row.nonce, nonce):
                return Confirmation(Outcome.UNKNOWN)
            if row.state == signups.STATE_CONFIRMED:
                return Confirmation(Outcome.ALREADY, row.locale)
            if row.state != signups.STATE_PENDING or row.expires_at <= clock.now():
                return Confirmation(Outcome.EXPIRED, row.locale)
            return Confirmation(Outcome.CONFIRMED, row.locale)

    def confirm_now(signup_id: int, nonce: str) -> Confirmation:
        with sessions.begin() as session:
            return signups.confirm(session, signup_id, nonce, clock.now(), texts.offered)

    async def confirm(request: Request) -> Response:
        found = read_confirm_token(request.path_params["token"], keys)
        fallback = page_language(request.query_params.get("lang"), request.headers.get("accept-language"))
        if found is None:
            return SignupPage(pages.invalid_page(fallback), status_code=404)
        if request.method == "POST":
            outcome = await run_in_threadpool(confirm_now, *found)
            if outcome.outcome is Outcome.CONFIRMED:
                log.info("signup confirmed id=%d customer=%s", found[0], outcome.customer_id)
        else:
            outcome = await run_in_threadpool(state_of, *found)
        language: Language = language_of(outcome.locale) if outcome.locale else fallback
        if outcome.outcome is Outcome.UNKNOWN:
            return SignupPage(pages.invalid_page(language), status_code=404)
        if outcome.outcome is Outcome.ALREADY:
            return SignupPage(pages.already_page(language))
        if outcome.outcome is Outcome.EXPIRED:
            return SignupPage(pages.expired_page(language), status_code=410)
        if request.method == "POST":
            return SignupPage(pages.confirmed_page(language))
        return SignupPage(pages.confirm_page(texts, language))

    return [
        Route("/signup", form, methods=["GET"]),
        Route("/signup", submit, methods=["POST"]),
        Route("/signup/confirm/{token}", confirm, methods=["GET", "POST"]),
    ]


def _address(text: str) -> str | None:
    """The address as it will be written and mailed; None when it is not one we can mail."""
    text = text.strip()
    if not text or len(text) > 254:
        return None
    try:
        email = parse_email(text)
        addr_spec(email)  # a local part that is not ASCII would need SMTPUTF8, which edm does not speak
    except ValueError:
        return None
    return email


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


