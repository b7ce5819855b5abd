"""Role contracts that hold (issue 23): whatever name an operator can set for an input of a level is checked
before the first write, or refused as not settable. The action roles' documented inputs (ansible-doc -t role
matbakh.hybrid_routing.release_revert ...) given with -e outrank the frame's include vars: they are refused before
anything is read or written. The same inputs under the names the levels take (hybrid_routing_*) are checked by the
preflight, also before any write. And a Level 3 whose release did not move is never `success`.

Each case runs the real ansible-playbook against the sandbox (deployments finish at once) and checks the state
through the admin API: no write at all, the run failed, and its report is not success."""

from __future__ import annotations

import json

import pytest

from hrtest import REPO

LEVEL1, LEVEL2, LEVEL3 = (f"playbooks/rollback_level{n}.yml" for n in (1, 2, 3))
ROLLFORWARD = "playbooks/rollforward.yml"
SEED_CURRENT, SEED_PREVIOUS = "2025.01.14-2", "2025.01.10-1"
NOT_SETTABLE = "Not settable for this run: "

# (playbook, extra var, what the refusal says)
ROLE_INPUTS = [
    (LEVEL3, "release_revert_strategy=helm", "set hybrid_routing_release_strategy instead"),
    (LEVEL3, "release_revert_target=1999.01.01-9", "set hybrid_routing_release_target instead"),
    # The Lambda strategy without functions (the frame's own name would be checked; this one would not have been).
    (LEVEL3, "release_revert_strategy=aws_lambda_alias", "set hybrid_routing_release_strategy instead"),
    (LEVEL3, '{"release_revert_lambda_functions": []}', "set hybrid_routing_lambda_functions instead"),
    (LEVEL3, "release_revert_wait_timeout_seconds=-1", "set hybrid_routing_release_wait_timeout_seconds instead"),
    (LEVEL3, "release_revert_lambda_alias=nope", "set hybrid_routing_lambda_alias instead"),
    (LEVEL3, '{"release_revert_snapshot": {"release": {"previous": "1999.01.01-9"}}}', "release_revert_snapshot ("),
    (LEVEL2, "traffic_mcp_only_wait_timeout_seconds=-1",
     "set hybrid_routing_routing_wait_timeout_seconds instead"),
    (LEVEL2, "traffic_mcp_only_interval_seconds=0", "for which the levels use the role's default"),
    (LEVEL1, '{"flag_disable_flags": ["hybrid_routnig"]}', "set hybrid_routing_flags instead"),
    (LEVEL1, "notify_drill=true", "set hybrid_routing_drill instead"),
    (ROLLFORWARD, "rollforward_force=true", "set hybrid_routing_rollforward_force instead"),
    (ROLLFORWARD, "rollforward_wait_timeout_seconds=-1", "set hybrid_routing_release_wait_timeout_seconds instead"),
    # What the playbook itself sets (Level 2 run as Level 3, past the Level 3 approval) and a private name.
    (LEVEL2, "hybrid_routing_level=3", "hybrid_routing_level (given with -e: this playbook sets it itself)"),
    (ROLLFORWARD, "hybrid_routing_direction=back", "hybrid_routing_direction (given with -e: this playbook sets"),
    (LEVEL3, '{"__hybrid_routing_snapshot": {"snapshot": {}}}', "a private name of the collection"),
]

# The same inputs under the names the levels take: checked by the preflight (the acting module in check mode).
FRAME_INPUTS = [
    (LEVEL3, "hybrid_routing_release_strategy=helm", "hybrid_routing_release_strategy must be one of"),
    (LEVEL3, "hybrid_routing_release_target=1999.01.01-9", "Unknown release 1999.01.01-9"),
    (LEVEL3, "hybrid_routing_release_strategy=aws_lambda_alias", "No function named"),
    (LEVEL3, "hybrid_routing_release_wait_timeout_seconds=-1", "wait_timeout must be >= 0"),
    (LEVEL2, "hybrid_routing_routing_wait_timeout_seconds=-1", "wait_timeout must be >= 0"),
    (LEVEL1, '{"hybrid_routing_flags": ["hybrid_routnig"]}', "Unknown feature flag(s): hybrid_routnig"),
]


def _e(value: str) -> list[str]:
    return ["-e", value]


def _name(extra: str) -> str:
    """The variable an extra var sets (key=value or a JSON object of one key)."""
    return next(iter(json.loads(extra))) if extra.startswith("{") else extra.split("=", 1)[0]


def _ids(cases: list[tuple[str, str, str]]) -> list[str]:
    return [f"{case[0].split('/')[1][:-4]}-{_name(case[1])}" for case in cases]


def assert_refused_before_any_write(runner, api, run, expected: str) -> None:
    assert run.rc != 0, run.output
    assert "Traceback" not in run.output
    text = " ".join(run.output.split())
    assert expected in text, text
    assert run.outcome() in (None, "failed"), "never success"
    assert api.changes() == [], "refused before any write"
    assert not (runner.state_dir / "itest" / "snapshot.json").exists(), "no snapshot taken"
    assert api.get("/admin/releases")["current"] == SEED_CURRENT


@pytest.mark.parametrize("playbook, extra, expected", ROLE_INPUTS,
                         ids=_ids(ROLE_INPUTS))
def test_an_action_role_input_given_with_e_is_refused_before_any_write(runner, api, playbook, extra, expected):
    run = runner.run(playbook, *_e(extra))
    assert_refused_before_any_write(runner, api, run, expected)
    assert NOT_SETTABLE in " ".join(run.output.split())
    assert "Nothing was read or written." in " ".join(run.output.split())


@pytest.mark.parametrize("playbook, extra, expected", FRAME_INPUTS,
                         ids=_ids(FRAME_INPUTS))
def test_the_same_inputs_under_the_levels_names_are_checked_before_any_write(runner, api, playbook, extra,
                                                                             expected):
    run = runner.run(playbook, *_e(extra))
    assert_refused_before_any_write(runner, api, run, expected)


def test_a_role_input_set_in_the_inventory_is_refused_not_ignored(runner, api):
    """The frame's value would win over the inventory's without a word: the operator hears why."""
    run = runner.run(LEVEL3, inventory_vars={"release_revert_strategy": "aws_lambda_alias"})
    assert_refused_before_any_write(runner, api, run, "release_revert_strategy (set in the inventory: an input of")


def test_a_rollforward_with_a_bad_wait_is_refused_before_it_restores_anything(runner, api):
    assert runner.run(LEVEL3).rc == 0
    writes = len(api.changes())
    run = runner.run(ROLLFORWARD, *_e("hybrid_routing_release_wait_timeout_seconds=-1"))
    assert run.rc != 0 and "wait_timeout must be >= 0" in " ".join(run.output.split())
    assert run.outcome() == "failed"
    assert api.changes()[writes:] == [], "refused before any write"
    assert api.get("/admin/releases")["current"] == SEED_PREVIOUS


def test_a_level3_whose_release_step_did_not_run_is_never_success(runner, api):
    """With the release step skipped (its tag), the flags and routing move but the release does not: the report
    judges the level by its own result, not by the absence of a failure."""
    run = runner.run(LEVEL3, "--skip-tags", "release_revert")
    assert run.rc != 0, run.output
    assert run.outcome() == "failed"
    text = " ".join(run.stdout.split())
    assert "Level 3 rollback (full release revert) of itest: FAILED" in text
    assert "did not revert the release: its step has no result of this run" in text
    assert api.get("/admin/releases")["current"] == SEED_CURRENT
    record = json.loads((runner.state_dir / "itest" / "audit.jsonl").read_text().splitlines()[-1])
    assert record["outcome"] == "failed"
    # The next full run completes the level (the snapshot is kept, the release goes back once).
    again = runner.run(LEVEL3)
    assert again.rc == 0, again.output
    assert again.outcome() == "success" and api.get("/admin/releases")["current"] == SEED_PREVIOUS


def test_the_documented_inputs_are_the_ones_refused():
    """Every input `ansible-doc -t role` documents for an action role is in one of the two tables above, or is
    fed by the frame under a name the preflight checks (the unit tests hold the mapping)."""
    import yaml

    tried = {_name(case[1]) for case in ROLE_INPUTS}
    for role in ("flag_disable", "traffic_mcp_only", "release_revert", "rollforward", "notify"):
        spec = yaml.safe_load((REPO / "roles" / role / "meta" / "argument_specs.yml").read_text())
        options = set(spec["argument_specs"]["main"]["options"])
        assert tried & options, f"no case gives an input of {role} with -e"


@pytest.mark.parametrize("extra", ["notify_incident=another-incident", "notify_phase=start",
                                   "notify_state_path=/tmp/elsewhere.json"])
def test_a_refused_run_tells_nobody_with_the_values_it_refused(runner, api, sink, extra):
    """The notify role at the end of a refused run would read the user's notify_* values (extra vars outrank the
    frame's include vars): a run refused for its inputs sends nothing at all."""
    receivers = {"hybrid_routing_slack_webhook_url": f"{sink.base}/slack/webhook/T/B/refused",
                 "hybrid_routing_pagerduty_routing_key": "refused-routing-key",
                 "hybrid_routing_pagerduty_events_url": f"{sink.base}/pagerduty/v2/enqueue"}
    run = runner.run(LEVEL3, *_e(extra), inventory_vars=receivers)
    assert_refused_before_any_write(runner, api, run, NOT_SETTABLE + _name(extra))
    assert sink.requests("/slack/") == [] and sink.get("pagerduty")["pages"] == []
    # The same receivers do hear from a run that is not refused.
    assert runner.run(LEVEL1, inventory_vars=receivers).rc == 0
    assert len(sink.requests("/slack/")) == 1


def test_an_action_role_on_its_own_checks_its_spec_and_returns_its_result(runner, api, tmp_path):
    """Outside the frame, an action role is a public role: its argument spec is checked before its step runs, and
    its one result variable tells what it did (check, real, real again)."""
    playbook = tmp_path / "flags_off.yml"
    playbook.write_text(
        "- hosts: all\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - name: Turn the flags off\n"
        "      ansible.builtin.include_role:\n"
        "        name: matbakh.hybrid_routing.flag_disable\n"
        "        public: true\n"
        "      vars:\n"
        "        flag_disable_flags: \"{{ wanted_flags }}\"\n"
        "    - name: Show the result\n"
        "      ansible.builtin.debug:\n"
        "        msg: \"RESULT {{ flag_disable_result.changed }} {{ flag_disable_result.changes | sort }}\"\n")
    env = {"API_BASE": api.base}
    bad = runner.run(str(playbook), "-e", '{"wanted_flags": {"hybrid_routing": 1}}', env=env)
    assert bad.rc != 0 and "Validating arguments against arg spec" in bad.output
    assert "flag_disable_flags" in bad.output and api.changes() == []
    checked = runner.run(str(playbook), "--check", "-e", '{"wanted_flags": ["hybrid_routing"]}', env=env)
    assert checked.rc == 0 and "RESULT True ['hybrid_routing']" in checked.output
    assert api.flags()["hybrid_routing"] is True
    real = runner.run(str(playbook), "-e", '{"wanted_flags": ["hybrid_routing"]}', env=env)
    assert real.rc == 0 and "RESULT True ['hybrid_routing']" in real.output
    again = runner.run(str(playbook), "-e", '{"wanted_flags": ["hybrid_routing"]}', env=env)
    assert again.rc == 0 and "RESULT False []" in again.output
    assert api.flags()["hybrid_routing"] is False and api.flags()["direct_bedrock"] is True


def test_the_notify_role_on_its_own_takes_its_receivers_from_module_defaults(runner, sink, tmp_path):
    """The notify role's README: the receivers are rollback_notify's options, set once in module_defaults for
    group/matbakh.hybrid_routing.receivers (not role inputs, so -e cannot redirect them)."""
    playbook = tmp_path / "tell.yml"
    playbook.write_text(
        "- hosts: all\n"
        "  gather_facts: false\n"
        "  module_defaults:\n"
        "    group/matbakh.hybrid_routing.receivers:\n"
        f"      slack_webhook_url: {sink.base}/slack/webhook/T/B/standalone\n"
        "      validate_certs: false\n"
        "      budget: 5\n"
        "  roles:\n"
        "    - role: matbakh.hybrid_routing.notify\n"
        "      vars:\n"
        "        notify_report: {environment: itest, summary: Level 1 rollback of itest done., outcome: success,\n"
        "                        rollback_id: rb-standalone}\n"
        "  post_tasks:\n"
        "    - name: Show the result\n"
        "      ansible.builtin.debug:\n"
        "        msg: \"RESULT {{ notify_result.failed_channels }} {{ notify_result.deliveries | length }}\"\n")
    run = runner.run(str(playbook), "-e", '{"notify_receivers": {"slack_webhook_url": "https://elsewhere.example/x"}}')
    assert run.rc == 0, run.output
    assert "RESULT [] 1" in run.output
    slack = sink.requests("/slack/")
    assert len(slack) == 1 and "standalone" in json.dumps(slack[0])
