"""rollback_report's inputs as both supported ansible-core versions template them."""

from __future__ import annotations

import pytest

from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._inprocess import mapping_or_none


@pytest.mark.parametrize("value", [None, "", "None", {}, [], 0])
def test_a_null_as_either_core_renders_it_means_none(value: object) -> None:
    assert mapping_or_none(value) is None


def test_a_failure_is_kept_as_given() -> None:
    failure = {"task": "Turn the flags off", "msg": "HTTP 503", "at": "1800000000.5"}
    assert mapping_or_none(failure) is failure


@pytest.mark.parametrize("lock, taken", [
    ({"changed": True, "lock": {"held": True}}, True),
    ({"changed": False, "took_over_own": True}, True),  # a lock the run already held (its own stale one)
    ({"failed": True, "msg": "held by bob"}, False),  # never taken: nothing to give back
    ({"skipped": True}, False), ({}, False), (None, False), ("", False),
])
def test_only_a_lock_the_run_took_is_given_back(lock: object, taken: bool) -> None:
    from ansible_collections.matbakh.hybrid_routing.plugins.action.rollback_report import _holds_lock

    assert _holds_lock(lock) is taken
