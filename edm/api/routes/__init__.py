"""The API's resources, each a module with its `OPERATIONS` table."""

from __future__ import annotations

from edm.api.routes import campaigns, customers, events, orders
from edm.api.routing import Operation

OPERATIONS: tuple[Operation, ...] = (
    *customers.OPERATIONS, *orders.OPERATIONS, *events.OPERATIONS, *campaigns.OPERATIONS,
)
