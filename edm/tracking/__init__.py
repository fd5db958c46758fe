"""Tracking: signed links in mail, and the server that records opens, clicks and unsubscribes."""

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
