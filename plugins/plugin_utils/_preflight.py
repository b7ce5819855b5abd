# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Everything a run does before its level's actions, in one step: the preflight, then the lock and the snapshot.

The preflight runs every module the run will act with, in check mode (one rule, one place: the module refuses what
its real run would); then, when nothing refused, the run takes the rollback lock (its first write) and the snapshot
a roll-forward restores. All of it inside rollback_start's step, where it used to take a task each: a task costs
about as much of the controller's CPU as the work it does (Ansible forks a worker and templates its arguments per
environment and task), so a fleet spends far less CPU per environment this way (docs/performance.md).

This file decides only what each module is given, in which order, and what a refusal says; the rules are the
modules'. `prepare` takes a runner (the in-process module call) so that order and arguments are unit tested
without a service.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

# Each check, and the module that acts (and so checks).
CHECKS: dict[str, str] = {
    "flags": "feature_flags", "stored": "state_snapshot", "snapshot": "state_snapshot", "release": "release",
    "lambda": "lambda_alias", "routing": "routing_mode", "lock": "rollback_lock",
}
# The inventory variable behind each option a check gives its module (the frame's name for it), so that a refusal
# names what to fix where the operator sets it; a check's own input when the module's message names no option.
CONNECTION_VARIABLES = {"api_base": "hybrid_routing_api_base", "admin_token": "hybrid_routing_admin_token",
                        "validate_certs": "hybrid_routing_validate_certs", "ca_path": "hybrid_routing_ca_path"}
VARIABLES: dict[str, dict[str, str]] = {
    "flags": {"flags": "hybrid_routing_flags"},
    "stored": {"environment": "hybrid_routing_environment", "path": "hybrid_routing_state_dir"},
    "snapshot": {"environment": "hybrid_routing_environment", "path": "hybrid_routing_state_dir",
                 "force": "hybrid_routing_snapshot_force", "max_age_seconds": "hybrid_routing_snapshot_max_age_hours",
                 "lambda_functions": "hybrid_routing_lambda_functions", "lambda_alias": "hybrid_routing_lambda_alias"},
    "release": {"target": "hybrid_routing_release_target", "force": "hybrid_routing_rollforward_force",
                "wait_timeout": "hybrid_routing_release_wait_timeout_seconds"},
    "lambda": {"functions": "hybrid_routing_lambda_functions", "version": "hybrid_routing_release_target",
               "alias": "hybrid_routing_lambda_alias", "wait_timeout": "hybrid_routing_release_wait_timeout_seconds"},
    "routing": {"wait_timeout": "hybrid_routing_routing_wait_timeout_seconds"},
    "lock": {"holder": "hybrid_routing_operator", "takeover": "hybrid_routing_lock_takeover",
             "ttl_seconds": "hybrid_routing_lock_ttl_seconds"},
}
OWN_INPUT = {"flags": "hybrid_routing_flags"}
URL = re.compile(r"https?://\S+")


def variables_named(check: str, msg: str) -> list[str]:
    """The inventory variables behind the options a module's message names (not the words of a URL in it)."""
    text = URL.sub("", msg)
    options = dict(CONNECTION_VARIABLES, **VARIABLES.get(check, {}))
    named = [variable for option, variable in options.items() if re.search(rf"\b{option}\b", text)]
    return list(dict.fromkeys(named)) or ([OWN_INPUT[check]] if check in OWN_INPUT else [])


# What each check's result keeps for the steps after it (the rest would be carried to every later task for nothing).
KEPT = ("changed", "failed", "msg", "finished_at", "changes", "snapshot", "took_over_own", "holder", "skipped")

# runner(module, options, check_only): the module's result; check_only forces check mode, else the play's mode
# applies (and its diff mode).
Runner = Callable[[str, dict[str, Any], bool], dict[str, Any]]


def check_args(name: str, run: dict[str, Any], inputs: dict[str, Any], found: dict[str, dict[str, Any]]
               ) -> dict[str, Any] | None:
    """The module's options for the check `name`, or None when it does not apply to this run.

    `found` holds the results of the checks before it: a roll-forward restores what its stored snapshot recorded,
    and Level 3's release check aims from the snapshot it is about to take."""
    back = run["direction"] == "back"
    stored = (found.get("stored") or {}).get("snapshot")
    if name == "flags":
        return {"flags": {flag: False for flag in inputs["flags"]}}
    if name == "stored":
        return {"state": "read", "path": inputs["snapshot_path"], "environment": run["environment"]}
    if name == "lock":
        return {"holder": run["operator"], "takeover": inputs["lock_takeover"], "ttl_seconds": inputs["lock_ttl"]}
    if not back and stored is None:
        return None  # a roll-forward with nothing to restore checks nothing it would restore
    lambda_functions = inputs["lambda_functions"] if run["plan"]["release"] == "aws_lambda_alias" else []
    if name == "snapshot":
        return {"path": inputs["snapshot_path"], "environment": run["environment"], "force": inputs["snapshot_force"],
                "max_age_seconds": inputs["snapshot_max_age_seconds"], "lambda_functions": lambda_functions,
                "lambda_alias": inputs["lambda_alias"]}
    aim = (found.get("snapshot") or {}).get("snapshot") if back else stored
    if name == "release":
        args = {"direction": run["direction"], "snapshot": aim, "force": inputs["rollforward_force"],
                "wait_timeout": inputs["release_wait_timeout"]}
        if back:
            args["target"] = inputs["release_target"]
        return args
    if name == "lambda":
        if not back and stored.get("lambda") is None:
            return None  # a roll-forward restores aliases only where its snapshot recorded them
        args = {"version": (inputs["release_target"] or "previous") if back else "recorded", "snapshot": aim,
                "alias": inputs["lambda_alias"], "wait_timeout": inputs["release_wait_timeout"]}
        if back:
            args["functions"] = inputs["lambda_functions"]
        return args
    if name == "routing":
        mode = "mcp_only" if back else stored["routing"]["mode"]
        args = {"mode": mode, "wait_timeout": inputs["routing_wait_timeout"]}
        if mode == "hybrid":
            args["weights"] = stored["routing"]["weights"]
        return args
    raise ValueError(f"unknown preflight check {name!r}")


def prepare(run: dict[str, Any], inputs: dict[str, Any], runner: Runner) -> dict[str, Any]:
    """The plan's checks in order, then the lock and the snapshot; the first refusal ends it.

    Returns what the frame reads: `checks` (each check's result, trimmed), `nothing_to_do` (a roll-forward with no
    stored snapshot), `lock` and `snapshot` (what taking them returned, or None when the run did not take them),
    `finished_at` (when the checks ended: the preflight phase), and on a refusal or a failure `failed` and `msg`
    (and `busy`, the holder's lease, when the lock refused it).
    A run with nothing to do takes only its own stale lock (a killed run's, seen by the lock's check), to give it
    back instead of leaving it to its TTL."""
    found: dict[str, dict[str, Any]] = {}
    outcome: dict[str, Any] = {"checks": found, "lock": None, "snapshot": None}
    for name in run["plan"]["checks"]:
        args = check_args(name, run, inputs, found)
        if args is None:
            found[name] = {"skipped": True}
            continue
        # The stored snapshot is read, not planned: in a real run it is read for real (reading writes nothing).
        result = runner(CHECKS[name], args, name != "stored")
        found[name] = {key: result[key] for key in KEPT if key in result}
        if result.get("failed"):
            # The module's message names the one option that is wrong; the refusal adds where it is set.
            msg = str(result.get("msg", "no message"))
            named = variables_named(name, msg)
            return dict(outcome, failed=True, finished_at=round(time.time(), 3),
                        nothing_to_do=_nothing_to_do(run, found), **_busy(result),
                        msg=f"Preflight ({CHECKS[name]} in check mode) refused the run before any write: {msg}"
                            + (f" Set in the inventory as {', '.join(named)}." if named else ""))
    outcome["finished_at"] = round(time.time(), 3)
    outcome["nothing_to_do"] = nothing_to_do = _nothing_to_do(run, found)
    if nothing_to_do and not (found.get("lock") or {}).get("took_over_own"):
        return outcome
    lock = runner("rollback_lock", dict(check_args("lock", run, inputs, found) or {},
                                        reason=f"{run['label']} {run['id']}"), False)
    outcome["lock"] = _taken(lock)
    if lock.get("failed"):  # taken by someone else since its check: refused, and nothing was written
        named = variables_named("lock", str(lock.get("msg")))
        return dict(outcome, failed=True, **_busy(lock),
                    msg=f"The rollback lock was not taken, nothing was written: {lock.get('msg')}"
                        + (f" Set in the inventory as {', '.join(named)}." if named else ""))
    if run["direction"] != "back":
        return outcome
    snapshot = runner("state_snapshot", check_args("snapshot", run, inputs, found) or {}, False)
    outcome["snapshot"] = _taken(snapshot)
    if snapshot.get("failed"):
        return dict(outcome, failed=True, msg=f"The snapshot was not taken (state_snapshot): {snapshot.get('msg')}")
    return outcome


# What a refusal says of the run that holds the lock (rollback_lock's lease, without its ttl and pid).
BUSY_KEYS = ("holder", "reason", "rollback_id", "acquired_at", "controller")


def _busy(result: dict[str, Any]) -> dict[str, Any]:
    """`busy`, the lease of the run that holds the lock, when the lock refused this run: another rollback of the
    environment is under way and tells people itself (rollback_notify pages nobody for the refused one)."""
    lease = result.get("lock")
    # The lease as read (held: true), or as the service's 409 names it when the lock was taken meanwhile (no held).
    if not result.get("failed") or not isinstance(lease, dict) or not lease.get("holder"):
        return {}
    return {"busy": {key: lease[key] for key in BUSY_KEYS if lease.get(key) is not None}}


def _taken(result: dict[str, Any]) -> dict[str, Any]:
    """What taking the lock or the snapshot returned, as the report reads it (the module's own result)."""
    return {key: value for key, value in result.items() if key not in ("invocation", "warnings")}


def _nothing_to_do(run: dict[str, Any], found: dict[str, dict[str, Any]]) -> bool:
    return run["direction"] == "forward" and not (found.get("stored") or {}).get("snapshot")
