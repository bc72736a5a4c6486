"""Who may do what, declared once: role × action × department.

Each action maps a role to the departments it may act in: `ANY` (every department: the
12345 centre) or `OWN` (tickets of the account's own department: a department handler).
A role missing from an action's row may not do it. The server checks the role on every
route (server/deps.py `Allowed`); the ticket layer applies the department part when it
loads a ticket. tests/server/test_hardening.py walks every route of the real app against it.
"""

from __future__ import annotations

from typing import Literal

Scope = Literal["any", "own"]
ANY: Scope = "any"
OWN: Scope = "own"

_CENTRE: dict[str, Scope] = {"agent": ANY, "supervisor": ANY, "admin": ANY}
_OVERSEERS: dict[str, Scope] = {"supervisor": ANY, "admin": ANY}
_STAFF: dict[str, Scope] = {**_CENTRE, "handler": OWN}

MATRIX: dict[str, dict[str, Scope]] = {
    "ticket.create": _CENTRE,  # sets department and urgency, and reaches the 12345 platform
    "ticket.update": _CENTRE,  # corrections before dispatch; may re-route through the category
    "ticket.read": _STAFF,
    "ticket.list": _STAFF,
    "ticket.transition": _STAFF,  # which step is the lifecycle's business (tickets/lifecycle.py)
    "ticket.promote": _OVERSEERS,  # a closed ticket's answer into the knowledge base
    "ticket.note": _STAFF,  # internal notes: staff only, never shown to citizens
    "ticket.assign": _STAFF,  # who works it; a handler only within their department
    "agent.suggest": _STAFF,  # public knowledge: agents on a call, handlers drafting a reply
    "console.draft": _CENTRE,
    "handoff.work": _CENTRE,  # live chats: the inbox, take, reply, close
    "console.meta": _STAFF,
    "report.read": _OVERSEERS,
    "settings.read": {"admin": ANY},
    "user.manage": _OVERSEERS,  # accounts; only an admin creates or changes an admin
    "kb.manage": _OVERSEERS,  # edit, import, unpublish, unanswered questions into FAQs
    "audit.read": _OVERSEERS,  # the staff actions log
    "account.self": _STAFF,  # who am I, log out
}
"""action -> {role: scope}; absent roles are refused."""


def scope(role: str, action: str) -> Scope | None:
    """Where `role` may do `action` (None: not at all). An unknown action is a bug: KeyError."""
    return MATRIX[action].get(role)


def allows(role: str, action: str, *, department: str | None = None, own: str | None = None) -> bool:
    """May `role` (of department `own`) do `action` on something of `department`?"""
    where = scope(role, action)
    if where == ANY:
        return True
    if where == OWN:
        return department is None or (bool(own) and own == department)
    return False
