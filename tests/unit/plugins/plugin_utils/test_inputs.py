"""Which names a run of the frame may take (plugin_utils/_inputs.py): an action role's input, a name the playbook
or the frame sets, or a private name, given by the user, is refused before anything is read or written."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible_collections.matbakh.hybrid_routing.plugins.action.rollback_decision import RUNG_INPUTS
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._inputs import (
    action_role_names,
    frame_feeds,
    refusal_message,
    refusals,
)

ROLES = Path(__file__).resolve().parents[4] / "roles"
ACTION_ROLES = sorted(path.name for path in ROLES.iterdir() if path.name != "hybrid_routing")
FRAME_OPTIONS = set(yaml.safe_load((ROLES / "hybrid_routing/meta/argument_specs.yml").read_text())
                    ["argument_specs"]["main"]["options"])


def _documented(role: str) -> set[str]:
    specs = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    return {name for entry in specs.values() for name in entry["options"]}


@pytest.mark.parametrize("role", ACTION_ROLES)
def test_every_documented_input_of_an_action_role_is_known(role):
    """What `ansible-doc -t role` documents for the role is exactly what the check guards."""
    known = action_role_names()
    assert _documented(role) <= {name for name, entry in known.items() if entry["role"] == role and entry["input"]}
    assert f"{role}_result" in known and not known[f"{role}_result"]["input"]


def test_the_frame_feeds_each_mapped_input_from_one_of_its_own_options():
    feeds = frame_feeds()
    assert feeds["release_revert_strategy"] == "hybrid_routing_release_strategy"
    assert feeds["release_revert_target"] == "hybrid_routing_release_target"
    assert feeds["release_revert_lambda_functions"] == "hybrid_routing_lambda_functions"
    assert feeds["release_revert_wait_timeout_seconds"] == "hybrid_routing_release_wait_timeout_seconds"
    assert feeds["traffic_mcp_only_wait_timeout_seconds"] == "hybrid_routing_routing_wait_timeout_seconds"
    assert feeds["flag_disable_flags"] == "hybrid_routing_flags"
    assert set(feeds.values()) <= FRAME_OPTIONS
    assert set(feeds) <= set(action_role_names())


@pytest.mark.parametrize("name, value, expected", [
    ("release_revert_strategy", "helm", "given with -e: an input of the role matbakh.hybrid_routing.release_revert, "
                                        "which the levels set from hybrid_routing_release_strategy; set "
                                        "hybrid_routing_release_strategy instead"),
    ("release_revert_wait_timeout_seconds", -1, "set hybrid_routing_release_wait_timeout_seconds instead"),
    ("traffic_mcp_only_interval_seconds", 0, "for which the levels use the role's default"),
    ("release_revert_result", {}, "a result of the role matbakh.hybrid_routing.release_revert; never set it"),
    ("__hybrid_routing_snapshot", {}, "a private name of the collection; never set it"),
    ("__release_revert_release", {}, "a private name of the collection"),
    ("hybrid_routing_level", 3, "this playbook sets it itself"),
])
def test_names_given_with_e_that_the_run_sets_itself_are_refused(name, value, expected):
    found = refusals({name: value}, {name: value}, {"hybrid_routing_level", "hybrid_routing_result"})
    assert len(found) == 1 and found[0].startswith(name) and expected in found[0], found


def test_the_inputs_of_the_levels_are_not_refused():
    extra = {"hybrid_routing_release_strategy": "aws_lambda_alias", "hybrid_routing_requester": "alice",
             "hybrid_routing_drill": True, "hybrid_routing_hosts": "prod", "writer": "x"}
    assert refusals(extra, dict(extra), {"hybrid_routing_level"}) == []


def test_what_awx_and_eda_pass_as_extra_vars_is_never_refused():
    """The AWX surveys' answers and EDA's run_playbook extra_vars arrive as extra vars."""
    import json

    extensions = ROLES.parent / "extensions"
    names = {question["variable"] for survey in (extensions / "awx" / "surveys").glob("*.json")
             for question in json.loads(survey.read_text())["spec"]}
    rulebook = yaml.safe_load((extensions / "eda" / "rulebooks" / "auto_rollback.yml").read_text())
    names |= {name for rule in rulebook[0]["rules"] for name in rule["action"]["run_playbook"]["extra_vars"]}
    assert "hybrid_routing_requester" in names and "hybrid_routing_hosts" in names
    extra = dict.fromkeys(names, "x")
    set_here = {"hybrid_routing_level", "hybrid_routing_direction", "hybrid_routing_drill"} | RUNG_INPUTS
    assert refusals(extra, dict(extra), set_here) == []


def test_a_role_input_in_the_inventory_is_refused_unless_it_is_the_default_an_include_exposed():
    """The frame's value wins over the inventory's without a word: refused; a role default exposed to the play by
    an earlier include (public: true) is not the user's."""
    assert refusals({}, {"release_revert_strategy": "aws_lambda_alias"}, set())[0].startswith(
        "release_revert_strategy (set in the inventory: an input")
    exposed = {"release_revert_strategy": "admin_api", "flag_disable_flags": action_role_names()[
        "flag_disable_flags"]["default"], "release_revert_result": {"changed": True}}
    assert refusals({}, exposed, set()) == []


def test_the_message_says_what_to_do_and_that_nothing_happened():
    message = refusal_message(refusals({"release_revert_strategy": "helm"}, {}, set()))
    assert message.startswith("Not settable for this run: release_revert_strategy (")
    assert "Leave it out" in message and message.endswith("Nothing was read or written.")
    assert "Leave them out" in refusal_message(["a", "b"])


def test_the_automatic_rollback_refuses_what_its_rungs_set():
    rung = yaml.safe_load((ROLES / "hybrid_routing/tasks/auto_rung.yml").read_text())[0]["block"][0]
    assert rung["ansible.builtin.include_role"]["name"] == "matbakh.hybrid_routing.hybrid_routing"
    assert set(rung["vars"]) == RUNG_INPUTS
