# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The validation report (playbooks/validate.yml, the seed's validate script): one verdict per check, with why.

The checks themselves are the acting modules run in check mode (one rule, one place); this only reads their
results, so a check passes exactly when the rollback's own preflight would.
"""

from __future__ import annotations

import os
from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._authorization import RANK, ROLES
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._report import FORWARD_ACTIONS, LEVEL_ACTIONS

LEVEL_ROLES = {**{f"level{level}": list(roles) for level, roles in LEVEL_ACTIONS.items()},
               "rollforward": list(FORWARD_ACTIONS)}
LEVEL_DRILLS = {"level1": "level1_drill", "level2": "level2_drill", "level3": "level3_drill",
                "rollforward": "dr_drill"}
RUNBOOK = "docs/runbooks/production-hybrid-routing-rollback.md"
RUNBOOK_SECTIONS = {"level1": "### Level 1", "level2": "### Level 2", "level3": "### Level 3",
                    "rollforward": "### Roll-forward"}


def _failure(result: Any) -> str | None:
    """Why a registered result failed, or None when it passed (a skipped check counts as not run)."""
    if not isinstance(result, dict) or not result:
        return "not run"
    if result.get("skipped"):
        return None  # not applicable here (e.g. the release check with the Lambda strategy)
    if result.get("failed"):
        return str(result.get("msg") or "failed without a message")
    return None


def check(name: str, result: Any, passed_reason: str) -> dict[str, Any]:
    problem = _failure(result)
    if problem is None and isinstance(result, dict) and result.get("skipped"):
        passed_reason = "not applicable to this inventory"
    return {"check": name, "passed": problem is None, "reason": passed_reason if problem is None else problem}


def people_check(people: Any) -> dict[str, Any]:
    if not isinstance(people, dict) or not people:
        return {"check": "approvers configured", "passed": False,
                "reason": "hybrid_routing_people names nobody: authorization would not be enforced"}
    held = {role for entry in people.values() if isinstance(entry, dict)
            for role in (entry.get("roles") or []) if role in RANK}
    missing = [role for role in ROLES if role not in held]
    if missing:
        return {"check": "approvers configured", "passed": False,
                "reason": f"nobody holds the role {', '.join(missing)} in hybrid_routing_people"}
    return {"check": "approvers configured", "passed": True,
            "reason": f"{len(people)} people; every role ({', '.join(ROLES)}) is held"}


def notify_check(channels: Any) -> dict[str, Any]:
    channels = channels if isinstance(channels, list) else []
    if not channels:
        return {"check": "notification channels configured", "passed": False,
                "reason": "no channel: set a Slack token or webhook at least (docs/variables.md, Notifications)"}
    wanted = [channel for channel in ("slack", "email", "pagerduty") if channel not in channels]
    reason = f"configured: {', '.join(channels)}"
    if wanted:
        reason += f" (not configured: {', '.join(wanted)})"
    return {"check": "notification channels configured", "passed": "slack" in channels, "reason": reason}


def records_check(audit: Any, location: str, production: bool) -> dict[str, Any]:
    """Where the records are, whether their chain holds and whether the store keeps them (Object Lock)."""
    name = "records in a shared store, chain intact, retention on"
    problem = _failure(audit)
    if problem is not None:
        return {"check": name, "passed": False, "reason": f"the audit trail {location} cannot be read: {problem}"}
    broken = audit.get("first_broken")
    if broken:
        where = broken.get("key") or f"line {broken.get('line')}"
        return {"check": name, "passed": False,
                "reason": f"the audit trail {location} is broken at {where} (seq {broken.get('seq')}): "
                          f"{broken.get('reason')}"}
    count = f"{audit.get('records', 0)} records, chain intact"
    if not location.startswith("s3://"):
        if production:
            return {"check": name, "passed": False,
                    "reason": f"the records are local ({location}; {count}): a job container's disk is gone when "
                              "the job ends and every controller would keep a trail of its own. Set "
                              "hybrid_routing_records_bucket (docs/audit.md)"}
        return {"check": name, "passed": True, "reason": f"local ({location}; {count}), not a production inventory"}
    retention = audit.get("retention") or {}
    if not retention.get("enabled") or not retention.get("mode"):
        return {"check": name, "passed": False,
                "reason": f"{location}: {count}, but the bucket has no Object Lock default retention: a record "
                          "could be deleted or overwritten. Turn on Object Lock with a default retention "
                          "(docs/audit.md)"}
    period = f"{retention['years']} years" if retention.get("years") else f"{retention.get('days')} days"
    return {"check": name, "passed": True,
            "reason": f"{location}: {count}; Object Lock {retention['mode']}, {period}"}


def completeness(collection_root: str, targets: Any) -> list[dict[str, Any]]:
    """Every level has its roles, a target, a runbook section and a drill scenario. The drill scenarios are not
    in the published collection (they need the repository's sandbox): there, that part is not checked."""
    try:
        with open(os.path.join(collection_root, RUNBOOK), encoding="utf-8") as handle:
            runbook = handle.read()
    except OSError:
        runbook = ""
    molecule = os.path.join(collection_root, "extensions", "molecule")
    found = []
    for level, roles in LEVEL_ROLES.items():
        problems = [f"role {role} missing" for role in roles
                    if not os.path.isfile(os.path.join(collection_root, "roles", role, "tasks", "main.yml"))]
        target = targets.get(level) if isinstance(targets, dict) else None
        if not isinstance(target, (int, float)) or isinstance(target, bool) or target <= 0:
            problems.append(f"no target (hybrid_routing_targets.{level})")
        if RUNBOOK_SECTIONS[level] not in runbook:
            problems.append(f"no section '{RUNBOOK_SECTIONS[level]}' in {RUNBOOK}")
        drill = LEVEL_DRILLS[level]
        if os.path.isdir(molecule) and not os.path.isfile(os.path.join(molecule, drill, "molecule.yml")):
            problems.append(f"drill scenario {drill} missing")
        checked = f"drill {drill}" if os.path.isdir(molecule) else "drills not shipped here"
        found.append({"check": f"{level} complete", "passed": not problems,
                      "reason": "; ".join(problems) if problems else
                      f"roles {', '.join(roles)}, target {target}s, runbook section, {checked}"})
    return found


def drill_lines(drills: Any) -> list[str]:
    lines = []
    for name, drill in sorted((drills or {}).items()):
        last = drill.get("last_success") or "never"
        state = "OVERDUE" if drill.get("overdue") else "on schedule"
        duration = f", {drill['duration_seconds']:.0f}s" if drill.get("duration_seconds") is not None else ""
        missed = ", target MISSED" if drill.get("target_missed") else ""
        lines.append(f"{name}: last success {last}{duration}{missed}; due {drill.get('last_due')}, "
                     f"next {drill.get('next_due')}: {state}")
    return lines


def report(environment: str, checks: list[dict[str, Any]], drills: Any) -> dict[str, Any]:
    failed = [item["check"] for item in checks if not item["passed"]]
    overdue = [name for name, drill in (drills or {}).items() if drill.get("overdue")]
    lines = [f"{'PASS' if item['passed'] else 'FAIL'}  {item['check']}: {item['reason']}" for item in checks]
    lines += drill_lines(drills)
    verdict = (f"Validation of {environment}: {len(checks) - len(failed)} of {len(checks)} checks passed"
               + (f"; FAILED: {', '.join(failed)}" if failed else "")
               + (f"; drills overdue: {', '.join(sorted(overdue))}" if overdue else "") + ".")
    return {"environment": environment, "checks": checks, "failed": failed, "overdue_drills": sorted(overdue),
            "lines": lines, "summary": verdict, "passed": not failed}
