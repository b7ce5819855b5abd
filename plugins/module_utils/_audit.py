# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The audit trail: append-only JSON Lines, each record chained to the one before by SHA-256.

Every record carries `seq` (1, 2, ...), `prev` (the previous record's `hash`; 64 zeros for the first) and `hash`
(SHA-256 of the record's canonical JSON without `hash`). Editing a record breaks its own hash; deleting or moving
one breaks the next record's `prev` and `seq`. Appends hold an exclusive lock on the file (flock) from reading the
last record to the fsync of the new one, so concurrent writers on one controller lose nothing and keep the chain.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
from typing import Any

GENESIS = "0" * 64
CHAIN_KEYS = ("seq", "prev", "hash")

# Personal data that must not reach the trail; people are referred to by their configured ids only.
# The most specific first: redaction applies them in this order.
PII_PATTERNS: dict[str, str] = {
    "an email address": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
    "an IBAN": r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b",
    "a card number": r"\b(?:\d{4}[ -]){3}\d{4}\b",
    "a phone number": r"(?<![\w.])\+?\d[\d ()/-]{8,}\d(?![\w.])",
}


class AuditError(Exception):
    """The trail cannot be written or read; the message says which file and why."""


def canonical(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(record: dict[str, Any]) -> str:
    return hashlib.sha256(canonical({k: v for k, v in record.items() if k != "hash"})).hexdigest()


def pii_findings(record: dict[str, Any], fields: list[str],
                 patterns: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """(field, what) for each free-text field that looks like it holds personal data. The value is never
    returned: it is the thing that must not be shown."""
    found = []
    for field in fields:
        text = json.dumps(record.get(field), ensure_ascii=False) if field in record else ""
        for what, pattern in (patterns or PII_PATTERNS).items():
            if re.search(pattern, text):
                found.append((field, what))
    return found


def redact(record: dict[str, Any], fields: list[str], patterns: dict[str, str] | None = None) -> dict[str, Any]:
    """The record with personal data in its free-text fields replaced by [redacted: what]."""
    cleaned = dict(record)
    for field in fields:
        if isinstance(cleaned.get(field), str):
            for what, pattern in (patterns or PII_PATTERNS).items():
                cleaned[field] = re.sub(pattern, f"[redacted: {what}]", cleaned[field])
    return cleaned


def _last_line(handle: Any) -> bytes | None:
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    if size == 0:
        return None
    block = min(size, 65536)
    while True:
        handle.seek(size - block)
        chunk = handle.read(block)
        lines = chunk.rstrip(b"\n").split(b"\n")
        if len(lines) > 1 or block == size:
            return lines[-1]
        block = min(size, block * 4)


def append(path: str, record: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """Chain and append one record; returns it as stored."""
    import fcntl

    directory = os.path.dirname(path) or "."
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError as exc:
        raise AuditError(f"Cannot open the audit trail {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "r+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            last = _last_line(handle)
            previous = json.loads(last) if last else None
            if previous is not None and (not isinstance(previous, dict) or "hash" not in previous):
                raise AuditError(f"The last line of the audit trail {path} is not a chained record: verify the "
                                 "trail (audit_trail_info) before writing to it")
            stamp = datetime.datetime.fromtimestamp(
                now if now is not None else datetime.datetime.now(datetime.timezone.utc).timestamp(),
                datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            stored = {k: v for k, v in record.items() if k not in CHAIN_KEYS}
            stored.setdefault("at", stamp)
            stored["seq"] = (previous["seq"] + 1) if previous else 1
            stored["prev"] = previous["hash"] if previous else GENESIS
            stored["hash"] = digest(stored)
            handle.seek(0, os.SEEK_END)
            handle.write(canonical(stored) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    return stored


def verify(path: str, keep_last: int = 0) -> dict[str, Any]:
    """Walk the chain; the first record that breaks it, and why; and the last keep_last records that parse."""
    try:
        with open(path, "rb") as handle:
            lines = handle.read().split(b"\n")
    except FileNotFoundError:
        return {"valid": True, "records": 0, "first_broken": None, "last_hash": GENESIS, "last_records": []}
    except OSError as exc:
        raise AuditError(f"Cannot read the audit trail {path}: {exc.strerror or exc}") from None
    if lines and lines[-1] == b"":
        lines.pop()
    expected_prev, expected_seq = GENESIS, 1
    for number, line in enumerate(lines, start=1):
        problem = None
        try:
            record = json.loads(line)
        except ValueError:
            record, problem = None, "not valid JSON"
        if problem is None and not isinstance(record, dict):
            problem = "not a JSON object"
        elif problem is None and record.get("hash") != digest(record):
            problem = "its content does not match its hash (edited)"
        elif problem is None and record.get("prev") != expected_prev:
            problem = "it does not follow the record before it (a record was deleted, inserted or moved)"
        elif problem is None and record.get("seq") != expected_seq:
            problem = f"its sequence number is {record.get('seq')}, expected {expected_seq}"
        if problem is not None:
            return {"valid": False, "records": len(lines),
                    "first_broken": {"line": number, "seq": record.get("seq") if isinstance(record, dict) else None,
                                     "reason": problem},
                    "last_hash": expected_prev, "last_records": _last(lines, keep_last)}
        expected_prev, expected_seq = record["hash"], expected_seq + 1
    return {"valid": True, "records": len(lines), "first_broken": None, "last_hash": expected_prev,
            "last_records": _last(lines, keep_last)}


def _last(lines: list[bytes], count: int) -> list[dict[str, Any]]:
    """The last `count` lines that are JSON objects, oldest first."""
    found: list[dict[str, Any]] = []
    for line in reversed(lines):
        if len(found) >= count:
            break
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            found.append(record)
    return found[::-1]
