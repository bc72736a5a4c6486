"""The retry policy every outbox shares, as a settings section: back-off, give-up and lease.

Kept apart from core/outbox.py (which needs SQLAlchemy) so that loading the settings needs only
pydantic: the Rasa action server's own environment has no database driver.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field


class RetryPolicy(BaseModel):
    """Retry settings, the same names and meanings for every outbox (each section its defaults)."""

    model_config = ConfigDict(extra="forbid")

    backoff_base_seconds: float = Field(
        30.0, gt=0, description="Delay after the first failed attempt; doubles with each further one"
    )
    backoff_max_seconds: float = Field(3600.0, gt=0, description="Longest delay between two attempts (cap)")
    give_up_attempts: int = Field(
        0, ge=0, description="Mark a row failed after this many failed attempts (0 = no limit)"
    )
    give_up_hours: float = Field(
        0.0,
        ge=0,
        description="Mark a row failed when an attempt fails this long after it was queued (0 = no limit)",
    )
    lease_seconds: float = Field(
        16.0,
        gt=0,
        description="A claimed row is hidden from other workers this long, then another may take it; "
        "keep it above the time one send may take",
    )

    def delay(self, attempts: int) -> timedelta:
        """Wait after the `attempts`-th failed attempt: base × 2^(attempts-1), capped."""
        exponent = min(max(attempts - 1, 0), 62)  # 2**62 s is beyond any cap; avoids huge floats
        return timedelta(seconds=min(self.backoff_base_seconds * 2**exponent, self.backoff_max_seconds))

    def gives_up(self, *, attempts: int, age: timedelta) -> bool:
        """True when a failed attempt is the last one (both limits 0: retried forever)."""
        if self.give_up_attempts and attempts >= self.give_up_attempts:
            return True
        return bool(self.give_up_hours) and age >= timedelta(hours=self.give_up_hours)

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.lease_seconds)


# Refusals worth repeating later (timeout, conflict, too early, too many requests); any other 4xx
# says the request itself is wrong, and sending it again cannot help.
TRANSIENT_4XX = frozenset({408, 409, 425, 429})


def refusal_is_permanent(status_code: int) -> bool:
    """Whether an HTTP error status means "do not send this again" (a 4xx about the request)."""
    return 400 <= status_code < 500 and status_code not in TRANSIENT_4XX
