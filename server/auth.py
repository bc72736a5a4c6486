"""Who is calling the agent and admin APIs, and what they may do.

API tokens come from GOVBOT_API_TOKENS ('token:role,token:role'); what each role may do is
core/permissions.py's matrix (roles are not ranked). Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from core.vocab import ROLES


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    department: str | None = None


class TokenTable:
    def __init__(self, spec: str) -> None:
        self._tokens: list[tuple[str, Principal]] = []
        for n, entry in enumerate(p.strip() for p in spec.split(",") if p.strip()):
            token, _, role = entry.partition(":")
            if role not in ROLES or len(token) < 16:
                raise ValueError(
                    f"GOVBOT_API_TOKENS entry {n + 1}: expected 'token:role' with a token of at least "
                    f"16 characters and a role in {', '.join(ROLES)}"
                )
            self._tokens.append((token, Principal(name=f"token-{n + 1}", role=role)))

    def lookup(self, token: str) -> Principal | None:
        found = None
        for known, principal in self._tokens:  # no early exit: timing says nothing
            if hmac.compare_digest(known.encode(), token.encode()):
                found = principal
        return found
