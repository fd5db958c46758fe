"""The HTTP API (`edm serve`): customers, orders and events in; cards and campaigns out (docs/api.md)."""

from edm.api.app import create_api_app, with_tracking

__all__ = ["create_api_app", "with_tracking"]
