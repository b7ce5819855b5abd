"""The audit trail (module_utils/_audit.py): the chain, tamper detection, concurrency, personal data."""

from __future__ import annotations

import itertools
import json
import multiprocessing
from pathlib import Path

import pytest

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils import _audit as a


def trail(tmp_path: Path, count: int = 4) -> Path:
    path = tmp_path / "audit" / "trail.jsonl"
    for index in range(count):
        a.append(str(path), {"event": "rollback", "level": 1 + index % 3, "operator": "alice"}, now=1.8e9 + index)
    return path


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_records_are_chained_and_the_trail_verifies(tmp_path: Path) -> None:
    path = trail(tmp_path)
    records = lines(path)
    assert [r["seq"] for r in records] == [1, 2, 3, 4]
    assert records[0]["prev"] == a.GENESIS
    assert all(r["prev"] == p["hash"] for p, r in itertools.pairwise(records))
    assert records[0]["at"] == "2027-01-15T08:00:00.000000Z"
    expected = {"valid": True, "records": 4, "first_broken": None, "last_hash": records[-1]["hash"],
                "last_records": []}
    assert a.verify(str(path)) == expected
    assert a.verify(str(path), keep_last=2)["last_records"] == records[2:]
    assert a.verify(str(path), keep_last=9)["last_records"] == records
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_a_missing_trail_is_empty_and_valid(tmp_path: Path) -> None:
    assert a.verify(str(tmp_path / "none.jsonl"))["records"] == 0


def rewrite(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


@pytest.mark.parametrize(("tamper", "line", "reason"), [
    (lambda rs: rs[2].update(level=9) or rs, 3, "edited"),
    (lambda rs: rs[:1] + rs[2:], 2, "deleted, inserted or moved"),
    (lambda rs: [rs[0], rs[2], rs[1], rs[3]], 2, "deleted, inserted or moved"),
    (lambda rs: rs[1:], 1, "deleted, inserted or moved"),
])
def test_tampering_is_found_at_the_right_record(tmp_path: Path, tamper, line: int, reason: str) -> None:
    path = trail(tmp_path)
    rewrite(path, tamper(lines(path)))
    found = a.verify(str(path))
    assert found["valid"] is False
    assert found["first_broken"]["line"] == line and reason in found["first_broken"]["reason"]


def test_a_recomputed_hash_does_not_hide_an_edit(tmp_path: Path) -> None:
    path = trail(tmp_path)
    records = lines(path)
    records[1]["operator"] = "mallory"
    records[1]["hash"] = a.digest(records[1])
    rewrite(path, records)
    assert a.verify(str(path))["first_broken"]["line"] == 3  # the next record no longer follows it


def test_a_broken_line_is_reported(tmp_path: Path) -> None:
    path = trail(tmp_path, 2)
    path.write_text(path.read_text() + "{not json\n")
    assert a.verify(str(path))["first_broken"] == {"line": 3, "seq": None, "reason": "not valid JSON"}


def _writer(path: str, name: str, count: int) -> None:
    for index in range(count):
        a.append(path, {"event": "test", "writer": name, "index": index})


def test_concurrent_writers_lose_nothing_and_keep_the_chain(tmp_path: Path) -> None:
    path = str(tmp_path / "trail.jsonl")
    writers = [multiprocessing.Process(target=_writer, args=(path, name, 50)) for name in ("a", "b", "c")]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(30)
    found = a.verify(path)
    assert found["valid"] is True and found["records"] == 150
    assert sorted((r["writer"], r["index"]) for r in lines(Path(path))) == sorted(
        (name, index) for name in "abc" for index in range(50))


@pytest.mark.parametrize(("text", "what"), [
    ("paged alice@example.com about it", "an email address"),
    ("call +49 170 1234567 now", "a phone number"),
    ("refund to DE89 3704 0044 0532 0130 00", "an IBAN"),
    ("card 4111 1111 1111 1111", "a card number"),
])
def test_personal_data_in_free_text_is_found_and_never_echoed(text: str, what: str) -> None:
    found = a.pii_findings({"reason": text, "level": 2}, ["reason"])
    assert ("reason", what) in found
    assert what in a.redact({"reason": text}, ["reason"])["reason"]
    assert text not in a.redact({"reason": text}, ["reason"])["reason"]


@pytest.mark.parametrize("text", [
    "Level 2 rollback of prod-eu: done in 41.3s (target 300s). rollback id rb-20261129T043723Z-e399",
    "The service at http://127.0.0.1:18787 did not answer within 2s",
    "flags hybrid_routing=False; release 2025.01.10-1",
])
def test_rollback_text_is_not_mistaken_for_personal_data(text: str) -> None:
    assert a.pii_findings({"summary": text}, ["summary"]) == []
