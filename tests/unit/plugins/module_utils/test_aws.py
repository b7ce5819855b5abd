"""The warm botocore session the playbook process hands to its forked workers (preload): used once per process,
and it carries no credentials, region or profile from the warm-up or from an earlier run into a later one."""

from __future__ import annotations

import pytest

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils import _aws


def access(key: str, region: str) -> _aws.AWSAccess:
    return _aws.AWSAccess({"region": region, "access_key": key, "secret_key": f"{key}-secret",
                           "endpoint_url": "http://127.0.0.1:9"}, service="cloudwatch")


@pytest.fixture(autouse=True)
def fresh_shared(monkeypatch):
    monkeypatch.setattr(_aws, "_SHARED", {})


def test_the_warm_session_is_used_once_and_keeps_no_credentials():
    _aws.preload("cloudwatch", "dynamodb")
    _aws.preload("cloudwatch")  # a second action plugin: the same session, nothing warmed twice
    warm = _aws._SHARED["core"]
    assert _aws._SHARED["services"] == {"cloudwatch", "dynamodb"}
    assert warm.get_config_variable("region") is None, "the warm-up's region stays in its own client"

    first = access("AKIAFIRST", "eu-west-1")
    assert first.session._session is warm and "core" not in _aws._SHARED
    second = access("AKIASECOND", "eu-central-1")
    assert second.session._session is not warm, "a later run in the same process starts from a fresh session"
    for run, key, region in ((first, "AKIAFIRST", "eu-west-1"), (second, "AKIASECOND", "eu-central-1")):
        credentials = run.client._request_signer._credentials
        assert (credentials.access_key, run.client.meta.region_name) == (key, region)
    assert "preload" not in (first.client._request_signer._credentials.access_key,
                             second.client._request_signer._credentials.access_key)


def test_the_options_are_amazon_aws_names_with_its_aliases():
    """One set of AWS variables serves these modules and amazon.aws's (playbooks/alarms.yml says access_key)."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    given = {"aws_endpoint_url": ("endpoint_url", "http://127.0.0.1:9"), "aws_region": ("region", "eu-central-1"),
             "aws_access_key": ("access_key", "AKIA1"), "aws_secret_key": ("secret_key", "s3cr3t"),
             "aws_session_token": ("session_token", "t0k3n"), "aws_profile": ("profile", "ops")}
    validated = ArgumentSpecValidator(_aws.AWS_ARGSPEC).validate(
        {alias: value for alias, (_name, value) in given.items()}).validated_parameters
    assert {name: validated[name] for name, _value in given.values()} == dict(given.values())
    assert all(_aws.AWS_ARGSPEC[name]["no_log"] for name in ("access_key", "secret_key", "session_token"))
