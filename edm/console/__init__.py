"""The web console (`edm console`): sign-in and roles, today's sending, campaigns, customers."""
