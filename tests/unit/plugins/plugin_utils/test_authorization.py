"""Who may run which level (plugin_utils/_authorization.py): the seed's matrix, break glass, automatic runs."""

from __future__ import annotations

import pytest

from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._authorization import (
    NOT_ENFORCED,
    AuthorizationError,
    authorize,
    decide,
)

PEOPLE = {"alice": {"roles": ["on_call"]}, "bob": {"roles": ["on_call"]},
          "mark": {"roles": ["engineering_manager"]}, "cara": {"roles": ["cto"]}, "dave": {"roles": ["cto"]}}


@pytest.mark.parametrize(("level", "requester", "approver", "authorized_by"), [
    (1, "alice", "", "alice"),
    (1, "mark", "", "mark"),          # a higher role runs a lower level
    (2, "alice", "mark", "mark"),
    (2, "mark", "", "mark"),
    (2, "alice", "cara", "cara"),
    (3, "alice", "cara", "cara"),
    (3, "cara", "dave", "dave"),
])
def test_the_matrix_allows(level: int, requester: str, approver: str, authorized_by: str) -> None:
    decision = authorize(PEOPLE, level, "back", requester, approver, "")
    assert decision["authorized_by"] == authorized_by and decision["enforced"] is True
    assert decision["break_glass"] is False


@pytest.mark.parametrize(("level", "direction", "requester", "approver", "message"), [
    (2, "back", "alice", "", "Level 2 needs the approval of someone with the role engineering_manager"),
    (2, "back", "alice", "bob", "Level 2 needs an approver with the role engineering_manager; 'bob' has on_call"),
    (3, "back", "alice", "mark", "Level 3 needs an approver with the role cto; 'mark' has engineering_manager"),
    (3, "back", "cara", "cara", "Level 3 cannot be approved by the person who requests it"),
    (3, "back", "cara", "", "Level 3 needs the approval of someone with the role cto"),
    (1, "back", "", "", "needs a requester"),
    (1, "back", "zed", "", "The requester 'zed' is not in hybrid_routing_people"),
    (2, "back", "alice", "zed", "The approver 'zed' is not in hybrid_routing_people"),
    (1, "forward", "alice", "", "a roll-forward needs the approval of someone with the role engineering_manager"),
])
def test_the_matrix_refuses(level: int, direction: str, requester: str, approver: str, message: str) -> None:
    with pytest.raises(AuthorizationError, match=message):
        authorize(PEOPLE, level, direction, requester, approver, "")


def test_break_glass_lets_on_call_run_level2_and_is_marked() -> None:
    decision = authorize(PEOPLE, 2, "back", "alice", "", "manager unreachable, errors at 40 %")
    assert decision["break_glass"] is True and decision["reason"].startswith("BREAK GLASS")
    with pytest.raises(AuthorizationError, match="Level 3 needs the approval"):
        authorize(PEOPLE, 3, "back", "alice", "", "no time")


def test_without_people_nothing_is_enforced_and_it_says_so() -> None:
    decision = authorize({}, 3, "back", "", "", "")
    assert decision["enforced"] is False and decision["reason"] == NOT_ENFORCED


def test_automatic_runs_are_authorized_by_the_rules_within_the_ceiling() -> None:
    decision = authorize(PEOPLE, 2, "back", "auto_rollback", "", "", automatic=True, trigger="error_rate",
                         ceiling=2)
    assert decision["authorized_by"] == "trigger rules: error_rate"
    with pytest.raises(AuthorizationError, match="up to Level 2, not Level 3"):
        authorize(PEOPLE, 3, "back", "auto_rollback", "", "", automatic=True, trigger="availability", ceiling=2)


@pytest.mark.parametrize("people", [{"alice": {"roles": ["boss"]}}, {"alice": {}}, {"alice": {"roles": []}}])
def test_malformed_people_are_named(people: dict) -> None:
    with pytest.raises(AuthorizationError, match="hybrid_routing_people: 'alice' needs roles"):
        authorize(people, 1, "back", "alice", "", "")


def test_a_refusal_carries_the_decision_who_and_why() -> None:
    result = decide(2, "back", "alice", "bob", PEOPLE, "", False, "", 0)
    assert result["failed"] and "Not authorized" in result["msg"]
    refused = result["authorization"]
    assert (refused["refused"], refused["requester"], refused["approver"], refused["required_role"]) == (
        True, "alice", "bob", "engineering_manager")
    assert refused["reason"].startswith("Refused: Level 2 needs an approver with the role engineering_manager")


def test_the_approver_awx_recorded_is_the_one_checked_and_the_claim_is_kept() -> None:
    verified = {"source": "awx", "verified": True, "approved_by": "cara", "claimed": "bob"}
    result = decide(3, "back", "alice", "bob", PEOPLE, "", False, "", 0, verified)
    assert result["authorization"]["authorized_by"] == "cara" and result["authorization"]["approval"] == verified
    claimed = {"source": "claimed", "verified": False, "approved_by": "cara", "why": "not launched by a workflow"}
    result = decide(3, "back", "alice", "cara", PEOPLE, "", False, "", 0, claimed)
    assert result["authorization"]["authorized_by"] == "cara" and result["authorization"]["approval"] == claimed
    # A verified approver without the role is refused, whatever the survey claimed.
    refused = decide(3, "back", "alice", "cara", PEOPLE, "", False, "", 0, dict(verified, approved_by="bob"))
    assert refused["failed"] and refused["authorization"]["approver"] == "bob"
