# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Where a run's records live: a local path, or an object in the shared store (S3), named s3://bucket/key.

Everything a run leaves behind (the audit chain, the incident report, the run log, the notification state) is
named by one location string, so that the frame states the store once (hybrid_routing_records_bucket) and each
module reads and writes through the same three calls. S3 is the store every controller reaches: an AWX job
container, EDA and a laptop write to one bucket, and its conditional writes (If-None-Match, If-Match) keep two
writers from overwriting each other. boto3 is imported only when a location is in S3.
"""

from __future__ import annotations

import os
from typing import Any

# _aws imports boto3 only when a client is made.
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._aws import (
    AWS_ARGSPEC,
    HAS_BOTO3,
    AWSAccess,
    AWSError,
    call,
)
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._frame import Frame, ModuleFailed

S3_SCHEME = "s3://"


class RecordsError(Exception):
    """A record cannot be read or written; the message names the location and why, never credentials."""


def in_s3(location: str) -> bool:
    return location.startswith(S3_SCHEME)


def split(location: str) -> tuple[str, str]:
    """(bucket, key) of s3://bucket/key."""
    bucket, _slash, key = location[len(S3_SCHEME):].partition("/")
    if not bucket:
        raise RecordsError(f"{location} names no bucket: write s3://BUCKET/KEY")
    return bucket, key


_CLIENTS: dict[tuple[Any, ...], Any] = {}


class S3:
    """One bucket of the shared store, through the collection's boto3 session (module_utils/_aws.py).

    The store is bounded like a receiver: a store that hangs costs a run at most about 20 s per call (3 attempts,
    2 s to connect, 5 s to answer), and `quick` (the notification state, read between the level's actions) one
    attempt of 2 s; botocore's standard retries (jittered) are the only ones."""

    def __init__(self, params: dict[str, Any], bucket: str, quick: bool = False):
        if not HAS_BOTO3:
            raise RecordsError(f"The records are in S3 (bucket {bucket}), which needs the Python library boto3: "
                               "install it (pip install boto3) or keep the records local")
        # One client per connection and process: a report, its log and the chain's calls share it (a boto3 session
        # costs about 0.1 s of CPU to make).
        connection = (quick, *(params.get(name) for name in AWS_ARGSPEC))
        if connection not in _CLIENTS:
            try:
                _CLIENTS[connection] = AWSAccess(
                    params, "s3", connect_timeout=2, read_timeout=2 if quick else 5,
                    max_attempts=1 if quick else min(3, params.get("aws_max_attempts") or 3)).client
            except AWSError as exc:
                raise RecordsError(f"The records store s3://{bucket}: {exc}") from None
        self.client = _CLIENTS[connection]
        self.bucket = bucket

    def _call(self, what: str, method: Any, absent: tuple[int, ...] = (), **kwargs: Any) -> Any:
        """One call; None where its HTTP status is in `absent` (not found, or a condition that failed)."""
        where = kwargs.get("Key", kwargs.get("Prefix", ""))
        try:
            return call(f"{what} s3://{self.bucket}/{where}", method, Bucket=self.bucket, **kwargs)
        except AWSError as exc:
            if exc.status in absent:
                return None
            raise RecordsError(str(exc)) from None

    def get(self, key: str) -> tuple[bytes, str] | None:
        """The object's content and ETag, or None when there is none."""
        answer = self._call("Reading", self.client.get_object, absent=(404,), Key=key)
        return None if answer is None else (answer["Body"].read(), answer.get("ETag", ""))

    def put(self, key: str, body: bytes, only_if: str | None = None, content_type: str = "application/json"
            ) -> bool:
        """Write the object. only_if="absent" writes only a new object (If-None-Match: *), an ETag only over
        that version (If-Match); False when the condition failed: another writer was first."""
        kwargs: dict[str, Any] = {"Key": key, "Body": body, "ContentType": content_type}
        if only_if == "absent":
            kwargs["IfNoneMatch"] = "*"
        elif only_if:
            kwargs["IfMatch"] = only_if
        # 412: the condition failed; 409 (ConditionalRequestConflict): a conditional write of the key is under way.
        return self._call("Writing", self.client.put_object, absent=(412, 409) if only_if else (), **kwargs) is not None

    def keys(self, prefix: str, start_after: str = "") -> list[str]:
        """Every key under prefix after start_after, in S3's (lexical) order."""
        keys: list[str] = []
        kwargs: dict[str, Any] = {"Prefix": prefix}
        if start_after:
            kwargs["StartAfter"] = start_after
        while True:
            page = self._call("Listing", self.client.list_objects_v2, **kwargs)
            keys.extend(item["Key"] for item in page.get("Contents", []))
            if not page.get("IsTruncated"):
                return keys
            kwargs = {"Prefix": prefix, "ContinuationToken": page["NextContinuationToken"]}

    def retention(self) -> dict[str, Any]:
        """The bucket's Object Lock: enabled or not, and its default retention (mode and period)."""
        answer = self._call("Reading the Object Lock configuration of", self.client.get_object_lock_configuration,
                            absent=(404,))
        config = (answer or {}).get("ObjectLockConfiguration", {})
        default = config.get("Rule", {}).get("DefaultRetention", {})
        return {"enabled": config.get("ObjectLockEnabled") == "Enabled", "mode": default.get("Mode"),
                "days": default.get("Days") or None, "years": default.get("Years") or None}


def store(location: str, params: dict[str, Any], quick: bool = False) -> tuple[S3, str]:
    """The bucket and key of an s3:// location."""
    bucket, key = split(location)
    return S3(params, bucket, quick), key


def read(location: str, params: dict[str, Any]) -> bytes | None:
    """A record's content, or None when it does not exist."""
    if in_s3(location):
        bucket, key = store(location, params)
        found = bucket.get(key)
        return found[0] if found else None
    try:
        with open(location, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RecordsError(f"Cannot read {location}: {exc.strerror or exc}") from None


def write(location: str, params: dict[str, Any], content: bytes, content_type: str = "text/plain") -> None:
    """Write a record whole: atomically on disk (mode 0600), as one object in S3."""
    if in_s3(location):
        bucket, key = store(location, params)
        bucket.put(key, content, content_type=content_type)
        return
    try:
        os.makedirs(os.path.dirname(location) or ".", mode=0o700, exist_ok=True)
        temporary = f"{location}.{os.getpid()}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(temporary, location)
    except OSError as exc:
        raise RecordsError(f"Cannot write {location}: {exc.strerror or exc}") from None


class RecordsFrame(Frame):
    """The frame of a module whose records may be local or in S3: the AWS options (used only for s3://), and a
    store that cannot be reached as the module's failure. Unlike AWSFrame, a local trail needs no boto3."""

    @classmethod
    def argument_spec(cls, module_spec: dict[str, Any]) -> dict[str, Any]:
        return dict(AWS_ARGSPEC, **module_spec)

    def failure(self, exc: Exception) -> ModuleFailed | None:
        return ModuleFailed(str(exc)) if isinstance(exc, RecordsError) else None
