"""Prometheus metrics of the server (one registry; multiprocess mode under several workers)."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter("govbot_http_requests_total", "HTTP requests", ["route", "status"])
REPLIES = Counter("govbot_replies_total", "Bot replies by action and channel", ["action", "channel"])
LATENCY = Histogram(
    "govbot_reply_seconds",
    "Time to answer one chat message",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0),
)
REFUSED_INPUT = Counter("govbot_refused_input_total", "JSON bodies refused at the boundary (400)")
RATE_LIMITED = Counter("govbot_rate_limited_total", "Requests refused by a rate limit", ["scope"])


def render() -> tuple[bytes, str]:
    """The exposition text; aggregates all workers when PROMETHEUS_MULTIPROC_DIR is set."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
