# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Who may run which level (the seed's matrix): on-call Level 1, an engineering manager Level 2, the CTO Level 3.

Pure: the people (inventory data), the run's requester, approver and break-glass reason in, a decision out. The
frame's preflight applies it before any write; every decision goes to the audit trail.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._audit import pii_findings

ROLES = ("on_call", "engineering_manager", "cto")
# The role a level needs from whoever authorizes it; a higher role may authorize a lower level.
REQUIRED = {1: "on_call", 2: "engineering_manager", 3: "cto", "forward": "engineering_manager"}
RANK = {role: rank for rank, role in enumerate(ROLES)}
NOT_ENFORCED = "Authorization not enforced: the inventory names no people (hybrid_routing_people)."


class AuthorizationError(ValueError):
    """The run is not authorized, or the people data is malformed; the message says what to do."""


def _roles(people: dict[str, Any], person: str) -> list[str]:
    entry = people.get(person)
    if not isinstance(entry, dict) or not isinstance(entry.get("roles"), list):
        return []
    return [role for role in entry["roles"] if role in RANK]


def _highest(people: dict[str, Any], person: str) -> int:
    return max((RANK[role] for role in _roles(people, person)), default=-1)


def check_people(people: Any) -> None:
    if not isinstance(people, dict):
        raise AuthorizationError("hybrid_routing_people must be a mapping of person ids to {roles: [...]}")
    for person, entry in people.items():
        roles = entry.get("roles") if isinstance(entry, dict) else None
        if not isinstance(roles, list) or not roles or any(role not in RANK for role in roles):
            raise AuthorizationError(f"hybrid_routing_people: {person!r} needs roles, a list of "
                                     f"{', '.join(ROLES)} (got {roles!r})")


def not_enforced(level: int, direction: str, requester: str, approver: str) -> dict[str, Any]:
    """The decision where the inventory names no people: nothing is checked, and every record says so."""
    key: Any = "forward" if direction == "forward" else level
    return {"requester": requester or None, "approver": approver or None, "required_role": REQUIRED[key],
            "break_glass": False, "automatic": False, "enforced": False, "authorized_by": None, "reason": NOT_ENFORCED}


def authorize(people: dict[str, Any] | None, level: int, direction: str, requester: str, approver: str,
              break_glass_reason: str, automatic: bool = False, trigger: str = "", ceiling: int = 0
              ) -> dict[str, Any]:
    """The decision for one run; raises AuthorizationError with the reason when it is refused."""
    key: Any = "forward" if direction == "forward" else level
    required = REQUIRED[key]
    what = "a roll-forward" if key == "forward" else f"Level {level}"
    base = {"requester": requester or None, "approver": approver or None, "required_role": required,
            "break_glass": False, "automatic": automatic}
    if automatic:
        if key == "forward" or level > ceiling:
            raise AuthorizationError(f"An automatic rollback may run up to Level {ceiling}, not {what}.")
        return dict(base, enforced=True, authorized_by=f"trigger rules: {trigger}",
                    reason=f"{what} authorized by the trigger rules that fired ({trigger}), within the automatic "
                           f"ceiling (Level {ceiling}).")
    if not people:
        return not_enforced(level, direction, requester, approver)
    check_people(people)
    if not requester:
        raise AuthorizationError(f"{what} needs a requester: set hybrid_routing_requester to your id in "
                                 "hybrid_routing_people.")
    if requester not in people:
        raise AuthorizationError(f"The requester {requester!r} is not in hybrid_routing_people.")
    if approver and approver not in people:
        raise AuthorizationError(f"The approver {approver!r} is not in hybrid_routing_people.")
    needed = RANK[required]
    if key == 3 and approver and approver == requester:
        raise AuthorizationError("Level 3 cannot be approved by the person who requests it: name another "
                                 "approver with the role cto (hybrid_routing_approver).")
    if _highest(people, requester) >= needed and key != 3:
        return dict(base, enforced=True, authorized_by=requester,
                    reason=f"{what} requested by {requester}, who holds the role {required} or higher.")
    if approver:
        if _highest(people, approver) < needed:
            raise AuthorizationError(f"{what} needs an approver with the role {required}; {approver!r} has "
                                     f"{', '.join(_roles(people, approver)) or 'no role'}.")
        return dict(base, enforced=True, authorized_by=approver,
                    reason=f"{what} requested by {requester}, approved by {approver} ({required}).")
    if key == 2 and break_glass_reason.strip() and _highest(people, requester) >= RANK["on_call"]:
        return dict(base, enforced=True, authorized_by=requester, break_glass=True,
                    break_glass_reason=break_glass_reason.strip(),
                    reason=f"BREAK GLASS: Level 2 run by {requester} (on call) without an engineering manager's "
                           "approval; an engineering manager must confirm it afterwards.")
    hint = " or, on call with no manager answering, set hybrid_routing_break_glass_reason" if key == 2 else ""
    raise AuthorizationError(f"{what} needs the approval of someone with the role {required}: set "
                             f"hybrid_routing_approver{hint}.")


def decide(level: int, direction: str, requester: str, approver: str, people: Any, break_glass_reason: str,
           automatic: bool, trigger: str, ceiling: int, approval: dict[str, Any] | None = None) -> dict[str, Any]:
    """A task result: {"authorization": decision}, or a failure that names what is wrong, before any write. A
    refused run's result carries the decision too (refused, who and why): its record and messages say so.

    approval: who approved, as AWX recorded it (module_utils/_awx.py). Verified, that approver is the one checked
    and recorded; the run's own hybrid_routing_approver is kept beside it as the claim."""
    if approval and approval.get("verified"):
        approver = str(approval.get("approved_by") or "")
    found = pii_findings({"break_glass_reason": break_glass_reason}, ["break_glass_reason"])
    if found:
        return {"failed": True, "changed": False,
                "msg": f"The break-glass reason holds what looks like {found[0][1]}: write it without personal "
                       "data. Nothing was read or written."}
    try:
        decision = authorize(people, level, direction, requester, approver, break_glass_reason, automatic, trigger,
                             ceiling)
    except AuthorizationError as exc:
        key: Any = "forward" if direction == "forward" else level
        refused = {"requester": requester or None, "approver": approver or None, "required_role": REQUIRED[key],
                   "break_glass": False, "automatic": automatic, "enforced": True, "refused": True,
                   "authorized_by": None, "reason": f"Refused: {exc}"}
        if approval is not None:
            refused["approval"] = approval
        return {"failed": True, "changed": False, "authorization": refused,
                "msg": f"Not authorized: {exc} Nothing was read or written."}
    if approval is not None:
        decision["approval"] = approval
    return {"changed": False, "authorization": decision}
