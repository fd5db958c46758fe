"""Engagement levels for audiences: how recently a customer read or clicked our mail.

The same cut-offs as the peers' "engaged in the last 30 / 90 days" segments, on the
last human open or click (`last_engaged_at`): active within ACTIVE_DAYS, cooling within
COOLING_DAYS, dormant after that. Never engaged (including never mailed) is its own
level, so a rule can leave out people we have no signal from at all. Compiled to SQL in
`edm.campaigns.audience`.
"""

from __future__ import annotations

from typing import Literal

EngagementLevel = Literal["active", "cooling", "dormant", "never"]
ACTIVE_DAYS = 30  # engaged within the last 30 days
COOLING_DAYS = 90  # last engaged 30 to 90 days ago; dormant after that

