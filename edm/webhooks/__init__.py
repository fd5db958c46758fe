"""Outbound webhooks: events written to a durable outbox in the emitting transaction, then delivered,
signed per the Standard Webhooks specification, with retries, a dead state and replay
(docs/webhooks-out.md)."""
