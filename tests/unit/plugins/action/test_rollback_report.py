"""rollback_report's inputs as both supported ansible-core versions template them."""

from __future__ import annotations

import pytest

from ansible_collections.matbakh.hybrid_routing.plugins.action.rollback_report import _mapping_or_none


@pytest.mark.parametrize("value", [None, "", "None", {}, [], 0])
def test_a_null_as_either_core_renders_it_means_none(value: object) -> None:
    assert _mapping_or_none(value) is None


def test_a_failure_is_kept_as_given() -> None:
    failure = {"task": "Turn the flags off", "msg": "HTTP 503", "at": "1800000000.5"}
    assert _mapping_or_none(failure) is failure
