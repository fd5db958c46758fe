"""Campaigns: what is there, when each is due next, and what its last run did; and one message
of an `api: true` campaign to one customer (`send`), ahead of bulk mail when it is service mail.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from edm.api import schemas as s
from edm.api.routes.events import IDEMPOTENCY_KEY, MAX_KEY
from edm.api.routing import ApiError, Call, Operation
from edm.campaigns.direct import NoConsent, send_to_one
from edm.campaigns.loader import CampaignFolder, read_campaigns
from edm.campaigns.schema import Campaign
from edm.campaigns.triggers import next_due
from edm.errors import CampaignError
from edm.store import Customer, OutboxMessage


def list_campaigns(call: Call) -> tuple[int, s.CampaignList]:
    folder = _folder(call)
    with call.services.sessions() as session:
        found = [_campaign(session, loaded.campaign, call) for _, loaded in sorted(folder.files.items())]
    return 200, s.CampaignList(campaigns=found, problems=folder.problems)


def get_campaign(call: Call) -> tuple[int, s.CampaignOut]:
    folder = _folder(call)
    loaded = folder.files.get(call.path["name"])
    if loaded is None:
        raise ApiError(404, "not_found", f"no campaign named {call.path['name']!r} loads")
    with call.services.sessions() as session:
        return 200, _campaign(session, loaded.campaign, call)


def send(call: Call) -> tuple[int, s.Queued]:
    body: s.SendIn = call.body
    loaded = _folder(call).files.get(call.path["name"])
    if loaded is None:
        raise ApiError(404, "not_found", f"no campaign named {call.path['name']!r} loads")
    if not loaded.campaign.api:
        raise ApiError(409, "not_api", f"campaign {loaded.campaign.name!r} is planned by its trigger; "
                       "set `api: true` in its file to send it through the API")
    key = call.headers.get(IDEMPOTENCY_KEY)
    if key is not None and not 0 < len(key) <= MAX_KEY:
        raise ApiError(422, "invalid", "Idempotency-Key must be 1 to 128 characters",
                       [(None, "Idempotency-Key", f"must be 1 to {MAX_KEY} characters")])
    with call.services.sessions() as session:
        customer_id = session.scalar(select(Customer.id).where(Customer.external_id == body.customer))
    if customer_id is None:
        raise ApiError(422, "invalid", f"no customer {body.customer!r}",
                       [(None, "customer", f"no customer {body.customer!r} in the store")])
    try:
        outbox_id = send_to_one(call.services.sessions, loaded.campaign, customer_id, body.data, call.now,
                                idempotency_key=key, consent=call.services.settings.consent)
    except NoConsent as exc:
        raise ApiError(409, "no_consent", str(exc)) from exc
    return 202, s.Queued(outbox_id=outbox_id)


def _folder(call: Call) -> CampaignFolder:
    try:
        return read_campaigns(call.services.settings.campaigns_dir)
    except CampaignError as exc:
        raise ApiError(503, "unavailable", str(exc)) from exc


def _campaign(session: Session, campaign: Campaign, call: Call) -> s.CampaignOut:
    from edm.cli import trigger_text

    mine = OutboxMessage.campaign == campaign.name
    last = session.scalar(select(func.max(OutboxMessage.occurrence)).where(mine))
    run = None
    if last is not None:
        states = session.execute(
            select(OutboxMessage.state, func.count()).where(OutboxMessage.campaign == campaign.name,
                                                            OutboxMessage.occurrence == last)
            .group_by(OutboxMessage.state))
        run = s.LastRun(occurrence=last, states={state: count for state, count in states})
    return s.CampaignOut(name=campaign.name, kind=campaign.kind, description=campaign.description,
                         trigger=trigger_text(campaign), next_due=next_due(campaign, call.now.date()),
                         last_run=run)


OPERATIONS = (
    Operation("GET", "/v1/campaigns", "listCampaigns", "campaigns:read",
              "Every campaign that loads, its next due day and its last run's figures", list_campaigns,
              s.CampaignList),
    Operation("GET", "/v1/campaigns/{name}", "getCampaign", "campaigns:read",
              "One campaign: next due day and last run's figures", get_campaign, s.CampaignOut,
              responses={404: "no such campaign"}),
    Operation("POST", "/v1/campaigns/{name}/send", "sendCampaign", "campaigns:send",
              "Queue one message of an `api: true` campaign to one customer, with data for its template",
              send, s.Queued, s.SendIn, status=202, headers=("Idempotency-Key",),
              responses={404: "no such campaign",
                         409: "not an api campaign, or the customer has no consent for its kind"}),
)
