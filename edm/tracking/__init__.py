"""Tracking: signed links in mail, and the server that records opens, clicks and unsubscribes.

Names are imported on first use (edm.lazy): the sender reaches `edm.tracking.links` to sign its links,
and must not load the server (Starlette, uvicorn) with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edm.lazy import lazy_names

if TYPE_CHECKING:
    from edm.tracking.app import create_tracking_app
    from edm.tracking.events import Hit, customer_email, record_event, record_hits, unsubscribe
    from edm.tracking.ingest import EventWriter, IngestError
    from edm.tracking.links import Link, SurveyLink, TrackingLinks, is_web_url, read_survey_token, read_token
    from edm.tracking.machine import MachineRules, is_machine, machine_reason
    from edm.tracking.server import serve_forever, serve_in_background
    from edm.tracking.tokens import sign, verify

__all__ = [
    "EventWriter",
    "Hit",
    "IngestError",
    "Link",
    "MachineRules",
    "SurveyLink",
    "TrackingLinks",
    "create_tracking_app",
    "customer_email",
    "is_machine",
    "is_web_url",
    "machine_reason",
    "read_survey_token",
    "read_token",
    "record_event",
    "record_hits",
    "serve_forever",
    "serve_in_background",
    "sign",
    "unsubscribe",
    "verify",
]

__getattr__ = lazy_names(__name__, {
    "create_tracking_app": "app",
    "Hit": "events", "customer_email": "events", "record_event": "events", "record_hits": "events",
    "unsubscribe": "events",
    "EventWriter": "ingest", "IngestError": "ingest",
    "Link": "links", "SurveyLink": "links", "TrackingLinks": "links", "is_web_url": "links",
    "read_survey_token": "links", "read_token": "links",
    "MachineRules": "machine", "is_machine": "machine", "machine_reason": "machine",
    "serve_forever": "server", "serve_in_background": "server",
    "sign": "tokens", "verify": "tokens",
})
