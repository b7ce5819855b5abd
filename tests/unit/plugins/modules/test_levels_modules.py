"""routing_mode, release and lambda_alias with their transport replaced (fake admin API, moto in-process)."""

from __future__ import annotations

import io
import zipfile

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from moto import mock_aws

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._aws import AWSError, AWSTransientError, call
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._http import (
    AuthError,
    ServerError,
    UnreachableError,
)
from ansible_collections.matbakh.hybrid_routing.plugins.modules import lambda_alias, release, routing_mode

pytestmark = pytest.mark.usefixtures("fake_api")


def last_api(fake_api):
    return fake_api.instances[-1]


# -- routing_mode ----------------------------------------------------------------------------------------------

def test_routing_switch_waits_for_effective_split(fake_api, run_module):
    def prepare(api):
        api.state["routing_lag"] = 3

    code, result = run_module(routing_mode, {"mode": "mcp_only", "interval": 0.01, "_ansible_diff": True}, prepare)
    assert code == 0 and result["changed"] is True and result["converged"] is True
    assert result["routing"]["effective"] == {"mode": "mcp_only", "weights": {"direct": 0, "mcp": 100}}
    assert result["diff"]["before"]["mode"] == "hybrid" and result["diff"]["after"]["mode"] == "mcp_only"
    assert last_api(fake_api).writes == [("set_routing", "mcp_only", None)]


def test_routing_never_converging_fails_after_deadline(run_module):
    def prepare(api):
        api.state["routing_lag"] = 10_000

    code, result = run_module(routing_mode, {"mode": "mcp_only", "wait_timeout": 0.2, "interval": 0.05}, prepare)
    assert code == 1 and "Traffic has not followed the routing change within 0.2s" in result["msg"]
    assert "effective hybrid (direct 70 / mcp 30)" in result["msg"]


def test_routing_wait_rides_out_errors_and_missing_answers(fake_api, run_module):
    def prepare(api):
        api.state["routing_lag"] = 2
        # The read before the write and the fake's answer to the write go through; the polls after them meet a
        # 503 and a missing answer.
        api.read_errors["routing"] = [None, None, ServerError("answered 503", status=503), UnreachableError("refused")]

    code, result = run_module(routing_mode, {"mode": "mcp_only", "interval": 0.01, "wait_timeout": 20}, prepare)
    assert code == 0 and result["converged"] is True, result
    assert result["wait"]["unanswered"] == 1 and result["wait"]["answered"] >= 2
    assert all(w > 19 for w in last_api(fake_api).waits[2:]), "each poll may wait for what is left of 20 s"


def test_routing_already_set_is_ok_and_check_mode_writes_nothing(fake_api, run_module):
    code, result = run_module(routing_mode, {"mode": "hybrid"})
    assert code == 0 and result["changed"] is False
    code, result = run_module(routing_mode, {"mode": "mcp_only", "_ansible_check_mode": True})
    assert code == 0 and result["changed"] is True and result["routing"]["weights"] == {"direct": 0, "mcp": 100}
    assert last_api(fake_api).writes == []


@pytest.mark.parametrize(
    "args, message",
    [({"mode": "mcp_only", "weights": {"direct": 0, "mcp": 100}}, "weights only apply to mode hybrid"),
     ({"mode": "hybrid", "weights": {"direct": 60, "mcp": 30}}, "summing to 100"),
     ({"mode": "hybrid", "weights": {"direct": "x", "mcp": 30}}, "integer percentages")],
)
def test_routing_bad_weights_fail_before_any_request(fake_api, run_module, args, message):
    code, result = run_module(routing_mode, args)
    assert code == 1 and message in result["msg"]
    assert all(not api.writes for api in fake_api.instances)


# -- release ---------------------------------------------------------------------------------------------------

def test_release_deploys_and_waits(fake_api, run_module):
    code, result = run_module(release, {"target": "r2", "idempotency_key": "rb-1:release:r2", "interval": 0.01,
                                        "_ansible_diff": True})
    assert code == 0 and result["changed"] is True
    assert result["release"]["current"] == "r2" and result["deployment"]["status"] == "succeeded"
    assert result["diff"] == {"before": {"current": "r3"}, "after": {"current": "r2"}}
    assert last_api(fake_api).writes == [("release", "r2", "rb-1:release:r2")]


def test_release_already_current_sends_nothing(fake_api, run_module):
    code, result = run_module(release, {"target": "r3", "idempotency_key": "k"})
    assert code == 0 and result["changed"] is False and last_api(fake_api).writes == []


def test_release_check_mode_sends_nothing(fake_api, run_module):
    code, result = run_module(release, {"target": "r2", "idempotency_key": "k", "_ansible_check_mode": True})
    assert code == 0 and result["changed"] is True and last_api(fake_api).writes == []


def test_release_refuses_without_previous(run_module):
    def prepare(api):
        api.state["releases"].update(current="r1", previous=None)

    code, result = run_module(release, {"idempotency_key": "k"}, prepare)
    assert code == 1 and "There is no previous release to go back to: r1 was the oldest" in result["msg"]
    assert "option target" in result["msg"] and "hybrid_routing" not in result["msg"]


SNAPSHOT = {"rollback_id": "rb-7", "release": {"current": "r3", "previous": "r2"}}


@pytest.mark.parametrize(
    "args, state, target, key",
    [({"snapshot": SNAPSHOT}, {}, "r2", "rb-7:release:r2"),
     # after a first revert the service's previous moved on: the snapshot keeps the aim, no second step back
     ({"snapshot": SNAPSHOT}, {"current": "r2", "previous": "r1"}, None, None),
     ({"snapshot": SNAPSHOT, "target": "r1"}, {}, "r1", "rb-7:release:r1"),
     ({}, {}, "r2", "no-id:release:r2"),
     ({"snapshot": SNAPSHOT, "idempotency_key": "mine"}, {}, "r2", "mine")],
    ids=["from-snapshot", "re-run-after-revert", "explicit-target", "no-snapshot", "explicit-key"],
)
def test_release_target_and_key_are_resolved_in_the_module(fake_api, run_module, args, state, target, key):
    def prepare(api):
        api.state["releases"].update(state)

    code, result = run_module(release, dict(args, interval=0.01), prepare)
    assert code == 0, result
    writes = last_api(fake_api).writes
    assert writes == ([("release", target, key)] if target else [])


def test_release_forward_puts_the_recorded_release_back(fake_api, run_module):
    def after_revert(api):
        api.state["releases"].update(current="r2", previous="r1")

    code, result = run_module(release, {"direction": "forward", "snapshot": SNAPSHOT, "interval": 0.01}, after_revert)
    assert code == 0 and result["changed"] is True
    assert last_api(fake_api).writes == [("release", "r3", "rb-7:rollforward:r3")]


def test_release_forward_refuses_a_release_deployed_during_the_incident_unless_forced(fake_api, run_module):
    def someone_deployed(api):
        api.state["releases"].update(current="r1", previous="r2")

    for check_mode in (True, False):
        code, result = run_module(release, {"direction": "forward", "snapshot": SNAPSHOT,
                                            "_ansible_check_mode": check_mode}, someone_deployed)
        assert code == 1 and "someone deployed during the incident" in result["msg"]
        assert "set force=true" in result["msg"] and last_api(fake_api).writes == []
    code, result = run_module(release, {"direction": "forward", "snapshot": SNAPSHOT, "force": True,
                                        "interval": 0.01}, someone_deployed)
    assert code == 0 and last_api(fake_api).writes == [("release", "r3", "rb-7:rollforward:r3")]


def test_release_forward_needs_the_snapshot(fake_api, run_module):
    code, result = run_module(release, {"direction": "forward"})
    assert code == 1 and "needs the snapshot (option snapshot)" in result["msg"]


def test_release_refuses_a_deployment_elsewhere_but_waits_for_one_to_its_target(fake_api, run_module):
    def running_to(target):
        def prepare(api):
            running = {"id": "d-9", "status": "in_progress", "from": "r3", "to": target, "idempotency_key": "other",
                       "started_at": "T0"}
            api.state["releases"]["deployment"] = dict(running)
            api.state["deployments"] = {"d-9": dict(running)}
        return prepare

    code, result = run_module(release, {"target": "r2", "idempotency_key": "mine"}, running_to("r1"))
    assert code == 1 and "Another deployment is in progress: deployment d-9 from r3 to r1" in result["msg"]

    code, result = run_module(release, {"target": "r2", "idempotency_key": "mine", "interval": 0.01},
                              running_to("r2"))
    assert code == 0 and result["deployment"]["id"] == "d-9" and result["release"]["current"] == "r2"
    assert last_api(fake_api).writes == [], "it waits for the running deployment instead of posting again"


def test_release_retries_under_a_new_key_after_a_failed_attempt(fake_api, run_module):
    def earlier_failure(api):
        api.state["releases"]["history"] = [{"idempotency_key": "rb-1:release:r2", "status": "failed"}]

    code, result = run_module(release, {"target": "r2", "idempotency_key": "rb-1:release:r2", "interval": 0.01},
                              earlier_failure)
    assert code == 0 and result["changed"] is True
    assert last_api(fake_api).writes == [("release", "r2", "rb-1:release:r2#2")]


def test_release_failed_deployment_fails(run_module):
    def prepare(api):
        api.state["deploy_outcome"] = "failed"

    code, result = run_module(release, {"target": "r2", "idempotency_key": "k", "interval": 0.01}, prepare)
    assert code == 1 and "failed" in result["msg"] and result["deployment"]["status"] == "failed"


def test_release_wait_rides_out_a_missing_answer_but_not_a_rejected_token(fake_api, run_module):
    def prepare(api):
        api.read_errors["deployment"] = [UnreachableError("did not answer within 5s.")]

    code, result = run_module(release, {"idempotency_key": "k", "interval": 0.01, "wait_timeout": 30}, prepare)
    assert code == 0 and result["release"]["current"] == "r2", result
    assert result["wait"] == dict(result["wait"], polls=2, answered=1, unanswered=1)

    def reject(api):
        api.read_errors["deployment"] = [AuthError("token rejected", status=401)]

    code, result = run_module(release, {"idempotency_key": "k2", "interval": 0.01, "wait_timeout": 30}, reject)
    assert code == 1 and "token rejected" in result["msg"]


def test_release_deadline_message_counts_the_polls(run_module):
    def prepare(api):
        api.read_errors["deployment"] = [UnreachableError("refused")] * 10_000

    code, result = run_module(release, {"idempotency_key": "k", "interval": 0.05, "wait_timeout": 0.3}, prepare)
    assert code == 1 and "is still in_progress after 0.3s" in result["msg"]
    assert "none answered" in result["msg"] and "Running again resumes waiting" in result["msg"]


def test_release_unknown_target(run_module):
    code, result = run_module(release, {"target": "r9", "idempotency_key": "k"})
    assert code == 1 and "Unknown release r9 (option target);" in result["msg"]


# -- lambda_alias ----------------------------------------------------------------------------------------------

AWS_ARGS = {"region": "eu-central-1", "access_key": "testing", "secret_key": "unit-secret-ABC"}


@pytest.fixture
def functions(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        iam = boto3.client("iam", region_name="eu-central-1")
        role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        client = boto3.client("lambda", region_name="eu-central-1")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("handler.py", "def handler(event, context):\n    return 1\n")
        client.create_function(FunctionName="fn", Runtime="python3.11", Role=role, Handler="handler.handler",
                               Code={"ZipFile": buffer.getvalue()})
        for _version in range(3):
            client.update_function_code(FunctionName="fn", ZipFile=buffer.getvalue())
            client.publish_version(FunctionName="fn")
        client.create_alias(FunctionName="fn", Name="live", FunctionVersion="3")
        yield client


def test_lambda_alias_moves_records_and_is_idempotent(functions, run_module):
    args = dict(AWS_ARGS, versions={"fn": "2"}, _ansible_diff=True)
    code, result = run_module(lambda_alias, args, connection=False)
    assert code == 0 and result["changed"] is True
    assert result["aliases"] == {"fn": {"before": "3", "after": "2"}}
    assert functions.get_alias(FunctionName="fn", Name="live")["FunctionVersion"] == "2"
    assert "unit-secret-ABC" not in str(result)
    assert result["serving"] == {"fn": {"version": "2", "state": "Active", "last_update": "Successful"}}
    assert result["wait"]["polls"] == 1
    code, again = run_module(lambda_alias, args, connection=False)
    assert code == 0 and again["changed"] is False


def test_lambda_alias_unknown_version_changes_nothing(functions, run_module):
    code, result = run_module(lambda_alias, dict(AWS_ARGS, versions={"fn": "9"}), connection=False)
    assert code == 1 and "no published version '9'" in result["msg"]
    assert functions.get_alias(FunctionName="fn", Name="live")["FunctionVersion"] == "3"


def test_lambda_alias_check_mode(functions, run_module):
    code, result = run_module(lambda_alias, dict(AWS_ARGS, versions={"fn": "1"}, _ansible_check_mode=True),
                              connection=False)
    assert code == 0 and result["changed"] is True
    assert functions.get_alias(FunctionName="fn", Name="live")["FunctionVersion"] == "3"


def test_lambda_alias_unknown_function_is_a_clear_error(functions, run_module):
    code, result = run_module(lambda_alias, dict(AWS_ARGS, versions={"nope": "1"}), connection=False)
    assert code == 1 and "Reading alias live of nope failed: ResourceNotFoundException" in result["msg"]


def test_lambda_alias_previous_resolves_and_refuses_at_the_oldest(functions, run_module):
    code, result = run_module(lambda_alias, dict(AWS_ARGS, versions={"fn": "previous"}, _ansible_check_mode=True),
                              connection=False)
    assert code == 0 and result["aliases"] == {"fn": {"before": "3", "after": "2"}}
    functions.update_alias(FunctionName="fn", Name="live", FunctionVersion="1")
    code, result = run_module(lambda_alias, dict(AWS_ARGS, versions={"fn": "previous"}), connection=False)
    assert code == 1 and "no published version before 1 to go back to" in result["msg"]


def test_lambda_alias_check_mode_does_not_wait(functions, run_module):
    code, result = run_module(lambda_alias, dict(AWS_ARGS, versions={"fn": "2"}, _ansible_check_mode=True),
                              connection=False)
    assert code == 0 and "wait" not in result and "serving" not in result


@pytest.mark.parametrize(
    "serving, settled",
    [({"fn": {"version": "2", "state": "Active", "last_update": "Successful"}}, True),
     ({"fn": {"version": "2", "state": "Inactive", "last_update": "Successful"}}, True),
     ({"fn": {"version": "2", "state": "Pending", "last_update": "InProgress"}}, False),
     ({"fn": {"version": "2", "state": "Active", "last_update": "InProgress"}}, False),
     ({"fn": {"version": "3", "state": "Active", "last_update": "Successful"}}, False),
     ({"fn": {"version": "2", "state": "Failed", "last_update": "Failed"}}, True)],
    ids=["active", "inactive-serves-on-invoke", "pending", "updating", "other-version", "failed-ends-the-wait"],
)
def test_lambda_alias_settled(serving, settled):
    assert lambda_alias.LambdaAliasManager._settled({"fn": "2"}, serving) is settled


def _client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


@pytest.mark.parametrize(
    "raised, kind, status",
    [(_client_error("ThrottlingException", 400), AWSTransientError, 400),
     (_client_error("TooManyRequestsException", 429), AWSTransientError, 429),
     (_client_error("ServiceException", 500), AWSTransientError, 500),
     (_client_error("ResourceNotFoundException", 404), AWSError, 404),
     (EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), AWSTransientError, None)],
    ids=["throttled", "429", "5xx", "not-found", "no-answer"],
)
def test_aws_errors_a_poll_rides_out_are_transient(raised, kind, status):
    def method(**_kwargs):
        raise raised

    with pytest.raises(AWSError) as caught:
        call("Reading", method)
    assert isinstance(caught.value, AWSTransientError) is (kind is AWSTransientError)
    assert caught.value.status == status


LAMBDA_SNAPSHOT = {"lambda": {"alias": "live", "functions": {"fn": {"version": "3", "previous": "2"}}}}


@pytest.mark.parametrize(
    "args, before, after",
    [({"functions": ["fn"], "snapshot": LAMBDA_SNAPSHOT}, "3", "2"),
     # a re-run after the alias already moved: the snapshot keeps the aim (no walk to 1)
     ({"functions": ["fn"], "snapshot": LAMBDA_SNAPSHOT}, "2", "2"),
     ({"functions": ["fn"], "version": "recorded", "snapshot": LAMBDA_SNAPSHOT}, "2", "3"),
     ({"functions": ["fn"]}, "3", "2"),
     ({"functions": ["fn"], "version": "1"}, "3", "1")],
    ids=["previous-from-snapshot", "re-run", "recorded", "previous-without-snapshot", "explicit"],
)
def test_lambda_alias_resolves_versions_in_the_module(functions, run_module, args, before, after):
    functions.update_alias(FunctionName="fn", Name="live", FunctionVersion=before)
    code, result = run_module(lambda_alias, dict(AWS_ARGS, **args), connection=False)
    assert code == 0, result
    assert result["aliases"] == {"fn": {"before": before, "after": after}}
    assert functions.get_alias(FunctionName="fn", Name="live")["FunctionVersion"] == after


@pytest.mark.parametrize(
    "args, message",
    [({"functions": ["fn"], "snapshot": {"lambda": {"alias": "blue", "functions": {}}}},
      "recorded Lambda alias 'blue'"),
     ({"functions": ["fn"], "version": "recorded"}, "records no version of fn"),
     ({"functions": ["fn"], "snapshot": {"lambda": {"alias": "live", "functions": {"fn": {"version": "1",
                                                                                          "previous": None}}}}},
      "had no published version before 1"),
     ({"functions": []}, "No function named"),
     ({"functions": ["fn"], "versions": {"fn": "1"}}, "either versions or functions")],
    ids=["other-alias", "nothing-recorded", "oldest-when-recorded", "none", "both"],
)
def test_lambda_alias_refuses_before_any_write(functions, run_module, args, message):
    code, result = run_module(lambda_alias, dict(AWS_ARGS, **args), connection=False)
    assert code == 1 and message in result["msg"]
    assert functions.get_alias(FunctionName="fn", Name="live")["FunctionVersion"] == "3"
