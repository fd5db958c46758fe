"""The tracking server: open pixel, click redirect, unsubscribe and preference pages, RFC 8058
one-click POST, one-click survey answers, sending services' webhooks (`POST /hooks/{provider}`), and /healthz.

The unsubscribe link's page (`/u/{token}`) is also the preference page: pause, less mail, the
topics a person keeps and whether their mail is personalised (docs/preferences.md).

A HEAD on a pixel, click or survey link (link scanners send them) is answered as its GET would be
and records nothing; a HEAD or GET on an unsubscribe link only shows the page; POST unsubscribes.

A webhook is trusted only once its provider's signature or credentials verify (edm.tracking.hooks):
an unknown or unconfigured provider gets 404, a refused post 401/403, a malformed one 400, and
none of them writes anything; a verified post's events and suppressions are one transaction.

Every other route trusts only the signed token in its path: a token that does not verify, is of
the wrong kind, or names no known customer (or someone else's mail) gets a 404 and nothing
is written. Opens and clicks go through the batched writer (ingest.py) and are answered once
stored, their GETs by the fast path in hot.py (the same answers, past the router); the rarer
unsubscribes and preferences are written directly, in the thread pool.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from edm.clock import Clock
from edm.config import Localized, OneClick, TrackingSettings
from edm.delivery.brand import localized
from edm.surveys import answers
from edm.tracking import events, pages, survey_pages
from edm.tracking.events import Feedback, FeedbackOutcome, Recipient
from edm.tracking.forms import read_form
from edm.tracking.hooks import HookMalformed, HookRefused, Hooks, Incoming
from edm.tracking.hot import Hits, HotPaths
from edm.tracking.ingest import EventWriter
from edm.tracking.links import Kind, Link, SurveyLink, read_survey_token, read_token
from edm.tracking.machine import MachineRules, is_machine
from edm.tracking.responses import NO_STORE, ClickRedirect, NotFound, PageResponse, PixelResponse

log = logging.getLogger(__name__)

FORM_MAX_BYTES = 1024  # the preference form has two short fields
TOPIC_FIELD_BYTES = 48  # and the choices form one more per topic: "topic=" and a name of 32 at most
ONE_CLICK_FIELD, ONE_CLICK_VALUE = "List-Unsubscribe", "One-Click"  # RFC 8058's POST body
# a survey comment: 2000 characters of Chinese are 18000 bytes once percent-encoded
SURVEY_FORM_MAX_BYTES = 20 * 1024


def create_tracking_app(
    sessions: sessionmaker[Session],
    keys: Sequence[bytes],
    clock: Clock,
    settings: TrackingSettings | None = None,
    hooks: Hooks | None = None,
    signup: Sequence[Route] = (),
    *,
    topics: Mapping[str, Localized] | None = None,
    one_click: OneClick = "all",
) -> Starlette:
    """The ASGI app; `keys` are the link-signing keys, newest first (any of them verifies).
    `hooks`: the providers whose webhooks are taken (none when not given). `signup`: the sign-up
    routes (`edm.signup.routes.signup_routes`), when sign-up is enabled. `topics`: what the
    preference page offers (settings `topics`); `one_click`: what an RFC 8058 one-click POST turns
    off, `all` mail or only the `topic` its link seals (settings `compliance.one_click`).

    Serve it with lifespan on (edm.tracking.server does), so shutdown stores what is queued.
    The event writer is `app.state.events`.
    """
    keys = tuple(keys)
    settings = settings or TrackingSettings()
    rules = MachineRules.build(
        extra_networks=settings.proxy_networks,
        extra_agents=settings.machine_agents,
        scanner_seconds=settings.scanner_seconds,
    )
    writer = EventWriter(sessions, rules, batch_size=settings.batch_size)
    hits = Hits(keys, writer, clock)

    def link_of(request: Request, kind: Kind) -> Link | None:
        return read_token(request.path_params["token"], keys, kind)

    def recipient_of(link: Link) -> Recipient | None:
        with sessions() as session:
            return events.recipient(session, link.customer_id, link.outbox_id)

    def unsubscribe_now(link: Link, agent: str | None) -> str | None:
        with sessions.begin() as session:
            return events.unsubscribe(
                session,
                customer_id=link.customer_id,
                outbox_id=link.outbox_id,
                occurred_at=clock.now(),
                user_agent=agent,
            )

    async def looked_at(link: Link) -> Response | None:
        """A HEAD (link scanners and previewers send them; a person's mail client never does):
        answered as the GET would be, but nothing recorded. None when the GET would succeed."""
        return None if await run_in_threadpool(recipient_of, link) is not None else NotFound()

    async def open_pixel(request: Request) -> Response:
        """A GET is answered here only under a root path: HotPaths (hot.py) takes the others."""
        if request.method == "HEAD":
            link = link_of(request, "o")
            return NotFound() if link is None else await looked_at(link) or PixelResponse()
        return await hits.open(request.path_params["token"], *_agent_ip(request))

    async def click(request: Request) -> Response:
        if request.method == "HEAD":
            link = link_of(request, "c")
            if link is None or link.url is None:
                return NotFound()
            return await looked_at(link) or ClickRedirect(link.url)
        return await hits.click(request.path_params["token"], *_agent_ip(request))

    async def recipient_link(request: Request) -> tuple[Link, Recipient] | None:
        """The unsubscribe token's link and its recipient; None when either is unknown (a 404)."""
        link = link_of(request, "u")
        if link is None:
            return None
        person = await run_in_threadpool(recipient_of, link)
        return None if person is None else (link, person)

    offered = dict(topics or {})

    def titled(language: str) -> list[tuple[str, str]]:
        """The topics offered, each with its title in `language` (else its name)."""
        return [(name, localized(title, language) or name) for name, title in offered.items()]

    async def unsubscribe_page(request: Request) -> Response:
        """Only asks: link scanners fetch GETs (and HEADs, served here too): they must unsubscribe nobody."""
        found = await recipient_link(request)
        if found is None:
            return NotFound()
        link, person = found
        language = pages.language_of(person.locale)
        choices = pages.Choices(titled(language), person.topics_off, person.personalised, link.topic)
        return PageResponse(pages.confirm_page(person.email, language, request.path_params["token"], choices))

    def turn_off_now(link: Link, topic: str) -> str | None:
        with sessions.begin() as session:
            return events.turn_off_topic(session, customer_id=link.customer_id, topic=topic)

    async def unsubscribe_post(request: Request) -> Response:
        """The page's button (everything) and RFC 8058 one-click (`List-Unsubscribe=One-Click`) land
        here; one-click turns off only the link's topic when `one_click` is `topic` and it has one."""
        found = await recipient_link(request)
        if found is None:
            return NotFound()
        link, person = found
        language = pages.language_of(person.locale)
        form = await read_form(request, FORM_MAX_BYTES, max_fields=4) or {}
        if one_click == "topic" and link.topic is not None and form.get(ONE_CLICK_FIELD) == [ONE_CLICK_VALUE]:
            email = await run_in_threadpool(turn_off_now, link, link.topic)
            if email is None:
                return NotFound()
            log.info("topic off customer=%d outbox=%d topic=%s", link.customer_id, link.outbox_id, link.topic)
            title = dict(titled(language)).get(link.topic, link.topic)
            return PageResponse(pages.topic_done_page(email, language, title))
        email = await run_in_threadpool(unsubscribe_now, link, request.headers.get("user-agent"))
        if email is None:
            return NotFound()
        log.info("unsubscribed customer=%d outbox=%d", link.customer_id, link.outbox_id)
        return PageResponse(pages.done_page(email, language))

    async def preferences_post(request: Request) -> Response:
        """Pause marketing for 30/60/90 days, or ask for less: the gentler way out; or the choices
        form: the topics kept and whether mail may be personalised."""
        found = await recipient_link(request)
        if found is None:
            return NotFound()
        link, person = found
        language = pages.language_of(person.locale)
        form = await read_form(request, FORM_MAX_BYTES + TOPIC_FIELD_BYTES * len(offered),
                               max_fields=len(offered) + 4)
        if form is not None and "choices" in form:
            chosen = _chosen(form, offered)
            if chosen is None:
                return PageResponse(pages.bad_choice_page(language), status_code=400)
            kept, personalised = chosen
            client, agent = request.client, request.headers.get("user-agent")
            proof = events.Proof(clock.now(), client.host if client else None, agent)
            await run_in_threadpool(save_choices, link, kept, personalised, proof)
            log.info("choices customer=%d off=%s personalised=%s", link.customer_id,
                     ",".join(sorted(set(offered) - kept)) or "-", personalised)
            titles = [title for name, title in titled(language) if name in kept]
            return PageResponse(pages.choices_page(person.email, language, titles, personalised,
                                                   offered=bool(offered)))
        choice = _choice(form or {})
        if choice is None:
            return PageResponse(pages.bad_choice_page(language), status_code=400)
        paused_until = await run_in_threadpool(save_preference, link, choice)
        log.info("preference customer=%d choice=%s", link.customer_id, choice)
        return PageResponse(pages.saved_page(person.email, language, paused_until))

    def save_choices(link: Link, kept: frozenset[str], personalised: bool, proof: events.Proof) -> None:
        with sessions.begin() as session:
            events.choose(session, customer_id=link.customer_id, offered=offered, kept=kept,
                          personalised=personalised, proof=proof)

    def save_preference(link: Link, choice: int | str) -> datetime | None:
        """When the pause ends (None for "less")."""
        with sessions.begin() as session:
            if isinstance(choice, int):
                return events.pause(session, customer_id=link.customer_id, days=choice, now=clock.now())
            events.ask_for_less(session, customer_id=link.customer_id)
            return None

    def respondent_of(link: SurveyLink) -> answers.Respondent | None:
        with sessions() as session:
            return answers.respondent(session, link.customer_id, link.outbox_id)

    async def survey_respondent(request: Request) -> tuple[SurveyLink, answers.Respondent] | None:
        """The survey token's link and who it is for; None when either is unknown (a 404)."""
        link = read_survey_token(request.path_params["token"], keys)
        if link is None:
            return None
        person = await run_in_threadpool(respondent_of, link)
        return None if person is None else (link, person)

    def answer_now(
        link: SurveyLink, comment: str | None, click: bool, agent: str | None
    ) -> answers.RecordedAnswer | None:
        with sessions.begin() as session:
            return answers.record_answer(
                session, customer_id=link.customer_id, outbox_id=link.outbox_id, survey=link.survey,
                score=link.score, now=clock.now(), comment=comment, click=click, user_agent=agent,
            )

    async def survey_answer(request: Request) -> Response:
        """One click answers; a scanner's GET (by agent, address or timing) or any HEAD only gets a button."""
        found = await survey_respondent(request)
        if found is None:
            return NotFound()
        link, person = found
        language = pages.language_of(person.locale)
        now = clock.now()
        seconds = 0.0 if person.sent_at is None else (now - person.sent_at).total_seconds()
        agent, client = request.headers.get("user-agent"), request.client
        if request.method == "HEAD" or is_machine(agent, client.host if client else None, seconds, rules):
            return PageResponse(survey_pages.confirm_page(language, link.survey, link.score))
        answer = await run_in_threadpool(answer_now, link, None, True, agent)
        if answer is None:
            return NotFound()
        log.info("survey customer=%d %s=%d", link.customer_id, link.survey, link.score)
        return PageResponse(survey_pages.thanks_page(language, answer))

    async def survey_post(request: Request) -> Response:
        """The scanner page's button (a click) and the thank-you page's comment form land here."""
        found = await survey_respondent(request)
        if found is None:
            return NotFound()
        link, person = found
        language = pages.language_of(person.locale)
        form = await read_form(request, SURVEY_FORM_MAX_BYTES, max_fields=4, keep_blank=True)
        if form is None:
            return PageResponse(survey_pages.too_long_page(language), status_code=413)
        given = form.get("comment")  # absent: the confirm button, a click; present: the comment form
        comment = given[0] if given else None
        agent = request.headers.get("user-agent")
        answer = await run_in_threadpool(answer_now, link, comment, given is None, agent)
        if answer is None:
            return NotFound()
        shown = survey_pages.commented_page if answers.clean_comment(comment) else survey_pages.thanks_page
        return PageResponse(shown(language, answer))

    def store_feedback(found: list[Feedback]) -> list[FeedbackOutcome]:
        with sessions.begin() as session:
            return [events.record_feedback(session, item, clock.now(), authenticated=True) for item in found]

    async def hook(request: Request) -> Response:
        """parse → verify → normalise (edm.tracking.hooks) → events and suppressions, in one transaction."""
        provider = request.path_params["provider"]
        if hooks is None or provider not in hooks.enabled:
            return NotFound()
        body = await _body(request, hooks.settings.max_body_bytes)
        if body is None:
            return PlainTextResponse("too large", status_code=413, headers=NO_STORE)
        incoming = Incoming(body, {name.lower(): value for name, value in request.headers.items()})
        try:
            found = await run_in_threadpool(hooks.read, provider, incoming)
        except HookRefused as exc:
            log.warning("hook %s refused: %s", provider, exc)
            challenge = {"WWW-Authenticate": 'Basic realm="edm hooks"'} if exc.status == 401 else {}
            return PlainTextResponse("refused", status_code=exc.status, headers={**NO_STORE, **challenge})
        except HookMalformed as exc:
            log.warning("hook %s malformed: %s", provider, exc)
            return PlainTextResponse("malformed", status_code=400, headers=NO_STORE)
        outcomes = await run_in_threadpool(store_feedback, found)
        counts = {outcome.value: outcomes.count(outcome) for outcome in FeedbackOutcome}
        log.info("hook %s %s", provider, " ".join(f"{k}={v}" for k, v in counts.items()))
        return JSONResponse(counts, headers=NO_STORE)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok", "queue": writer.depth}, headers=NO_STORE)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await writer.aclose()
            log.info("event writer closed batches=%d stored=%d", writer.batches, writer.stored)

    app = Starlette(
        routes=[
            Route("/o/{token}.gif", open_pixel, methods=["GET"]),
            Route("/c/{token}", click, methods=["GET"]),
            Route("/u/{token}", unsubscribe_page, methods=["GET"]),
            Route("/u/{token}", unsubscribe_post, methods=["POST"]),
            Route("/u/{token}/preferences", preferences_post, methods=["POST"]),
            Route("/s/{token}", survey_answer, methods=["GET"]),
            Route("/s/{token}", survey_post, methods=["POST"]),
            Route("/hooks/{provider}", hook, methods=["POST"]),
            *signup,
            Route("/healthz", healthz, methods=["GET"]),
        ],
        middleware=[Middleware(HotPaths, hits=hits)],
        lifespan=lifespan,
    )
    app.state.events = writer
    return app


def _agent_ip(request: Request) -> tuple[str | None, str | None]:
    client = request.client
    return request.headers.get("user-agent"), client.host if client else None


async def _body(request: Request, max_bytes: int) -> bytes | None:
    """The body, or None once it is longer than `max_bytes` (read no further)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            return None
    return bytes(body)


def _chosen(
    form: dict[str, list[str]], offered: Mapping[str, Localized]
) -> tuple[frozenset[str], bool] | None:
    """The choices form: the topics ticked and whether personalisation is; None when it holds anything
    else (a topic not offered, a field twice, a field of another form)."""
    if set(form) - {"choices", "topic", "personalised"} or form["choices"] != ["1"]:
        return None
    ticked, personal = form.get("topic", []), form.get("personalised", [])
    if len(set(ticked)) != len(ticked) or any(topic not in offered for topic in ticked):
        return None
    if personal not in ([], ["yes"]):
        return None
    return frozenset(ticked), bool(personal)


def _choice(form: dict[str, list[str]]) -> int | str | None:
    """A pause in days (one of events.PAUSE_DAYS), "less", or None for anything else."""
    pause, frequency = form.get("pause", []), form.get("frequency", [])
    if len(pause) + len(frequency) != 1:
        return None
    if pause:
        return int(pause[0]) if pause[0] in {str(d) for d in events.PAUSE_DAYS} else None
    return events.LESS if frequency[0] == events.LESS else None
