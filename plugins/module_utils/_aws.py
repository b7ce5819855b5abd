# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""boto3 access (Lambda for the release strategy, CloudWatch for triggers and rollback metrics): one session per
module run, clients with botocore's own retry configuration."""

from __future__ import annotations

import importlib.util
from typing import Any

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._frame import Frame, ModuleFailed

# boto3 is imported when a Lambda client is made, not with this file: most rollbacks never touch AWS, and importing
# boto3 costs every task of them (the modules run in Ansible's workers, which fork from the playbook process).
HAS_BOTO3 = importlib.util.find_spec("boto3") is not None
BOTO3_IMPORT_ERROR: str | None = None if HAS_BOTO3 else "No module named 'boto3'"

# amazon.aws's option names, aliases and environment fallbacks (module_utils/modules.py, aws_argument_spec), so that
# one set of AWS variables serves these modules and amazon.aws's (playbooks/alarms.yml). Stated here rather than
# imported: these modules run their work in the Ansible worker without an AnsibleModule (plugin_utils/_inprocess.py),
# and make their clients from the session the playbook process warmed, where amazon.aws's connection helpers take an
# AnsibleAWSModule; and validate_certs, which amazon.aws adds, is the admin API's option here. Mirrors the doc
# fragment matbakh.hybrid_routing.aws: keep both in step (tests/unit/plugins/modules/test_docs.py).
AWS_ARGSPEC: dict[str, dict[str, Any]] = dict(
    # AWS_ENDPOINT_URL too: boto3's own variable, which the sandbox and the EDA source use.
    endpoint_url=dict(type="str", aliases=["aws_endpoint_url"],
                      fallback=(env_fallback, ["AWS_ENDPOINT_URL", "AWS_URL"])),
    region=dict(type="str", aliases=["aws_region"], fallback=(env_fallback, ["AWS_REGION", "AWS_DEFAULT_REGION"])),
    # The key id is no secret to AWS (amazon.aws logs it), but with the secret key it names the account's
    # credential: never logged here.
    access_key=dict(type="str", aliases=["aws_access_key_id", "aws_access_key"], no_log=True,
                    fallback=(env_fallback, ["AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY"])),
    secret_key=dict(type="str", aliases=["aws_secret_access_key", "aws_secret_key"], no_log=True,
                    fallback=(env_fallback, ["AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY"])),
    session_token=dict(type="str", aliases=["aws_session_token"], no_log=True,
                       fallback=(env_fallback, ["AWS_SESSION_TOKEN"])),
    profile=dict(type="str", aliases=["aws_profile"], fallback=(env_fallback, ["AWS_PROFILE", "AWS_DEFAULT_PROFILE"])),
    aws_max_attempts=dict(type="int", default=5),
)


# Error codes that mean "try again later", whatever the HTTP status says.
THROTTLING_CODES = frozenset((
    "Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded", "ServiceUnavailable",
    "ServiceException", "EC2ThrottledException",
))


def preload(*services: str) -> None:
    """Import boto3 and warm a session for these services now. The preload callback (plugins/callback/preload.py)
    calls this in the playbook process before the workers of an AWS task fork, so that every worker inherits them
    instead of loading them again (the import and the models cost about 0.25 s of CPU each: 50 environments on 2
    cores would spend 6 s on it)."""
    if not HAS_BOTO3:
        return
    import botocore.session

    importlib.import_module("boto3.session")  # boto3 itself too, for the workers' boto3.session.Session
    # A whole botocore session, warmed by making one client per service: a worker's client from it costs about
    # 0.015 s of CPU instead of 0.1 s (endpoint resolver, event handlers, models are per session). The warm-up
    # client gets explicit dummy keys, which botocore keeps in that client: the session itself holds no credentials,
    # so a worker's credential chain (keys, profile, environment) resolves as in a fresh session.
    if "core" not in _SHARED:  # one session, whichever action plugins load
        _SHARED["core"] = botocore.session.get_session()
    core = _SHARED["core"]
    warmed: set[str] = _SHARED.setdefault("services", set())
    for service in set(services) - warmed:
        core.create_client(service, region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
                           aws_access_key_id="preload", aws_secret_access_key="preload")
        warmed.add(service)


_SHARED: dict[str, Any] = {}


class AWSError(Exception):
    """A boto3 call failed; the message names the call and the AWS error code, never credentials."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class AWSTransientError(AWSError):
    """No answer (connection refused, timeout) or a throttling/5xx answer: a poll records it and goes on."""


class AWSAccess:
    """One boto3 session for a module run and the clients made from it."""

    def __init__(self, params: dict[str, Any], service: str = "lambda", connect_timeout: float = 5,
                 read_timeout: float = 20, max_attempts: int | None = None):
        if not params.get("region"):
            raise AWSError("region is not set: pass the option region (alias aws_region) or export AWS_REGION")
        self.params = params
        self.service = service
        import boto3
        import botocore.session

        # The session the playbook process warmed before forking (preload), once per process: boto3 sets this
        # run's credentials, profile and region on it, which must not carry over to a later run in the same process.
        core = _SHARED.pop("core", None) or botocore.session.get_session()
        _SHARED.pop("services", None)
        self.session = boto3.session.Session(
            botocore_session=core,
            aws_access_key_id=params.get("access_key") or None,
            aws_secret_access_key=params.get("secret_key") or None,
            aws_session_token=params.get("session_token") or None,
            profile_name=params.get("profile") or None,
            region_name=params["region"],
        )
        # Retries (standard mode, jittered backoff on throttling and 5xx) are botocore's.
        self.client = self._client(max(1, max_attempts or params.get("aws_max_attempts") or 5),
                                   connect_timeout=connect_timeout, read_timeout=read_timeout)

    def _client(self, max_attempts: int, connect_timeout: float, read_timeout: float) -> Any:
        from botocore.config import Config

        config = Config(retries={"mode": "standard", "max_attempts": max_attempts},
                        connect_timeout=connect_timeout, read_timeout=read_timeout)
        return self.session.client(self.service, endpoint_url=self.params.get("endpoint_url") or None,
                                   config=config)

    def polling_client(self, wait: float) -> Any:
        """A client for one poll: a single attempt that waits up to `wait` seconds (the poll loop is the retry)."""
        return self._client(1, connect_timeout=min(5.0, wait), read_timeout=wait)


class AWSFrame(Frame):
    """A frame for modules that only talk to AWS: the AWS options, boto3 present, AWS errors as failures."""

    @classmethod
    def argument_spec(cls, module_spec: dict[str, Any]) -> dict[str, Any]:
        return dict(AWS_ARGSPEC, **module_spec)

    def __init__(self, params: dict[str, Any], check_mode: bool = False, diff_mode: bool = False):
        super().__init__(params, check_mode, diff_mode)
        if not HAS_BOTO3:
            self.fail(missing_required_lib("boto3"), exception=BOTO3_IMPORT_ERROR)

    def failure(self, exc: Exception) -> ModuleFailed | None:
        return ModuleFailed(str(exc)) if isinstance(exc, AWSError) else None


def lambda_client(params: dict[str, Any]) -> Any:
    """A Lambda client with botocore's standard retries."""
    return AWSAccess(params, "lambda").client


def call(description: str, method: Any, **kwargs: Any) -> Any:
    """Run one boto3 call, turning its exceptions into AWSError with a readable message."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    try:
        return method(**kwargs)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = error.get("Code", "error")
        transient = code in THROTTLING_CODES or status == 429 or (status or 0) >= 500
        kind = AWSTransientError if transient else AWSError
        raise kind(f"{description} failed: {code}: {error.get('Message', '')}", status=status) from None
    except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError) as exc:
        raise AWSTransientError(f"{description} got no answer: {exc}") from None
    except BotoCoreError as exc:
        raise AWSError(f"{description} failed: {exc}") from None


def published_versions(client: Any, function_name: str) -> list[str]:
    """Published versions of a function, oldest first ($LATEST excluded)."""
    versions: list[str] = []
    marker = None
    while True:
        kwargs: dict[str, Any] = {"FunctionName": function_name}
        if marker:
            kwargs["Marker"] = marker
        page = call(f"Listing the versions of {function_name}", client.list_versions_by_function, **kwargs)
        versions.extend(v["Version"] for v in page.get("Versions", []) if v["Version"] != "$LATEST")
        marker = page.get("NextMarker")
        if not marker:
            return sorted(versions, key=int)


def serving_version(client: Any, function_name: str, alias: str) -> dict[str, Any]:
    """The version an alias resolves to and whether it can serve (State and LastUpdateStatus)."""
    config = call(f"Reading what alias {alias} of {function_name} serves", client.get_function_configuration,
                  FunctionName=function_name, Qualifier=alias)
    return {"version": str(config["Version"]), "state": config.get("State"),
            "last_update": config.get("LastUpdateStatus")}


def alias_version(client: Any, function_name: str, alias: str) -> str:
    doc = call(f"Reading alias {alias} of {function_name}", client.get_alias, FunctionName=function_name, Name=alias)
    return str(doc["FunctionVersion"])


def version_before(current: str, published: list[str]) -> str | None:
    """The published version just before current (None when current is the oldest or not numbered)."""
    older = [v for v in published if current.isdigit() and int(v) < int(current)]
    return older[-1] if older else None


def alias_state(client: Any, function_name: str, alias: str) -> dict[str, Any]:
    """The alias's version and the published version before it (None when it already points at the oldest)."""
    current = alias_version(client, function_name, alias)
    return {"version": current, "previous": version_before(current, published_versions(client, function_name))}
