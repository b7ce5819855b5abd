"""The AWX fleet workflow (issue 21, point 3), offline as AWX runs it: the canary's job, then the sliced job's slices
at once, then the fleet's summary, each a job of ansible-runner with a private data dir of its own.

AWX cuts a sliced job's inventory by its own rule (awx/main/models/inventory.py, get_sliced_hosts): the inventory's
hosts ordered by name, slice k of n gets every n-th from the k-th. Each slice's inventory holds only its hosts; the
job template's limit applies after. A workflow hands the artifacts of its finished jobs to the next node, merged key
by key in the order they finished (get_effective_artifacts), as extra vars.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from test_awx import awx_vars, injected, job_template
from test_fleet_waves import _writes

from hrtest import REPO, Fleet

CANARY = "hybrid_routing_canary"


def awx_slice(hosts: list[str], number: int, count: int) -> list[str]:
    """The hosts AWX gives slice `number` (from 1) of `count`: ordered by name, every count-th from the number-th."""
    return sorted(hosts)[number - 1::count] if count > 1 else sorted(hosts)


def test_awx_slice_rule():
    hosts = [f"env{index}" for index in range(7)]
    slices = [awx_slice(hosts, number, 3) for number in (1, 2, 3)]
    assert slices == [["env0", "env3", "env6"], ["env1", "env4"], ["env2", "env5"]]
    assert sorted(host for part in slices for host in part) == sorted(hosts)


def _template(name: str) -> dict[str, Any]:
    """A job template of vars/awx.yml (playbook, limit, slices) as configure.yml sends it."""
    return job_template(name)[0]


class Workflow:
    """Runs the fleet workflow's jobs through ansible-runner against a fleet of sandboxes."""

    def __init__(self, tmp_path: Path, fleet: Fleet, sink: Any, **group_vars: Any):
        self.tmp_path = tmp_path
        self.fleet = fleet
        self.credential = {"admin_token": fleet.token,
                           "slack_webhook_url": f"{sink.base}/slack/webhook/T/B/fleet{secrets.token_hex(4)}",
                           "pagerduty_routing_key": "fleet-routing-key"}
        self.group_vars = {
            "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "hybrid_routing_validate_certs": False, "hybrid_routing_operator": "awx",
            "hybrid_routing_pagerduty_events_url": f"{sink.base}/pagerduty/v2/enqueue",
            **group_vars,
        }
        self.jobs = 0
        self._count = threading.Lock()  # the slices are launched from threads at once
        self.workflow_vars = {"hybrid_routing_fleet_id": awx_vars()["awx_fleet_workflow"]}

    def inventory(self, hosts: list[str]) -> dict[str, Any]:
        """The inventory AWX builds for a job (a slice's: only its hosts, and the groups that hold them)."""
        boxes = dict(zip(self.fleet.names, self.fleet.boxes, strict=True))
        return {"all": {"vars": self.group_vars,
                        "hosts": {name: {"hybrid_routing_api_base": boxes[name].base,
                                         "hybrid_routing_environment": name} for name in hosts},
                        "children": {CANARY: {"hosts": {name: {} for name in hosts if name == "env0"}}}}}

    def run(self, name: str, hosts: list[str], extra: dict[str, Any] | None = None) -> dict[str, Any]:
        import ansible_runner

        with self._count:
            self.jobs += 1
            number = self.jobs
        template = _template(name)
        private = self.tmp_path / f"job-{number}"
        (private / "env").mkdir(parents=True)
        (private / "inventory").mkdir()
        env, injected_extra = injected(self.credential)
        home = private / "home"
        home.mkdir()
        env.update(ANSIBLE_NOCOLOR="1", HOME=str(home))
        (private / "env" / "envvars").write_text(json.dumps(env))
        job_id = 900 + number
        (private / "env" / "extravars").write_text(json.dumps({
            **self.workflow_vars, **(extra or {}), **injected_extra, "awx_job_id": job_id,
            "hybrid_routing_state_dir": str(private / "state")}))
        (private / "inventory" / "hosts.json").write_text(json.dumps(self.inventory(hosts)))
        started = time.monotonic()
        runner = ansible_runner.run(private_data_dir=str(private), project_dir=str(REPO),
                                    playbook=template["playbook"], limit=template.get("limit"), quiet=True)
        finished = time.monotonic()
        stats = next((event["event_data"] for event in runner.events if event["event"] == "playbook_on_stats"), {})
        return {"status": runner.status, "artifacts": stats.get("artifact_data") or {}, "started": started,
                "finished": finished, "stdout": runner.stdout.read()}


def _run_fleet(tmp_path: Path, fleet: Fleet, sink: Any, **group_vars: Any
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    workflow = Workflow(tmp_path, fleet, sink, **group_vars)
    canary = workflow.run("Hybrid routing fleet canary - Level 2", fleet.names)
    slices: list[dict[str, Any]] = []
    if canary["status"] == "successful":
        count = int(_template("Hybrid routing fleet - Level 2 (sliced)")["job_slice_count"])
        results: dict[int, Any] = {}

        def run_slice(number: int) -> None:
            try:
                results[number] = workflow.run("Hybrid routing fleet - Level 2 (sliced)",
                                               awx_slice(fleet.names, number, count))
            except Exception as exc:
                results[number] = exc

        threads = [threading.Thread(target=run_slice, args=(number,)) for number in range(1, count + 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        assert sorted(results) == list(range(1, count + 1)), "a slice did not end"
        failures = [result for result in results.values() if isinstance(result, Exception)]
        assert not failures, failures
        slices = [results[number] for number in sorted(results)]
    merged: dict[str, Any] = {}
    for job in sorted([canary, *slices], key=lambda job: job["finished"]):
        merged.update(job["artifacts"])  # AWX: the next node's extra vars, key by key, in the order jobs finished
    summary = workflow.run("Hybrid routing fleet summary", fleet.names, merged)
    return [canary], slices, summary


def test_the_fleet_workflow_rolls_each_environment_back_once_in_slices_that_run_at_once(tmp_path, fleet_of, sink):
    fleet = fleet_of(9)
    (canary,), slices, summary = _run_fleet(tmp_path, fleet, sink)
    assert canary["status"] == "successful", canary["stdout"][-3000:]
    assert len(slices) == 4 and all(job["status"] == "successful" for job in slices), \
        [job["stdout"][-2000:] for job in slices]
    # The slices ran at once: each started before any other had finished.
    assert max(job["started"] for job in slices) < min(job["finished"] for job in slices)
    assert all(job["started"] >= canary["finished"] for job in slices), "a slice started before the canary ended"
    for box in fleet.boxes:
        writes = _writes(box)
        assert writes.count(("PATCH", "/admin/feature-flags")) == 1 and writes.count(("PUT", "/admin/routing")) == 1
        assert box.get("/admin/routing")["mode"] == "mcp_only"
        assert box.get("/admin/locks/rollback")["held"] is False  # every environment's lock given back
    assert summary["status"] == "successful", summary["stdout"][-3000:]
    fleet_view = summary["artifacts"]["hybrid_routing_fleet"]
    assert fleet_view["failed"] == [] and fleet_view["untouched"] == [] and fleet_view["jobs"] == 5
    assert {name: entry["wave"] for name, entry in fleet_view["environments"].items()} == {
        name: 1 if name == "env0" else 2 for name in fleet.names}
    assert [row["jobs"] for row in fleet_view["waves"]] == [1, 4]
    slack = sink.requests("/slack/")
    assert len(slack) == 1, [item["body"]["text"] for item in slack]  # the summary's, not one per environment
    assert "Fleet: 2 waves in 5 jobs, 9 of 9 environments run, 0 failed." in slack[0]["body"]["text"]
    assert sink.requests("/pagerduty/") == []  # a Level 2 that succeeded pages nobody


def test_a_failing_canary_leaves_the_fleet_untouched_and_the_summary_says_so(tmp_path, fleet_of, sink):
    fleet = fleet_of(4)
    fleet.boxes[0].set_faults({"health_status": "unhealthy"})
    (canary,), slices, summary = _run_fleet(tmp_path, fleet, sink, hybrid_routing_verify_timeout_seconds=3)
    assert canary["status"] == "failed" and slices == []
    assert all(_writes(box) == [] for box in fleet.boxes[1:])
    assert summary["status"] == "failed"
    fleet_view = summary["artifacts"]["hybrid_routing_fleet"]
    assert fleet_view["failed"] == ["env0"] and fleet_view["untouched"] == ["env1", "env2", "env3"]
    assert fleet_view["stopped"] is True
    events = [item["body"] for item in sink.requests("/pagerduty/")]
    assert [event["event_action"] for event in events] == ["trigger"]
    assert events[0]["dedup_key"] == f"matbakh.hybrid_routing/fleet/{awx_vars()['awx_fleet_workflow']}"
