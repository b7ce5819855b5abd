# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The rollback run and its report: naming a run, judging it, and the one summary text everyone reads.

The rollback frame (role hybrid_routing) only sequences; this is where a run gets its id and target, where the
time of every phase, the list of changes and the outcome are computed, and where the summary that the console,
the notifications and the AWX artifact all carry is written, once.
"""

from __future__ import annotations

import random
import time
from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._notify import (
    START_PAGE_CHANNELS,
    START_PAGE_LEVEL,
)

DEFAULT_TARGETS = {"level1": 120, "level2": 300, "level3": 600, "rollforward": 600}
LEVEL_NAMES = {1: "feature flags", 2: "MCP-only traffic", 3: "full release revert"}
# The phases of a run, in order, and the results (keys of `results`) whose finished_at ends each of them.
PHASES = (("preflight", ("preflight",)), ("lock", ("lock",)), ("snapshot", ("snapshot",)),
          ("actions", ("flags", "routing", "release", "forward")), ("verify", ("verify",)), ("unlock", ("unlock",)))


# The action roles of each level, in order (a level includes the ones below it); the roll-forward has its own.
LEVEL_ACTIONS = {1: ("flag_disable",), 2: ("flag_disable", "traffic_mcp_only"),
                 3: ("flag_disable", "traffic_mcp_only", "release_revert")}
FORWARD_ACTIONS = ("rollforward",)


# The preflight's checks (the acting modules in check mode, tasks/preflight*.yml), by what the run will do. A
# roll-forward reads its snapshot (stored), then checks what it restores: the release, the Lambda aliases (where the
# snapshot recorded them), the routing; and every run checks the lock.
FORWARD_CHECKS = ("stored", "release", "lambda", "routing", "lock")
RELEASE_CHECKS = {"admin_api": "release", "aws_lambda_alias": "lambda"}
# A run past its target still gets this long to see the service healthy (verification with no timeout of its own).
VERIFY_AT_LEAST_SECONDS = 30.0


def plan(level: int, direction: str, release_strategy: str, channels: list[str], verify_timeout: float = 0.0,
         deadline: float | None = None) -> dict[str, Any]:
    """What the frame runs for this run: its action roles in order (the start page right after the flags, where a
    channel that acts at the start is configured, so that no receiver stands before the flags), the release
    strategy whose checks and snapshot apply (Level 3 only), and how long verification waits for health: the
    configured seconds, or (0) until the run's deadline and at least VERIFY_AT_LEAST_SECONDS."""
    verify = ({"wait_timeout": float(verify_timeout), "deadline": None} if verify_timeout > 0
              else {"wait_timeout": VERIFY_AT_LEAST_SECONDS, "deadline": deadline})
    if direction == "forward":
        return {"actions": list(FORWARD_ACTIONS), "release": None, "checks": list(FORWARD_CHECKS), "verify": verify}
    actions = list(LEVEL_ACTIONS[level])
    if level >= START_PAGE_LEVEL and START_PAGE_CHANNELS & set(channels):
        actions.insert(1, "notify")
    release = release_strategy if level >= 3 else None
    checks = ["flags", *(["routing"] if level >= 2 else []),
              *(["snapshot", RELEASE_CHECKS[release_strategy]] if release else []), "lock"]
    return {"actions": actions, "release": release, "checks": checks, "verify": verify}


class RunInputError(ValueError):
    """The frame's inputs cannot make a run; the message names the inventory variable to fix."""


def target_key(level: int, direction: str) -> str:
    return "rollforward" if direction == "forward" else f"level{level}"


def start_run(level: int, direction: str, environment: str, targets: dict[str, Any], operator: str,
              lock_ttl_seconds: float, dry_run: bool, now: float | None = None) -> dict[str, Any]:
    """Name a run and check what only the frame knows (targets, lease length); modules check the rest."""
    merged = dict(DEFAULT_TARGETS, **(targets or {}))
    key = target_key(level, direction)
    try:
        target = float(merged[key])
    except (TypeError, ValueError):
        raise RunInputError(f"hybrid_routing_targets.{key} must be a number of seconds, got {merged[key]!r}") from None
    if target <= 0:
        raise RunInputError(f"hybrid_routing_targets.{key} must be a positive number of seconds, got {target:g}.")
    if lock_ttl_seconds <= 0:
        raise RunInputError(f"hybrid_routing_lock_ttl_seconds must be a positive number of seconds, got "
                            f"{lock_ttl_seconds:g}.")
    if lock_ttl_seconds < target:
        raise RunInputError(
            f"hybrid_routing_lock_ttl_seconds ({lock_ttl_seconds:g}) must cover the target of {target:g}s "
            f"(hybrid_routing_targets.{key}), or the lock could expire in the middle of the run."
        )
    if not operator.strip():
        raise RunInputError("Nobody runs this rollback: set hybrid_routing_operator.")
    started = time.time() if now is None else now
    label = "Roll-forward" if direction == "forward" else f"Level {level} rollback ({LEVEL_NAMES[level]})"
    return {
        "id": f"rb-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(started))}-{random.randrange(0x10000):04x}",
        "level": level,
        "direction": direction,
        "label": label,
        "environment": environment,
        "operator": operator,
        "target_seconds": target,
        "deadline": round(started + target, 3),
        "dry_run": dry_run,
        "started_at": round(started, 3),
    }


def _ran(result: Any) -> dict[str, Any] | None:
    """A result (or role result) of a step that ran: it carries its finished_at; a skipped step, one not reached,
    and one of an earlier run in the play (the frame sets those aside when a run starts, tasks/main.yml) do not.
    A bare number stands for a result's finished_at."""
    if isinstance(result, (int, float, str)) and not isinstance(result, bool):
        try:
            result = {"finished_at": float(result)}
        except ValueError:
            return None
    if not isinstance(result, dict) or float(result.get("finished_at") or 0) <= 0:
        return None
    return result


def phase_seconds(run: dict[str, Any], results: dict[str, Any], failure: dict[str, Any] | None) -> dict[str, float]:
    """Seconds per phase, in order: a phase ends when the last of its results of this run finished."""
    phases: dict[str, float] = {}
    previous = float(run["started_at"])
    for phase, keys in PHASES:
        ends = []
        for key in keys:
            found = results.get(key)
            for result in found if isinstance(found, list) else [found]:
                mine = _ran(result)
                if mine is not None:
                    ends.append(float(mine["finished_at"]))
        if ends:
            phases[phase] = round(max(ends) - previous, 3)
            previous = max(ends)
    if failure is not None:
        # The failed step's own result may carry a finished_at a little later than the rescue's clock reading.
        phases["failed step"] = round(max(0.0, float(failure["at"]) - previous), 3)
    return phases


def _pairs(mapping: dict[str, Any], key: str) -> str:
    return ", ".join(f"{name}={change[key]}" for name, change in sorted(mapping.items()))


def changes(run: dict[str, Any], results: dict[str, Any]) -> list[str]:
    """What this run changed (or, in a dry run, would change), one phrase per kind of change."""
    found: list[str] = []
    flags = _ran(results.get("flags")) or {}
    if flags.get("changes"):
        found.append(f"flags {_pairs(flags['changes'], 'after')}")
    routing = _ran(results.get("routing")) or {}
    if routing.get("changed"):
        found.append(f"routing {routing['routing']['mode']}")
    release = _ran(results.get("release")) or {}
    if release.get("changed") and release.get("release"):
        found.append(f"release {release['release']['current']}")
    if release.get("changed") and release.get("aliases"):
        found.append(f"Lambda alias {_pairs(release['aliases'], 'after')}")
    forward = _ran(results.get("forward")) or {}
    for part in ("release", "lambda", "routing", "flags"):
        restored = forward.get(part) or {}
        if not restored.get("changed"):
            continue
        if part == "release":
            found.append(f"release {restored['release']['current']}")
        elif part == "lambda":
            found.append(f"Lambda alias {_pairs(restored['aliases'], 'after')}")
        elif part == "routing":
            found.append(f"routing {restored['routing']['mode']}")
        else:
            found.append(f"flags {_pairs(restored['changes'], 'after')}")
    snapshot = _ran(results.get("snapshot")) or {}
    if snapshot.get("changed") and snapshot.get("path"):
        found.append(f"snapshot {snapshot['path']}")
    return found


def recovery(run: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
    """Whether verification saw the service healthy, how long after the start, and whether any poll saw it
    worse (unhealthy, degraded, or not answering) on the way: what the rollback metrics and alarms read."""
    verify = _ran(results.get("verify")) or {}
    samples = verify.get("samples") or []
    verified = verify.get("status") == "healthy" and not verify.get("failed")
    return {
        "verified": verified,
        "seconds": round(float(verify["finished_at"]) - float(run["started_at"]), 2) if verified else None,
        "health_degraded": any(sample.get("status") != "healthy" for sample in samples),
    }


# What each level must have done in this run (its own result), beyond the absence of a failure.
LEVEL_STEPS = (("flags", "turn the feature flags off", 1), ("routing", "force all traffic to MCP-only", 2),
               ("release", "revert the release", 3))


def undone(run: dict[str, Any], results: dict[str, Any]) -> str | None:
    """The level's action this run has no result of (the step never ran, or ran without acting on anything);
    None when every action of the level ran. A re-run whose release was already reverted has a result too: the
    release module reads the release and reports it unchanged."""
    if run["direction"] == "forward":
        return None if _ran(results.get("forward")) is not None else "restore the pre-incident state"
    for key, action, level in LEVEL_STEPS:
        if int(run["level"]) < level:
            break
        mine = _ran(results.get(key))
        if mine is None or (key == "release" and not (mine.get("release") or mine.get("aliases"))):
            return action
    return None


def outcome(failed: bool, dry_run: bool, elapsed: float, target: float) -> str:
    if failed:
        return "failed"
    if dry_run:
        return "dry_run"
    return "target_missed" if elapsed > target else "success"


def _seconds(value: float) -> str:
    return f"{round(value, 2):g}s"


def build_report(run: dict[str, Any] | None, results: dict[str, Any], failure: dict[str, Any] | None,
                 nothing_to_do: bool, fallback: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """The report of a run: phases, changes, outcome and the summary text. `fallback` names a run that never
    started (its inputs were refused): level, direction, environment, operator."""
    now = time.time() if now is None else now
    if run is None:
        # Refused before it started: the clock runs from the refusal, which is the only step there was.
        started = min(now, float((failure or {}).get("at") or now))
        run = dict(fallback, id="not started", started_at=started, target_seconds=0.0, dry_run=fallback["dry_run"],
                   label="Roll-forward" if fallback["direction"] == "forward"
                   else f"Level {fallback['level']} rollback ({LEVEL_NAMES.get(fallback['level'], '?')})")
    elapsed = round(now - float(run["started_at"]), 2)
    phases = phase_seconds(run, results, failure)
    # A roll-forward whose read of the snapshot failed found no snapshot either: that is a failure, not "nothing".
    nothing_to_do = nothing_to_do and failure is None
    # No failure is not success: a level whose own action has no result of this run did not do its job.
    missing = None if failure is not None or nothing_to_do or run["id"] == "not started" else undone(run, results)
    if missing:
        failure = {"task": "Run the level's actions", "at": now,
                   "msg": f"{run['label']} did not {missing}: its step has no result of this run, so the level is "
                          "not done. Nothing reported it as failed; see the run's output for the step that was "
                          "skipped."}
    changed = [] if nothing_to_do else changes(run, results)
    result = outcome(failure is not None, bool(run["dry_run"]), elapsed, float(run["target_seconds"]))
    report = {
        "outcome": result,
        "level": run["level"],
        "direction": run["direction"],
        "environment": run["environment"],
        "operator": run["operator"],
        "rollback_id": run["id"],
        "dry_run": bool(run["dry_run"]),
        "started_at": round(float(run["started_at"]), 3),
        "elapsed_seconds": elapsed,
        "target_seconds": float(run["target_seconds"]),
        "phases": phases,
        "changes": changed,
        "failure": failure,
        "recovery": recovery(run, results),
    }
    report["summary"] = summary(run, report, _ran(results.get("lock")) or {},
                                _ran(results.get("unlock")) or {}, nothing_to_do)
    return report


def summary(run: dict[str, Any], report: dict[str, Any], lock: dict[str, Any], unlock: dict[str, Any],
            nothing_to_do: bool) -> str:
    """The one text the console, Slack, email and the AWX artifact carry."""
    state = {"failed": "FAILED", "dry_run": "DRY RUN"}.get(report["outcome"], "done")
    missed = ", MISSED" if report["outcome"] == "target_missed" else ""
    target = f"target {report['target_seconds']:.0f}s{missed}" if report["target_seconds"] else "not started"
    parts = [f"{run['label']} of {run['environment']}: {state} in {_seconds(report['elapsed_seconds'])} ({target})."]
    if nothing_to_do:
        parts.append("Nothing to roll forward: no snapshot is stored (no rollback since the last roll-forward).")
    else:
        verb = "Would change" if report["dry_run"] else "Changed"
        listed = "; ".join(report["changes"]) if report["changes"] else "nothing"
        settled = " (already in the wanted state)" if not report["changes"] and report["failure"] is None else ""
        parts.append(f"{verb}: {listed}{settled}.")
    phases = ", ".join(f"{name} {_seconds(value)}" for name, value in report["phases"].items()) or "none"
    parts.append(f"Phases: {phases}.")
    parts.append(f"Operator {run['operator']}, rollback id {run['id']}.")
    if lock.get("taken_over"):
        parts.append(f"Took the lock over from {(lock.get('previous') or {}).get('holder')}.")
    if lock.get("took_over_own"):
        parts.append(f"Took over own stale lock ({(lock.get('previous') or {}).get('reason')}).")
    if report["failure"] is not None:
        parts.append(f"Failed at \"{report['failure'].get('task')}\": {report['failure'].get('msg')}")
        parts.append(next_step(run, str(report["failure"].get("msg") or "")))
    if unlock.get("failed"):
        parts.append(f"The lock could not be released ({unlock.get('msg', 'unknown error')}): it expires after its "
                     "TTL, and your next run takes it over at once.")
    return " ".join(parts)


# Refusals whose own message already says what to do next (the module that owns the rule knows best).
_SAYS_WHAT_NEXT = ("run again", "then run", "re-run", "takeover", "wait for", "set hybrid_routing_")


def next_step(run: dict[str, Any], failure: str) -> str:
    """What the operator runs next after a failed run: the same playbook again, which resumes from the service's
    state and the kept snapshot (a release is never reverted twice), once the cause above is gone."""
    playbook = "rollforward.yml" if run.get("direction") == "forward" else f"rollback_level{run.get('level')}.yml"
    if any(hint in failure.lower() for hint in _SAYS_WHAT_NEXT):
        return f"Next: as the message says, then run playbooks/{playbook} again."
    return (f"Next: once the cause above is gone, run playbooks/{playbook} again for {run['environment']}; it "
            "resumes from the service's current state and the kept snapshot (nothing is done twice).")


def _state(results: dict[str, Any], key: str) -> dict[str, Any]:
    found = results.get(key)
    return found if isinstance(found, dict) else {}


def audit_actions(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each action of the run with the state before (the snapshot of the incident) and after."""
    before = _state(results, "snapshot").get("snapshot") or {}
    actions = []
    flags = _state(results, "flags")
    if flags.get("changes"):
        actions.append({"action": "flags", "changed": True,
                        "before": {name: c["before"] for name, c in sorted(flags["changes"].items())},
                        "after": {name: c["after"] for name, c in sorted(flags["changes"].items())}})
    routing = _state(results, "routing")
    if routing.get("routing"):
        actions.append({"action": "routing", "changed": bool(routing.get("changed")),
                        "before": before.get("routing"),
                        "after": {k: routing["routing"].get(k) for k in ("mode", "weights")}})
    release = _state(results, "release")
    if release.get("release") or release.get("aliases"):
        actions.append({"action": "release", "changed": bool(release.get("changed")),
                        "before": (before.get("release") or {}).get("current") if release.get("release")
                        else (before.get("lambda") or {}).get("functions"),
                        "after": (release.get("release") or {}).get("current") if release.get("release")
                        else release.get("aliases")})
    forward = _state(results, "forward")
    for part in ("flags", "routing", "release", "lambda"):
        restored = forward.get(part) or {}
        if restored.get("changed"):
            actions.append({"action": f"restore {part}", "changed": True, "before": None, "after": restored.get(part)
                            or restored.get("changes") or restored.get("aliases")})
    return actions


def audit_record(report: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
    """The run as the audit trail keeps it: people by their ids, no free text but the summary and failure."""
    event = "rollforward" if report["direction"] == "forward" else "rollback"
    started = report["rollback_id"] != "not started"
    return {
        "event": event,
        # One record per run: a re-run of the same report step does not write it twice.
        "record_id": f"{report['rollback_id']}:{event}" if started else None,
        "rollback_id": report["rollback_id"],
        "environment": report["environment"],
        "level": report["level"],
        "operator": report["operator"],
        "trigger": report.get("trigger", "manual"),
        "authorization": report.get("authorization"),
        "dry_run": report["dry_run"],
        "drill": bool(report.get("drill")),
        "reason": report.get("reason"),
        "outcome": report["outcome"],
        "elapsed_seconds": report["elapsed_seconds"],
        "target_seconds": report["target_seconds"],
        "phases": report["phases"],
        "actions": audit_actions(results),
        "failure": (report.get("failure") or {}).get("msg"),
        "summary": report["summary"],
    }


# The incident report (roles/hybrid_routing/templates/incident_report.md.j2 renders these).

TIMELINE_STEPS = (("lock", "Rollback lock acquired", "Rollback lock acquired"),
                  ("snapshot", "State snapshot taken", "State snapshot kept from the incident's first run"),
                  ("flags", "Feature flags turned off", "Feature flags already off"),
                  ("routing", "Traffic forced to MCP-only", "Traffic already MCP-only"),
                  ("release", "Release reverted", "Release already reverted"),
                  ("forward", "Pre-incident state restored", "Nothing to restore"),
                  ("verify", "Recovery verified", "Recovery verified"),
                  ("unlock", "Rollback lock released", "Rollback lock released"))
# The seed's lessons-learned follow-ups, due after the incident.
FOLLOW_UPS = (("Post-incident review", 1), ("Root cause analysis", 7), ("Implement the improvements", 14))


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1000):03d}Z"


def timeline(run: dict[str, Any], results: dict[str, Any], report: dict[str, Any]) -> list[dict[str, str]]:
    """What happened when: the start, the authorization, each step of this run, and a failure."""
    events = [(float(run["started_at"]), f"{run.get('label', 'Run')} started by {report['operator']} "
                                         f"(trigger: {report.get('trigger', 'manual')})")]
    authorization = report.get("authorization") or {}
    if authorization.get("reason"):
        events.append((float(run["started_at"]), authorization["reason"]))
    for key, changed, unchanged in TIMELINE_STEPS:
        found = _ran(results.get(key))
        if found is not None and not found.get("skipped"):
            acted = found.get("changed") or key in ("lock", "verify", "unlock")
            events.append((float(found["finished_at"]), changed if acted else unchanged))
    failure = report.get("failure")
    if failure:
        events.append((float(failure.get("at") or time.time()), f"Failed at \"{failure.get('task')}\""))
    return [{"at": _iso(at), "event": text} for at, text in sorted(events, key=lambda e: e[0])]


def follow_ups(now: float) -> list[dict[str, str]]:
    return [{"task": task, "due": time.strftime("%Y-%m-%d", time.gmtime(now + days * 86400))}
            for task, days in FOLLOW_UPS]
