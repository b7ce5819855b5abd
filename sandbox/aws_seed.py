"""Seed moto with the Lambda functions the rollback playbooks act on, and the records bucket of inventories/staging
and inventories/prod (S3 with Object Lock). Idempotent."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

ROLE_NAME = "hybrid-routing-sandbox-lambda"
FUNCTIONS = ("hybrid-router", "mcp-gateway")
VERSIONS = 3
ALIAS = "live"
RUNTIME = "python3.11"
# The shared records store the staging and production inventories name (hybrid_routing_records_bucket): versioned,
# with Object Lock and a default retention, as docs/audit.md asks of the real one (which keeps COMPLIANCE, 400 days).
RECORDS_BUCKET = "matbakh-rollback-records"
RECORDS_RETENTION = {"Mode": "GOVERNANCE", "Days": 1}
# Dummy credentials for moto only; passed to the boto3 session, never to the environment.
DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "aws_session_token": "testing"}

ASSUME_ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def _zip(function: str, version: int) -> bytes:
    """A tiny deployment package; its content differs per version so that publishing creates a new version."""
    source = f"def handler(event, context):\n    return {{'function': {function!r}, 'version': {version}}}\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.py", source)
    return buffer.getvalue()


def _clients(endpoint_url: str, region: str) -> tuple[Any, Any]:
    import boto3  # imported lazily: `python -m sandbox api` should not pay for it

    session = boto3.session.Session(region_name=region, **DUMMY_CREDENTIALS)
    return (session.client("iam", endpoint_url=endpoint_url), session.client("lambda", endpoint_url=endpoint_url))


def _ensure_role(iam: Any) -> str:
    try:
        return iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(
            RoleName=ROLE_NAME,
            AssumeRolePolicyDocument=json.dumps(ASSUME_ROLE_POLICY),
            Description="Execution role of the sandbox Lambda functions",
        )
        return role["Role"]["Arn"]


def _published_versions(lam: Any, function: str) -> list[int]:
    versions: list[int] = []
    for page in lam.get_paginator("list_versions_by_function").paginate(FunctionName=function):
        versions += [int(v["Version"]) for v in page["Versions"] if v["Version"] != "$LATEST"]
    return sorted(versions)


def _ensure_function(lam: Any, function: str, role_arn: str, log: Callable[[str], None]) -> None:
    try:
        lam.get_function(FunctionName=function)
    except lam.exceptions.ResourceNotFoundException:
        lam.create_function(
            FunctionName=function,
            Runtime=RUNTIME,
            Role=role_arn,
            Handler="index.handler",
            Code={"ZipFile": _zip(function, 1)},
            Description=f"sandbox {function}",
            Timeout=30,
            MemorySize=128,
            Publish=False,
        )
    versions = _published_versions(lam, function)
    while len(versions) < VERSIONS:
        number = len(versions) + 1
        if versions:
            lam.update_function_code(FunctionName=function, ZipFile=_zip(function, number))
        lam.publish_version(FunctionName=function, Description=f"sandbox version {number}")
        versions = _published_versions(lam, function)

    target = str(VERSIONS)
    try:
        alias = lam.get_alias(FunctionName=function, Name=ALIAS)
    except lam.exceptions.ResourceNotFoundException:
        lam.create_alias(FunctionName=function, Name=ALIAS, FunctionVersion=target)
        action = "created"
    else:
        if alias["FunctionVersion"] != target:
            lam.update_alias(FunctionName=function, Name=ALIAS, FunctionVersion=target)
            action = f"moved from {alias['FunctionVersion']}"
        else:
            action = "unchanged"
    log(f"lambda {function}: versions {', '.join(map(str, versions))}; alias {ALIAS} -> {target} ({action})")


def ensure_records_bucket(endpoint_url: str, region: str, bucket: str = RECORDS_BUCKET,
                          log: Callable[[str], None] = print) -> None:
    import boto3

    s3 = boto3.session.Session(region_name=region, **DUMMY_CREDENTIALS).client("s3", endpoint_url=endpoint_url)
    try:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region},
                         ObjectLockEnabledForBucket=True)
        action = "created"
    except (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
        # Create first and take "already yours" as success: a HEAD that fails for any other reason (a slow moto)
        # must not lead to a create that then fails.
        action = "exists"
    wanted = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": RECORDS_RETENTION}}
    # Set only when it differs: moto refuses to set it again once the bucket holds records ("Bucket needs to be
    # empty"), and an unchanged setting is nothing to do.
    found = s3.get_object_lock_configuration(Bucket=bucket).get("ObjectLockConfiguration") or {}
    retention = {key: value for key, value in ((found.get("Rule") or {}).get("DefaultRetention") or {}).items()
                 if value}  # moto answers Years: 0 beside Days
    if (found.get("ObjectLockEnabled"), retention) != ("Enabled", RECORDS_RETENTION):
        s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=wanted)
    log(f"s3 bucket {bucket}: Object Lock {RECORDS_RETENTION['Mode']}, {RECORDS_RETENTION['Days']} day ({action})")


def seed_aws(endpoint_url: str, region: str, log: Callable[[str], None] = print) -> None:
    ensure_records_bucket(endpoint_url, region, log=log)
    iam, lam = _clients(endpoint_url, region)
    role_arn = _ensure_role(iam)
    log(f"iam role {ROLE_NAME}: ready")
    for function in FUNCTIONS:
        _ensure_function(lam, function, role_arn, log)
