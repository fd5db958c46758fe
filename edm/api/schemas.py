"""The API's request and response bodies, as pydantic models (the OpenAPI document is built from them).

Request models only check a body's shape (which fields, text or number). What a value must be (an
email, a date, an amount) is checked by the importer's own rules (edm.customers.checks), so a row
is judged the same whether it came in a file or over HTTP. Field names are the import columns'.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StrictFloat, StrictInt

MAX_TEXT = 1000  # a cell longer than any column allows; the importer's own limits are tighter


def _plain_text(text: str) -> str:
    if "\x00" in text:
        raise ValueError("contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("is not valid Unicode text") from exc
    return text


Text = Annotated[str, Field(max_length=MAX_TEXT), AfterValidator(_plain_text)]
Number = StrictInt | StrictFloat | Text  # 12.5, 12 or "12.50": read by the importer's rules
AttributeValue = StrictInt | StrictFloat | Text


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CustomerFields(_Body):
    """A customer, as a row of a customers import file. Fields left out keep their stored values."""

    name: Text
    kind: Text = Field(description="company or person")
    email: Text
    contact_name: Text | None = None
    locale: Text | None = Field(None, description="e.g. en, zh-Hans; default imports.default_locale")
    timezone: Text | None = Field(None, description="IANA zone, e.g. Asia/Shanghai")
    country: Text | None = Field(None, description="ISO 3166 code; default: read off locale and zone")
    industry: Text | None = None
    birthday: Text | None = Field(None, description="a date, e.g. 1980-05-17")
    founded_on: Text | None = Field(None, description="a date, e.g. 2004-03-01")
    tags: list[Text] | Text | None = Field(None, description="a list, or one text separated by , ; |")
    account_manager: Text | None = None
    account_manager_email: Text | None = None
    attributes: dict[str, AttributeValue] | None = Field(
        None, description="custom attributes (replace the stored set): names [a-z][a-z0-9_]*")


class CustomerItem(CustomerFields):
    external_id: Text


class CustomersBatch(_Body):
    items: list[CustomerItem] = Field(min_length=1)


class OrderItem(_Body):
    """An order, as a row of an orders import file; upserted by its `external_id`."""

    external_id: Text
    customer_external_id: Text
    ordered_at: Text = Field(description="a timestamp, e.g. 2026-11-24T09:30:00+08:00")
    amount: Number
    product_line: Text | None = None
    cost: Number | None = None
    margin: Number | None = None


class OrdersBatch(_Body):
    items: list[OrderItem] = Field(min_length=1)


class ContactItem(_Body):
    """A contact at a customer company; upserted by (customer, email)."""

    customer_external_id: Text
    email: Text
    name: Text | None = None
    role: Text | None = None
    birthday: Text | None = None


class WalletItem(_Body):
    """A share-of-wallet estimate, one per customer: give a share, a category_spend, or both."""

    customer_external_id: Text
    share: Number | None = Field(None, description="0 to 1, or a percentage like \"35%\"")
    category_spend: Number | None = None
    estimated_on: Text | None = Field(None, description="a date; default today")


class EventIn(_Body):
    """Something a customer did in your systems: `quote_requested`, `contract_signed`, ..."""

    id: Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_plain_text)] | None = Field(
        None, description="your id for the event: sending it twice stores it once (or Idempotency-Key)")
    customer: Text = Field(description="the customer's external_id")
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="lower_snake_case, e.g. quote_requested")
    properties: dict[str, Any] | None = None
    occurred_at: AwareDatetime = Field(description="with its UTC offset, e.g. 2026-11-24T09:30:00Z")


class SendIn(_Body):
    """One message of an `api: true` campaign to one customer, with data for its template."""

    customer: Text = Field(description="the customer's external_id")
    data: dict[str, Any] = Field(default_factory=dict, description="`{{ data.x }}` in its templates")


class ConsentIn(_Body):
    """A consent the customer gave (or withdrew) in your systems; recorded now, with source `api`."""

    basis: Literal["explicit", "existing_customer", "none"] = Field(
        description="explicit: they agreed to marketing mail; existing_customer: the soft opt-in of a "
                    "customer; none: no basis (service mail only)")
    status: Literal["granted", "pending", "withdrawn"] = Field("granted", description="pending, withdrawn: "
                                                                                      "basis none in effect")
    wording_version: Annotated[str, Field(max_length=64), AfterValidator(_plain_text)] | None = Field(
        None, description="the version of the consent text the person was shown, e.g. 2026-11")


class SubscriptionChange(_Body):
    reason: Annotated[str, Field(max_length=500), AfterValidator(_plain_text)] | None = None
    source: Annotated[str, Field(max_length=64), AfterValidator(_plain_text)] | None = Field(
        None, description="where the person asked, e.g. shop_account, call_center")


# ---- responses ------------------------------------------------------------------------------


class Written(BaseModel):
    """Rows written: inserted + updated + unchanged = the items sent."""

    inserted: int
    updated: int
    unchanged: int


class EventStored(BaseModel):
    id: int
    duplicate: bool = Field(description="true: this id or Idempotency-Key was stored before; nothing new")


class Queued(BaseModel):
    outbox_id: int = Field(description="the queued message; the same Idempotency-Key gives the same one")


class Subscription(BaseModel):
    external_id: str
    email: str
    subscribed: bool
    suppressed_reason: str | None = Field(
        description="why the address still gets no mail: unsubscribed, hard_bounce, complaint")


class ConsentOut(BaseModel):
    recorded: bool = Field(description="false: nothing recorded; the customer relationship is the basis")
    basis: str = Field(description="as recorded (existing_customer when nothing is)")
    status: str | None
    source: str | None = Field(description="import:FILE, api, signup, preferences, erased, ...")
    recorded_at: datetime | None
    wording_version: str | None
    basis_now: str = Field(description="the basis that holds now: explicit, existing_customer (within "
                                       "consent.soft_opt_in_months) or none")
    marketing_allowed: bool = Field(description="whether marketing mail may be sent now, by consent")
    reason: str = Field(description="why: the basis in words, or why marketing is held")


class Reasoned(BaseModel):
    name: str
    value: str
    reason: str


class CustomerOut(BaseModel):
    external_id: str
    name: str
    email: str
    kind: str
    locale: str
    timezone: str
    country: str | None
    tags: str | None
    subscribed: bool
    suppressed_reason: str | None
    classes: list[Reasoned] = Field(description="every class with the reason; empty until classified")
    engagement: list[Reasoned]
    next_contact: str | None = Field(description="when marketing mail may next go: now, a time, sunset")
    consent: ConsentOut


class LastRun(BaseModel):
    occurrence: date
    states: dict[str, int] = Field(description="outbox rows of that run by state: queued, sent, failed, ...")


class CampaignOut(BaseModel):
    name: str
    kind: str
    description: str
    trigger: str
    next_due: date | None = Field(description="the next day it is due on, within 400 days")
    last_run: LastRun | None


class CampaignList(BaseModel):
    campaigns: list[CampaignOut]
    problems: list[str] = Field(description="campaign files that do not load (left out)")


class FieldError(BaseModel):
    item: int | None = Field(description="the item's position in a batch (0 first); null for one item")
    field: str
    reason: str


class ErrorOut(BaseModel):
    error: str = Field(description="unauthorized, forbidden, not_found, too_large, invalid, ...")
    message: str
    errors: list[FieldError] = []


class Download(BaseModel):
    """A file answered as it is (an operation whose `media_type` is not JSON), not as a JSON body."""

    filename: str
    content: bytes


class Erased(BaseModel):
    """What an erasure did (docs/privacy.md): the customer's internal number, never their id or address."""

    customer: int
    mailboxes: int  # forgotten: kept only as keyed hashes
    contacts: int
    mails: int
    events: int
    cancelled: int  # unsent mails cancelled
