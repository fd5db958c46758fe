"""Orders (one, a batch), contacts and share-of-wallet estimates: rows as the importer writes them."""

from __future__ import annotations

from typing import Any

from edm.api import schemas as s
from edm.api.routing import ApiError, Call, Operation
from edm.api.rows import store_items
from edm.config import ImportKind
from edm.consent.imported import lookup_keys
from edm.errors import ConfigError


def _store(call: Call, kind: ImportKind, items: list[dict[str, Any]]) -> tuple[int, s.Written]:
    services = call.services
    try:
        written = store_items(services.sessions, kind, items, call.now, services.settings.imports,
                              lookup_keys(services.settings))
    except ConfigError as exc:  # erased mailboxes to check, and no key to check them with
        raise ApiError(503, "unavailable", str(exc)) from exc
    customers = sorted({str(item["customer_external_id"]) for item in items})
    services.on_change(kind, {"customer_external_ids": customers})
    return (201 if written.inserted else 200), s.Written(
        inserted=written.inserted, updated=written.updated, unchanged=written.unchanged)


def post_order(call: Call) -> tuple[int, s.Written]:
    return _store(call, "orders", [call.body.model_dump(exclude_unset=True)])


def batch_orders(call: Call) -> tuple[int, s.Written]:
    items = [item.model_dump(exclude_unset=True) for item in call.body.items]
    return 200, _store(call, "orders", items)[1]


def post_contact(call: Call) -> tuple[int, s.Written]:
    return _store(call, "contacts", [call.body.model_dump(exclude_unset=True)])


def post_wallet(call: Call) -> tuple[int, s.Written]:
    return _store(call, "wallet", [call.body.model_dump(exclude_unset=True)])


_IDEMPOTENT = "Idempotent by external_id: the same order again changes nothing (200, unchanged 1)"
OPERATIONS = (
    Operation("POST", "/v1/orders", "postOrder", "orders:write", f"Record an order. {_IDEMPOTENT}",
              post_order, s.Written, s.OrderItem, status=201),
    Operation("POST", "/v1/orders:batch", "batchOrders", "orders:write",
              "Record orders; one bad item and none is written", batch_orders, s.Written, s.OrdersBatch),
    Operation("POST", "/v1/contacts", "postContact", "customers:write",
              "Add or update a contact at a customer company", post_contact, s.Written, s.ContactItem,
              status=201),
    Operation("POST", "/v1/wallet", "postWallet", "customers:write",
              "Set a customer's share-of-wallet estimate", post_wallet, s.Written, s.WalletItem, status=201),
)
