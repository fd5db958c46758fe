"""Alerts to account managers: a digest of their customers who need attention, by mail."""
