"""Custom events (`quote_requested`, `contract_signed`, ...), stored once per idempotency key.

The customer is named by external_id (an email can be shared by several customers). The key is
the Idempotency-Key header, else the body's `id`; without either every call stores a new event.
"""

from __future__ import annotations

from sqlalchemy import select

from edm.api import schemas as s
from edm.api.routing import ApiError, Call, Operation
from edm.store import Customer, CustomerEvent
from edm.store.engine import dialect_insert

IDEMPOTENCY_KEY = "idempotency-key"
MAX_KEY = 128


def post_event(call: Call) -> tuple[int, s.EventStored]:
    body: s.EventIn = call.body
    key = call.headers.get(IDEMPOTENCY_KEY) or body.id
    if key is not None and not 0 < len(key) <= MAX_KEY:
        raise ApiError(422, "invalid", "Idempotency-Key must be 1 to 128 characters",
                       [(None, "Idempotency-Key", f"must be 1 to {MAX_KEY} characters")])
    with call.services.sessions.begin() as session:
        customer_id = session.scalar(select(Customer.id).where(Customer.external_id == body.customer))
        if customer_id is None:
            raise ApiError(422, "invalid", f"no customer {body.customer!r}",
                           [(None, "customer", f"no customer {body.customer!r} in the store")])
        row = {"customer_id": customer_id, "name": body.name, "properties": body.properties,
               "occurred_at": body.occurred_at, "received_at": call.now, "idempotency_key": key,
               "source": "api"}
        insert = dialect_insert(session)(CustomerEvent).values(row)
        if key is not None:
            insert = insert.on_conflict_do_nothing(index_elements=["idempotency_key"])
        new_id = session.scalar(insert.returning(CustomerEvent.id))
        if new_id is None:
            stored = session.scalar(select(CustomerEvent.id).where(CustomerEvent.idempotency_key == key))
            assert stored is not None
            return 200, s.EventStored(id=stored, duplicate=True)
    call.services.on_change("event", {"customer_id": customer_id, "name": body.name, "event_id": new_id})
    return 201, s.EventStored(id=new_id, duplicate=False)


OPERATIONS = (
    Operation("POST", "/v1/events", "postEvent", "events:write",
              "Record a customer's custom event; idempotent by Idempotency-Key or id", post_event,
              s.EventStored, s.EventIn, status=201, headers=("Idempotency-Key",)),
)
