"""12345 tickets: models, lifecycle, SLA clock, routing, sweeper and webhook notifications."""
