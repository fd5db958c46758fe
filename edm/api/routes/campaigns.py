"""Campaigns: what is there, when each is due next, and what its last run did.

(`POST /v1/campaigns/{name}/send` belongs here too, as one more entry of `OPERATIONS`.)
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from edm.api import schemas as s
from edm.api.routing import ApiError, Call, Operation
from edm.campaigns.loader import CampaignFolder, read_campaigns
from edm.campaigns.schema import Campaign
from edm.campaigns.triggers import next_due
from edm.errors import CampaignError
from edm.store import OutboxMessage


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
)
