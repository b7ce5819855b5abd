# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""boto3 access for the Lambda release strategy: one client factory with botocore's own retry configuration."""

from __future__ import annotations

import traceback
from typing import Any

from ansible.module_utils.basic import env_fallback

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:
    HAS_BOTO3 = False
    BOTO3_IMPORT_ERROR: str | None = traceback.format_exc()

    class BotoCoreError(Exception):  # type: ignore[no-redef]
        """Stand-in so the except clauses below stay valid without botocore."""

    class ClientError(Exception):  # type: ignore[no-redef]
        """Stand-in so the except clauses below stay valid without botocore."""
else:
    HAS_BOTO3 = True
    BOTO3_IMPORT_ERROR = None

# Mirrors the doc fragment matbakh.hybrid_routing.aws: keep both in step.
AWS_ARGSPEC: dict[str, dict[str, Any]] = dict(
    aws_endpoint_url=dict(type="str", fallback=(env_fallback, ["AWS_ENDPOINT_URL"])),
    aws_region=dict(type="str", fallback=(env_fallback, ["AWS_REGION", "AWS_DEFAULT_REGION"])),
    aws_access_key=dict(type="str", no_log=False, fallback=(env_fallback, ["AWS_ACCESS_KEY_ID"])),
    aws_secret_key=dict(type="str", no_log=True, fallback=(env_fallback, ["AWS_SECRET_ACCESS_KEY"])),
    aws_session_token=dict(type="str", no_log=True, fallback=(env_fallback, ["AWS_SESSION_TOKEN"])),
    aws_profile=dict(type="str", fallback=(env_fallback, ["AWS_PROFILE"])),
    aws_max_attempts=dict(type="int", default=5),
)


class AWSError(Exception):
    """A boto3 call failed; the message names the call and the AWS error code, never credentials."""


def lambda_client(params: dict[str, Any]) -> Any:
    """A Lambda client; retries (standard mode, jittered backoff on throttling and 5xx) are botocore's."""
    if not params.get("aws_region"):
        raise AWSError("aws_region is not set: set hybrid_routing_aws_region or export AWS_REGION")
    session = boto3.session.Session(
        aws_access_key_id=params.get("aws_access_key") or None,
        aws_secret_access_key=params.get("aws_secret_key") or None,
        aws_session_token=params.get("aws_session_token") or None,
        profile_name=params.get("aws_profile") or None,
        region_name=params["aws_region"],
    )
    config = Config(
        retries={"mode": "standard", "max_attempts": max(1, params.get("aws_max_attempts") or 5)},
        connect_timeout=5,
        read_timeout=20,
    )
    return session.client("lambda", endpoint_url=params.get("aws_endpoint_url") or None, config=config)


def call(description: str, method: Any, **kwargs: Any) -> Any:
    """Run one boto3 call, turning its exceptions into AWSError with a readable message."""
    try:
        return method(**kwargs)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise AWSError(f"{description} failed: {error.get('Code', 'error')}: {error.get('Message', '')}") from None
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
