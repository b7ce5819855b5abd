"""The fleet's waves and summary (issue 21): Ansible's batches, and the fleet's state after each wave."""

from __future__ import annotations

from typing import Any

import pytest
from ansible.playbook.play import Play

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._fleet import (
    FAILED,
    UNTOUCHED,
    batches,
    check_order,
    check_waves,
    summary,
)

HOSTS = [f"env{index}" for index in range(10)]


def _ansible_batches(hosts: list[str], serial: list[Any]) -> list[list[str]]:
    """What ansible-playbook itself makes of serial (PlaybookExecutor._get_serialized_batches)."""
    from ansible.executor.playbook_executor import PlaybookExecutor

    class Inventory:
        def get_hosts(self, _pattern: Any, order: Any = None) -> list[str]:
            return list(hosts)

    executor = PlaybookExecutor.__new__(PlaybookExecutor)
    executor._inventory = Inventory()
    play = Play.load({"hosts": "all", "serial": serial, "tasks": []})
    play.post_validate = lambda *_a, **_k: None
    return executor._get_serialized_batches(play)


@pytest.mark.parametrize("serial", [[1, "25%", "100%"], [1], [2, 3], ["30%"], [1, 1, "100%"], ["0%"], [0]])
def test_waves_are_cut_as_ansible_cuts_its_batches(serial):
    assert batches(HOSTS, serial) == _ansible_batches(HOSTS, serial)


def test_no_waves_is_one_wave_of_everyone():
    assert batches(HOSTS, None) == [HOSTS]


@pytest.mark.parametrize("waves", ["[1, 2]", [], ["quarter"], [True], [1.5], [-1], {"a": 1}])
def test_waves_the_play_cannot_take_are_refused_with_the_form_to_give(waves):
    with pytest.raises(ValueError, match=r"hybrid_routing_waves"):
        check_waves(waves)


def test_an_order_must_be_a_list_of_names():
    check_order(["env3", "env1"])
    with pytest.raises(ValueError, match="must be a list of environments"):
        check_order('["env3"]')


def _report(outcome: str, why: str | None = None) -> dict[str, Any]:
    return {"outcome": outcome, "rollback_id": "rb-1", "elapsed_seconds": 3.0, "target_seconds": 300.0,
            "summary": f"Level 2 {outcome}", "failure": {"msg": why} if why else None}


def test_a_failed_canary_stops_the_fleet_and_names_what_it_left():
    fleet = summary(HOSTS[:4], [1, "100%"], {"env0": _report("failed", "did not become healthy")}, 0, ["env0"])
    assert fleet["stopped"] and fleet["finished"] and fleet["wave"] == 1 and fleet["of_waves"] == 2
    assert fleet["untouched"] == ["env1", "env2", "env3"] and fleet["failed"] == ["env0"]
    assert fleet["environments"]["env2"] == {"outcome": UNTOUCHED, "wave": 2}
    assert fleet["message"] == ("Fleet: wave 1 of 2 done, 1 of 4 environments run, 1 failed. STOPPED at wave 1 "
                                "(env0 failed, tolerance 0 %): env0: did not become healthy. Untouched: env1, env2, "
                                "env3.")


def test_a_failure_within_the_tolerance_goes_on():
    reports = {"env0": _report("success"), "env1": _report("failed", "x"), "env2": _report("success")}
    fleet = summary(HOSTS[:6], [1, 2, "100%"], reports, 50, ["env1", "env2"])
    assert not fleet["stopped"] and not fleet["finished"]
    assert fleet["message"].endswith("Next: wave 3 (env3, env4, env5).")
    stops = summary(HOSTS[:6], [1, 2, "100%"], reports, 49, ["env1", "env2"])
    assert stops["stopped"]


def test_the_last_wave_finishes_the_fleet_and_each_environment_has_its_time_against_its_target():
    reports = {host: _report("success") for host in HOSTS[:3]}
    reports["env2"] = _report("target_missed")
    fleet = summary(HOSTS[:3], [1, "100%"], reports, 0, ["env1", "env2"])
    assert fleet["finished"] and not fleet["stopped"] and fleet["untouched"] == []
    assert [w["outcome"] for w in fleet["waves"]] == ["done", "done"]
    assert fleet["environments"]["env2"]["within_target"] is False
    assert fleet["environments"]["env1"]["within_target"] is True
    assert fleet["message"] == "Fleet: wave 2 of 2 done, 3 of 3 environments run, 0 failed."


def _part(hosts: list[str], started: float, finished: float, outcome: str = "success") -> dict[str, Any]:
    return {"started_at": started, "finished_at": finished, "level": 2, "direction": "back", "dry_run": False,
            "environments": {host: {"outcome": outcome, "started_at": started, "elapsed_seconds": finished - started,
                                    "summary": f"{host} {outcome}", "why": None if outcome != FAILED else "boom"}
                             for host in hosts}}


def test_jobs_of_a_fleet_are_merged_into_waves_by_when_they_ran():
    """An AWX fleet: the canary's job, then slices that overlap (one wave), in any order."""
    from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._fleet import merge

    parts = [_part(["env2", "env4"], 12.0, 20.0), _part(["env0"], 0.0, 10.0), _part(["env1", "env3"], 11.0, 19.0)]
    fleet = merge(HOSTS[:5], parts)
    assert fleet["jobs"] == 3 and fleet["wave"] == 2 and fleet["failed"] == [] and fleet["untouched"] == []
    assert [row["environments"] for row in fleet["waves"]] == [["env0"], ["env1", "env2", "env3", "env4"]]
    assert [row["jobs"] for row in fleet["waves"]] == [1, 2]
    assert fleet["outcome"] == "done" and fleet["level"] == 2
    assert fleet["message"] == "Fleet: 2 waves in 3 jobs, 5 of 5 environments run, 0 failed."


def test_a_merged_fleet_whose_canary_failed_is_stopped_with_the_rest_untouched():
    from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._fleet import merge

    fleet = merge(HOSTS[:3], [_part(["env0"], 0.0, 5.0, FAILED)])
    assert fleet["stopped"] and fleet["outcome"] == "stopped" and fleet["untouched"] == ["env1", "env2"]
    assert fleet["message"] == ("Fleet: 1 wave in 1 job, 1 of 3 environments run, 1 failed. Failed: env0: boom. "
                                "Untouched: env1, env2.")
    assert merge(HOSTS[:2], [])["untouched"] == ["env0", "env1"]
