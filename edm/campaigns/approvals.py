"""Campaign approvals: a campaign with `approval: required` is planned only while one stands.

Approving and revoking are recorded with the user and the time, in `campaign_approvals` and in the
audit log (edm.privacy.audit), in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from edm.privacy.audit import record_audit
from edm.store import CampaignApproval

APPROVE, REVOKE_APPROVAL = "approve", "revoke_approval"


@dataclass(frozen=True, slots=True)
class Approval:
    campaign: str
    approved_by: str
    approved_at: datetime


def standing_approvals(session: Session, campaigns: Iterable[str] | None = None) -> dict[str, Approval]:
    """The approval standing now per campaign (the latest not revoked), of `campaigns` or all."""
    query = select(CampaignApproval).where(CampaignApproval.revoked_at.is_(None))
    if campaigns is not None:
        query = query.where(CampaignApproval.campaign.in_(list(campaigns)))
    found: dict[str, Approval] = {}
    for row in session.scalars(query.order_by(CampaignApproval.approved_at, CampaignApproval.id)):
        found[row.campaign] = Approval(row.campaign, row.approved_by, row.approved_at)
    return found


def approve(session: Session, campaign: str, user: str, now: datetime) -> bool:
    """Approve `campaign` as `user`; False when an approval stands already (nothing written)."""
    if standing_approvals(session, [campaign]):
        return False
    session.add(CampaignApproval(campaign=campaign, approved_by=user, approved_at=now))
    record_audit(session, f"console:{user}", APPROVE, f"campaign {campaign}", now)
    return True


def revoke(session: Session, campaign: str, user: str, now: datetime) -> bool:
    """Withdraw the standing approval of `campaign`; False when none stood."""
    done = cast(Any, session.execute(
        update(CampaignApproval)
        .where(CampaignApproval.campaign == campaign, CampaignApproval.revoked_at.is_(None))
        .values(revoked_at=now)
    )).rowcount
    if not done:
        return False
    record_audit(session, f"console:{user}", REVOKE_APPROVAL, f"campaign {campaign}", now)
    return True
