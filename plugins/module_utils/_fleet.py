# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""A fleet rolled back wave by wave: which environment belongs to which wave, and what the fleet's state is.

The waves are Ansible's own batches (the play's `serial`, given as hybrid_routing_waves): Ansible runs the whole level
on one batch, verification included, before it starts the next, and its max_fail_percentage stops the play after a
wave that failed beyond the tolerance. This module only names what happened: batches() repeats Ansible's rule for
cutting the play's hosts into batches, and summary() judges the fleet from each environment's report.
"""

from __future__ import annotations

from typing import Any

# An environment's outcome in the fleet: its report's, or one of these two.
UNTOUCHED = "untouched"
FAILED = "failed"


def check_waves(waves: Any) -> None:
    """Waves as the play's serial takes them, or a ValueError that says what to give instead."""
    example = """-e '{"hybrid_routing_waves": [1, "25%", "100%"]}'"""
    if not isinstance(waves, list) or not waves:
        raise ValueError(f"hybrid_routing_waves must be a list of wave sizes, got {waves!r}: give it as JSON, e.g. "
                         f"{example}")
    for spec in waves:
        text = str(spec).strip()
        number = text[:-1] if text.endswith("%") else text
        try:
            valid = not isinstance(spec, bool) and float(number) >= 0 and (text.endswith("%") or float(number) == int(
                float(number)))
        except ValueError:
            valid = False
        if not valid:
            raise ValueError(f"hybrid_routing_waves: {spec!r} is neither a number of environments nor a percentage "
                             f"of them, e.g. {example}")


def check_order(order: Any) -> None:
    """hybrid_routing_wave_order: a list of environments (inventory host names), or a ValueError saying so."""
    if not isinstance(order, list) or not all(isinstance(name, str) for name in order):
        raise ValueError(f"hybrid_routing_wave_order must be a list of environments (inventory host names), got "
                         f"{order!r}: give it as JSON, e.g. -e '{{\"hybrid_routing_wave_order\": [\"eu-west-1\"]}}'")


def _size(spec: Any, total: int) -> int:
    """One entry of `serial`: a count, or a percentage of the play's hosts (at least one), as Ansible reads it."""
    text = str(spec).strip()
    if text.endswith("%"):
        return max(1, int(total * float(text[:-1]) / 100.0))
    return int(text)


def batches(hosts: list[str], waves: list[Any] | None) -> list[list[str]]:
    """The play's hosts cut into waves as Ansible's `serial` cuts them: each entry in turn, the last one repeated
    until every host has a wave; no waves (or a zero) is one wave of everyone."""
    if not waves:
        return [list(hosts)] if hosts else []
    check_waves(waves)
    sizes = [_size(spec, len(hosts)) for spec in waves]
    out: list[list[str]] = []
    left = list(hosts)
    index = 0
    while left:
        size = sizes[min(index, len(sizes) - 1)]
        size = len(left) if size <= 0 else size
        out.append(left[:size])
        left = left[size:]
        index += 1
    return out


def _brief(report: dict[str, Any]) -> dict[str, Any]:
    return {
        "outcome": report.get("outcome", FAILED),
        "rollback_id": report.get("rollback_id"),
        "started_at": report.get("started_at"),
        "elapsed_seconds": report.get("elapsed_seconds"),
        "target_seconds": report.get("target_seconds"),
        "within_target": report.get("outcome") not in ("target_missed", FAILED),
        "summary": report.get("summary", ""),
        "why": ((report.get("failure") or {}).get("msg")),
    }


def summary(hosts: list[str], waves: list[Any] | None, reports: dict[str, Any], tolerance_percent: float,
            current: list[str]) -> dict[str, Any]:
    """The fleet's state after the wave `current` (the batch running now): every environment's wave and outcome,
    each wave's outcome, whether the fleet stopped here (more of the wave failed than the tolerance allows, as
    max_fail_percentage judges it) and what that left untouched, and one line for people."""
    cut = batches(hosts, waves)
    wave_of = {host: number for number, members in enumerate(cut, start=1) for host in members}
    now = max((wave_of.get(host, 0) for host in current), default=0)
    environments: dict[str, Any] = {}
    for host in hosts:
        report = reports.get(host)
        entry = _brief(report) if isinstance(report, dict) and report else {"outcome": UNTOUCHED}
        entry["wave"] = wave_of.get(host)
        environments[host] = entry
    wave_rows = []
    for number, members in enumerate(cut, start=1):
        failed = [host for host in members if environments[host]["outcome"] == FAILED]
        state = UNTOUCHED if number > now else (FAILED if failed else "done")
        wave_rows.append({"wave": number, "environments": members, "failed": failed, "outcome": state})
    this_wave = wave_rows[now - 1] if now else None
    failed_share = 100.0 * len(this_wave["failed"]) / len(this_wave["environments"]) if this_wave else 0.0
    stopped = bool(this_wave and this_wave["failed"] and failed_share > tolerance_percent and now < len(cut))
    untouched = [host for host in hosts if environments[host]["outcome"] == UNTOUCHED and wave_of[host] > now]
    result: dict[str, Any] = {
        "waves": wave_rows,
        "wave": now,
        "of_waves": len(cut),
        "environments": environments,
        "stopped": stopped,
        "finished": now == len(cut) or stopped,
        "untouched": untouched,
        "failed": [host for host in hosts if environments[host]["outcome"] == FAILED],
    }
    # What the fleet's messages say of the run (every environment runs the same level): from any report there is.
    first = next((reports[host] for host in hosts if isinstance(reports.get(host), dict) and reports[host]), {})
    result.update(level=first.get("level"), direction=first.get("direction"), dry_run=bool(first.get("dry_run")))
    # When this job's environments ran: a fleet of several jobs (AWX) is put in waves by it (merge()).
    ran = [entry for entry in environments.values() if entry.get("started_at") is not None]
    result["started_at"] = min((float(entry["started_at"]) for entry in ran), default=None)
    result["finished_at"] = max((float(entry["started_at"]) + float(entry.get("elapsed_seconds") or 0)
                                 for entry in ran), default=None)
    result["outcome"] = "stopped" if stopped else "running" if not result["finished"] \
        else FAILED if result["failed"] else "done"
    result["message"] = message(result, tolerance_percent)
    return result


def message(fleet: dict[str, Any], tolerance_percent: float) -> str:
    """One line on the fleet, for the run's output and a fleet message."""
    done = [host for host, entry in fleet["environments"].items() if entry["outcome"] not in (UNTOUCHED,)]
    head = f"Fleet: wave {fleet['wave']} of {fleet['of_waves']} done, {len(done)} of {len(fleet['environments'])} " \
           f"environments run, {len(fleet['failed'])} failed."
    if fleet["stopped"]:
        wave = fleet["waves"][fleet["wave"] - 1]
        why = "; ".join(f"{host}: {fleet['environments'][host]['why'] or fleet['environments'][host]['summary']}"
                        for host in wave["failed"])
        return (f"{head} STOPPED at wave {fleet['wave']} ({', '.join(wave['failed'])} failed, tolerance "
                f"{tolerance_percent:g} %): {why}. Untouched: {', '.join(fleet['untouched'])}.")
    if not fleet["finished"]:
        return f"{head} Next: wave {fleet['wave'] + 1} ({', '.join(fleet['waves'][fleet['wave']]['environments'])})."
    return head


def merge(hosts: list[str], parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The fleet of several jobs (an AWX fleet workflow: the canary's job, then the slices of one sliced job), from
    each job's own summary. A job that started after every job of the wave before it had finished starts a new wave;
    jobs that overlap (the slices) are one wave. An environment no job ran is untouched."""
    ordered = sorted((part for part in parts if isinstance(part, dict) and part.get("environments")),
                     key=lambda part: float(part.get("started_at") or 0))
    waves: list[list[dict[str, Any]]] = []
    for part in ordered:
        if waves and float(part.get("started_at") or 0) < max(float(p.get("finished_at") or 0) for p in waves[-1]):
            waves[-1].append(part)
        else:
            waves.append([part])
    environments: dict[str, Any] = {}
    for number, jobs in enumerate(waves, start=1):
        for part in jobs:
            for host, entry in part["environments"].items():
                if entry.get("outcome") != UNTOUCHED:
                    environments[host] = dict(entry, wave=number)
    for host in hosts:
        environments.setdefault(host, {"outcome": UNTOUCHED, "wave": None})
    names = list(hosts) + [host for host in environments if host not in hosts]
    failed = [host for host in names if environments[host]["outcome"] == FAILED]
    untouched = [host for host in names if environments[host]["outcome"] == UNTOUCHED]
    wave_rows = []
    for number, jobs in enumerate(waves, start=1):
        members = sorted(host for host in names if environments[host]["wave"] == number)
        wave_failed = [host for host in members if host in failed]
        wave_rows.append({"wave": number, "environments": members, "jobs": len(jobs), "failed": wave_failed,
                          "outcome": FAILED if wave_failed else "done"})
    first = ordered[0] if ordered else {}
    stopped = bool(failed and untouched)
    result: dict[str, Any] = {
        "waves": wave_rows, "wave": len(waves), "of_waves": len(waves) + (1 if stopped else 0),
        "environments": {host: environments[host] for host in names}, "stopped": stopped, "finished": True,
        "untouched": untouched, "failed": failed, "jobs": len(ordered),
        "level": first.get("level"), "direction": first.get("direction"), "dry_run": bool(first.get("dry_run")),
    }
    result["outcome"] = "stopped" if stopped else FAILED if failed else "done"
    done = len(names) - len(untouched)
    head = (f"Fleet: {len(waves)} wave{'s' if len(waves) != 1 else ''} in {len(ordered)} job"
            f"{'s' if len(ordered) != 1 else ''}, {done} of {len(names)} environments run, {len(failed)} failed.")
    if failed:
        why = "; ".join(f"{host}: {environments[host].get('why') or environments[host].get('summary')}"
                        for host in failed)
        head += f" Failed: {why}."
    if untouched:
        head += f" Untouched: {', '.join(untouched)}."
    result["message"] = head
    return result
