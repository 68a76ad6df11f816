"""Infrastructure every domain uses: errors, the event bus, idempotency, offloading, images,
rate limits, health, text hygiene, housekeeping and the audit log. Knows no domain."""
