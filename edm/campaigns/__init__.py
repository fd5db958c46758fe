"""Campaigns: the YAML language, its loader, audiences and the planner."""
