"""Tracking: signed links in mail, and the server that records opens, clicks and unsubscribes."""

from edm.tracking.app import create_tracking_app
from edm.tracking.events import customer_email, record_event, unsubscribe
from edm.tracking.links import Link, TrackingLinks, is_web_url, read_token
from edm.tracking.server import serve_forever, serve_in_background
from edm.tracking.tokens import sign, verify

__all__ = [
    "Link",
    "TrackingLinks",
    "create_tracking_app",
    "customer_email",
    "is_web_url",
    "read_token",
    "record_event",
    "serve_forever",
    "serve_in_background",
    "sign",
    "unsubscribe",
    "verify",
]
