"""One way to say "a dependency is down, an in-process fallback is serving": a warning in the
log and the `govbot_degraded_total` metric, by dependency and by the part that fell back."""

from __future__ import annotations

import logging

from prometheus_client import Counter

log = logging.getLogger("govbot.degraded")

DEGRADED = Counter(
    "govbot_degraded_total",
    "Operations served by a fallback because a dependency was down",
    ["dependency", "part"],
)


def report(dependency: str, part: str, error: BaseException | None = None) -> None:
    """Count one degraded operation; log a warning (`<dependency>.down`) with the error."""
    DEGRADED.labels(dependency, part).inc()
    if error is not None:
        log.warning(f"{dependency}.down", extra={"part": part, "error": str(error)[:160]})
