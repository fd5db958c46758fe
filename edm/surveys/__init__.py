"""Satisfaction surveys: one-click CSAT and NPS answers, and what they say about a customer."""
