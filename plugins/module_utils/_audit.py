# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The audit trail: append-only JSON Lines, each record chained to the one before by SHA-256.

Every record carries `seq` (1, 2, ...), `prev` (the previous record's `hash`; 64 zeros for the first) and `hash`
(SHA-256 of the record's canonical JSON without `hash`). Editing a record breaks its own hash; deleting or moving
one breaks the next record's `prev` and `seq`. Appends hold an exclusive lock on the file (flock) from reading the
last record to the fsync of the new one, so concurrent writers on one controller lose nothing and keep the chain.

In the shared store (a location s3://bucket/prefix/, module_utils/_records.py) each record is an object of its own,
named by its sequence number and written only if that name is free (If-None-Match: *): of two controllers that
read the same last record, one takes the next number and the other re-reads and appends after it, so the chain
never forks. A head object names the last record (a hint for the next writer, and the witness that finds a deleted
last record); an id object per record_id keeps a re-run from appending its record twice.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import random
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils import _records

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


def _chained(record: dict[str, Any], previous: dict[str, Any] | None, now: float | None) -> dict[str, Any]:
    """The record as stored after `previous` (seq, hash; None for the first): its time, place and hash."""
    stamp = datetime.datetime.fromtimestamp(
        now if now is not None else datetime.datetime.now(datetime.timezone.utc).timestamp(),
        datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    stored = {k: v for k, v in record.items() if k not in CHAIN_KEYS}
    stored.setdefault("at", stamp)
    stored["seq"] = (previous["seq"] + 1) if previous else 1
    stored["prev"] = previous["hash"] if previous else GENESIS
    stored["hash"] = digest(stored)
    return stored


def append(path: str, record: dict[str, Any], now: float | None = None,
           aws: dict[str, Any] | None = None) -> dict[str, Any]:
    """Chain and append one record; returns it as stored. `path` is a file or an s3:// chain (with `aws`, the
    connection options)."""
    if _records.in_s3(path):
        return S3Chain(path, aws or {}).append(record, now)
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
            stored = _chained(record, previous, now)
            handle.seek(0, os.SEEK_END)
            handle.write(canonical(stored) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    return stored


def verify(path: str, keep_last: int = 0, aws: dict[str, Any] | None = None) -> dict[str, Any]:
    """Walk the chain; the first record that breaks it, and why; and the last keep_last records that parse."""
    if _records.in_s3(path):
        return S3Chain(path, aws or {}).verify(keep_last)
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


def find(path: str, record_id: str, aws: dict[str, Any] | None = None, mend: bool = True) -> dict[str, Any] | None:
    """The record with this record_id, if the trail holds it. `mend`: write the store's index entry of a record found
    without one (False in check mode: a dry run writes nothing)."""
    if _records.in_s3(path):
        return S3Chain(path, aws or {}).find(record_id, mend)
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if f'"record_id":{json.dumps(record_id)}' in line:
                    return json.loads(line)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AuditError(f"Cannot read the audit trail {path}: {exc.strerror or exc}") from None
    return None


class S3Chain:
    """The chain of one environment in the shared store: PREFIX/records/<seq, 12 digits>.json (write-once),
    PREFIX/head.json (the last record's seq and hash) and PREFIX/ids/<sha256 of a record_id>.json."""

    # How many times a writer re-reads and tries the next number when other writers take it first: at 40 writers
    # at once on one chain, the last one waits for 39 others.
    ATTEMPTS = 60

    def __init__(self, location: str, aws: dict[str, Any]):
        self.location = location.rstrip("/") + "/"
        try:
            self.bucket, self.prefix = _records.store(self.location, aws)
        except _records.RecordsError as exc:
            raise AuditError(str(exc)) from None

    def _key(self, seq: int) -> str:
        return f"{self.prefix}records/{seq:012d}.json"

    def _where(self, key: str) -> str:
        return f"s3://{self.bucket.bucket}/{key}"

    def _get_json(self, key: str) -> tuple[Any, str] | None:
        found = self.bucket.get(key)
        if found is None:
            return None
        try:
            return json.loads(found[0]), found[1]
        except ValueError:
            return "not valid JSON", found[1]

    def _head(self) -> tuple[dict[str, Any] | None, str | None]:
        found = self._get_json(self.prefix + "head.json")
        if found is None or not isinstance(found[0], dict):
            return None, None
        return found[0], found[1]

    def _last(self) -> dict[str, Any] | None:
        """The last record (seq and hash): the head's, or a later one another writer stored after it."""
        head, _etag = self._head()
        after = self._key(head["seq"]) if head and isinstance(head.get("seq"), int) else ""
        later = [key for key in self.bucket.keys(self.prefix + "records/", start_after=after)
                 if _seq_of(key) is not None]
        if not later:
            return {"seq": head["seq"], "hash": head["hash"]} if head else None
        found = self._get_json(later[-1])
        record = found[0] if found else None
        if not isinstance(record, dict) or "hash" not in record or record.get("seq") != _seq_of(later[-1]):
            raise AuditError(f"The last record of the audit trail {self._where(later[-1])} is not a chained "
                             "record: verify the trail (playbooks/audit_verify.yml) before writing to it")
        return {"seq": record["seq"], "hash": record["hash"]}

    def _advance_head(self, stored: dict[str, Any]) -> None:
        """Move the head to this record unless another writer moved it further."""
        body = canonical({"seq": stored["seq"], "hash": stored["hash"]})
        for _attempt in range(10):
            head, etag = self._head()
            if head and isinstance(head.get("seq"), int) and head["seq"] >= stored["seq"]:
                return
            if self.bucket.put(self.prefix + "head.json", body, only_if=etag or "absent"):
                return

    def _id_key(self, record_id: str) -> str:
        return f"{self.prefix}ids/{hashlib.sha256(record_id.encode()).hexdigest()}.json"

    # How far back from the head a record whose index entry is missing is looked for (see find).
    TAIL = 3

    def find(self, record_id: str, mend: bool = True) -> dict[str, Any] | None:
        try:
            found = self._get_json(self._id_key(record_id))
            if found is None or not isinstance(found[0], dict):
                return self._find_in_tail(record_id, mend)
            record = self._get_json(self._key(int(found[0].get("seq", 0))))
        except _records.RecordsError as exc:
            raise AuditError(str(exc)) from None
        return record[0] if record and isinstance(record[0], dict) else None

    def _find_in_tail(self, record_id: str, mend: bool) -> dict[str, Any] | None:
        """A writer stops (killed, the store unreachable) after its record and before the record's index entry: the
        re-run of that run finds the record at the end of the chain, mends the index, and does not write it twice.
        Only the last few records: the window is one write long, and every new run pays for this look."""
        head, _etag = self._head()
        start = head["seq"] - self.TAIL if head and isinstance(head.get("seq"), int) else 0
        keys = [key for key in self.bucket.keys(self.prefix + "records/",
                                                start_after=self._key(start) if start > 0 else "")
                if _seq_of(key) is not None]
        # Without a head (a new chain, or its head lost) only the last few of the listing.
        for key in reversed(keys if start > 0 else keys[-self.TAIL:]):
            found = self._get_json(key)
            record = found[0] if found else None
            if isinstance(record, dict) and record.get("record_id") == record_id:
                if mend:
                    self.bucket.put(self._id_key(record_id), canonical({"seq": record.get("seq")}), only_if="absent")
                return record
        return None

    def append(self, record: dict[str, Any], now: float | None = None) -> dict[str, Any]:
        try:
            for attempt in range(self.ATTEMPTS):
                stored = _chained(record, self._last(), now)
                if self.bucket.put(self._key(stored["seq"]), canonical(stored) + b"\n", only_if="absent"):
                    self._advance_head(stored)
                    if stored.get("record_id"):
                        self.bucket.put(self._id_key(stored["record_id"]), canonical({"seq": stored["seq"]}),
                                        only_if="absent")
                    return stored
                # Another writer took this number: re-read the end of the chain and append after it. The
                # jitter spreads writers that lost together.
                time.sleep(random.uniform(0, min(0.5, 0.02 * (attempt + 1))))
        except _records.RecordsError as exc:
            raise AuditError(f"Cannot append to the audit trail {self.location}: {exc}") from None
        raise AuditError(f"Cannot append to the audit trail {self.location}: other writers took every sequence "
                         f"number {self.ATTEMPTS} times in a row; try again")

    def verify(self, keep_last: int = 0) -> dict[str, Any]:
        try:
            keys = [key for key in self.bucket.keys(self.prefix + "records/") if _seq_of(key) is not None]
            with ThreadPoolExecutor(max_workers=16) as pool:
                bodies = list(pool.map(self._get_json, keys))
            head, _etag = self._head()
        except _records.RecordsError as exc:
            raise AuditError(f"Cannot read the audit trail {self.location}: {exc}") from None
        records = [found[0] if found else None for found in bodies]
        parsed = [record for record in records if isinstance(record, dict)]
        last = parsed[-keep_last:] if keep_last else []
        expected_prev, expected_seq = GENESIS, 1

        def broken(key: str, seq: int | None, reason: str) -> dict[str, Any]:
            return {"valid": False, "records": len(keys),
                    "first_broken": {"line": None, "seq": seq, "key": self._where(key), "reason": reason},
                    "last_hash": expected_prev, "last_records": last}

        for key, record in zip(keys, records, strict=True):
            seq = _seq_of(key)
            if seq != expected_seq:
                return broken(self._key(expected_seq), expected_seq,
                              f"it is missing (deleted): the next record in the store is seq {seq}")
            if not isinstance(record, dict):
                return broken(key, seq, "not valid JSON" if record == "not valid JSON" else "not a JSON object")
            if record.get("hash") != digest(record):
                return broken(key, seq, "its content does not match its hash (edited)")
            if record.get("seq") != seq:
                return broken(key, seq, f"it holds record seq {record.get('seq')} (moved or reordered)")
            if record.get("prev") != expected_prev:
                return broken(key, seq, "it does not follow the record before it (a record was replaced, inserted "
                                        "or reordered)")
            expected_prev, expected_seq = record["hash"], expected_seq + 1
        if head and isinstance(head.get("seq"), int) and head["seq"] >= expected_seq:
            return broken(self._key(expected_seq), expected_seq,
                          f"it is missing (deleted): the head names seq {head['seq']} as the last record")
        return {"valid": True, "records": len(keys), "first_broken": None, "last_hash": expected_prev,
                "last_records": last}


def _seq_of(key: str) -> int | None:
    name = key.rsplit("/", 1)[-1]
    stem, dot, ext = name.partition(".")
    return int(stem) if dot and ext == "json" and len(stem) == 12 and stem.isdigit() else None
