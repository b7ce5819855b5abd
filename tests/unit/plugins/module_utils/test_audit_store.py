"""The audit chain in the shared store (S3 through moto's server): writers that race for a sequence number never
fork the chain, and a record deleted, edited or reordered in the store is named."""

from __future__ import annotations

import json
import secrets
import threading

import boto3
import pytest
from moto.server import ThreadedMotoServer

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils import _audit, _notify

REGION = "eu-central-1"


@pytest.fixture(scope="module")
def s3_url():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def store(s3_url):
    """A fresh Object Lock bucket; (client, aws options, chain location)."""
    bucket = f"records-{secrets.token_hex(6)}"
    client = boto3.client("s3", endpoint_url=s3_url, region_name=REGION, aws_access_key_id="a",
                          aws_secret_access_key="b")
    client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION},
                         ObjectLockEnabledForBucket=True)
    aws = {"endpoint_url": s3_url, "region": REGION, "access_key": "a", "secret_key": "b", "aws_max_attempts": 2}
    return client, aws, f"s3://{bucket}/hybrid-routing/prod-eu/audit/", bucket


def test_writers_racing_for_numbers_keep_one_chain(store):
    _client, aws, location, _bucket = store
    errors: list[Exception] = []

    def write(writer: int) -> None:
        try:
            for number in range(2):
                _audit.append(location, {"event": "rollback", "record_id": f"w{writer}-{number}"}, aws=aws)
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    found = _audit.verify(location, keep_last=40, aws=aws)
    assert found["valid"], found["first_broken"]
    assert found["records"] == 40
    assert sorted(r["record_id"] for r in found["last_records"]) == sorted(
        f"w{w}-{n}" for w in range(20) for n in range(2))
    assert [r["seq"] for r in found["last_records"]] == list(range(1, 41))


def test_a_record_id_is_written_once(store):
    _client, aws, location, _bucket = store
    first = _audit.append(location, {"event": "rollback", "record_id": "rb-1:rollback"}, aws=aws)
    assert _audit.find(location, "rb-1:rollback", aws=aws) == first
    assert _audit.find(location, "rb-2:rollback", aws=aws) is None


def test_a_record_whose_index_was_not_written_is_found_and_not_written_again(store, monkeypatch):
    """A writer killed between its record and the record's index entry: the re-run finds the record, mends the
    index and appends nothing; a record further back than the tail is not looked for."""
    client, aws, location, bucket = store
    _audit.append(location, {"event": "rollback", "record_id": "rb-0:rollback"}, aws=aws)
    real_put = _audit._records.S3.put

    def killed_before_the_index(self, key, body, only_if=None, **kwargs):
        if "/ids/" in key:
            raise KeyboardInterrupt  # the writer dies here
        return real_put(self, key, body, only_if=only_if, **kwargs)

    monkeypatch.setattr(_audit._records.S3, "put", killed_before_the_index)
    with pytest.raises(KeyboardInterrupt):
        _audit.append(location, {"event": "rollback", "record_id": "rb-1:rollback"}, aws=aws)
    monkeypatch.setattr(_audit._records.S3, "put", real_put)
    prefix = location.split(bucket + "/", 1)[1]
    ids = [item["Key"] for item in client.list_objects_v2(Bucket=bucket, Prefix=prefix + "ids/")["Contents"]]
    assert len(ids) == 1, "the index entry of rb-1 should be missing"

    assert _audit.find(location, "rb-1:rollback", aws=aws, mend=False)["seq"] == 2
    assert len(client.list_objects_v2(Bucket=bucket, Prefix=prefix + "ids/")["Contents"]) == 1, "check mode writes"
    found = _audit.find(location, "rb-1:rollback", aws=aws)
    assert found and found["seq"] == 2
    again = _audit.append(location, {"event": "rollback", "record_id": "rb-2:rollback"}, aws=aws)
    assert again["seq"] == 3
    assert len(client.list_objects_v2(Bucket=bucket, Prefix=prefix + "ids/")["Contents"]) == 3, "index mended"
    assert _audit.verify(location, aws=aws)["records"] == 3


def _delete(client, bucket, key):
    client.delete_object(Bucket=bucket, Key=key(3))  # a delete marker: the locked version stays in the bucket


def _delete_last(client, bucket, key):
    client.delete_object(Bucket=bucket, Key=key(5))


def _edit(client, bucket, key):
    record = json.loads(client.get_object(Bucket=bucket, Key=key(2))["Body"].read())
    record["outcome"] = "success"
    client.put_object(Bucket=bucket, Key=key(2), Body=json.dumps(record).encode())


def _swap(client, bucket, key):
    second, third = (client.get_object(Bucket=bucket, Key=key(seq))["Body"].read() for seq in (2, 3))
    client.put_object(Bucket=bucket, Key=key(2), Body=third)
    client.put_object(Bucket=bucket, Key=key(3), Body=second)


@pytest.mark.parametrize("tamper, seq, reason", [
    (_delete, 3, "it is missing (deleted): the next record in the store is seq 4"),
    (_delete_last, 5, "it is missing (deleted): the head names seq 5 as the last record"),
    (_edit, 2, "its content does not match its hash (edited)"),
    (_swap, 2, "it holds record seq 3 (moved or reordered)"),
], ids=["deleted", "deleted-last", "edited", "reordered"])
def test_a_changed_record_is_named(store, tamper, seq, reason):
    client, aws, location, bucket = store
    for number in range(5):
        _audit.append(location, {"event": "rollback", "record_id": f"r{number}"}, aws=aws)
    assert _audit.verify(location, aws=aws)["valid"]
    tamper(client, bucket, lambda number: f"hybrid-routing/prod-eu/audit/records/{number:012d}.json")
    found = _audit.verify(location, aws=aws)
    assert not found["valid"]
    assert found["first_broken"] == {"line": None, "seq": seq, "reason": reason,
                                     "key": f"s3://{bucket}/hybrid-routing/prod-eu/audit/records/{seq:012d}.json"}


def test_a_writer_after_a_lost_race_appends_after_the_winner(store, monkeypatch):
    """The writer that read the same last record as another re-reads and appends after it."""
    _client, aws, location, _bucket = store
    _audit.append(location, {"event": "rollback", "record_id": "a"}, aws=aws)
    chain = _audit.S3Chain(location, aws)
    real_last = chain._last
    raced = []

    def last_then_lose():
        seen = real_last()
        if not raced:  # another controller writes seq 2 between this writer's read and its write
            raced.append(_audit.append(location, {"event": "rollback", "record_id": "other"}, aws=aws))
        return seen

    monkeypatch.setattr(chain, "_last", last_then_lose)
    stored = chain.append({"event": "rollback", "record_id": "b"})
    assert raced[0]["seq"] == 2 and stored["seq"] == 3 and stored["prev"] == raced[0]["hash"]
    assert _audit.verify(location, aws=aws)["valid"]


def test_notification_state_updates_from_two_writers_are_both_kept(store):
    _client, aws, _location, bucket = store
    path = f"s3://{bucket}/hybrid-routing/prod-eu/notifications.json"
    threads = [threading.Thread(target=_notify.update_state,
                                args=(path, f"incident-{n}", {"status": "triggered"}, aws)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(_notify.read_state(path, aws)) == [f"incident-{n}" for n in range(10)]
