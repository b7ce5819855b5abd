"""The sandbox's OpenAPI document is exact: schemathesis with every check on finds nothing.

A production implementation is built from /openapi.json, so whatever the server does, the document must say:
schemathesis generates requests from it (valid ones, which must be accepted, and invalid ones, which must be
refused), and checks every answer against it (status documented, body and headers as described, 405 with `Allow`,
auth not ignored, ...). Two runs, each against its own real `python -m sandbox api`:

- the production contract: every /admin/*, /health* and /v1/* operation, with the bearer token;
- the sandbox-only /_sandbox/* operations, on a sandbox of their own. Fuzzed fault rules (latency, errors, dropped
  connections) and resets would break the other run's cases, while /_sandbox/* itself is never faulted, so alone
  they are safe to fuzz.

Below, plain tests pin what the fuzzing found (sandbox/README.md, "Contract fuzzing").
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from sandbox_testlib import AUTH, REPO

CONFIG = REPO / "sandbox" / "schemathesis.toml"
SEED = 20261128
# Examples per operation and phase (the coverage phase's boundary cases come on top). With these the two runs
# generate about 1,400 cases and take about 25 s together on an idle 2-core machine (sandbox/README.md).
MAX_EXAMPLES = {"contract": 25, "internal": 15}
INTERNAL = r"^/_sandbox/"


def _require_schemathesis() -> None:
    if importlib.util.find_spec("schemathesis") is None:
        pytest.fail(
            "schemathesis is not installed: `.venv/bin/pip install -r requirements-dev.txt` "
            "(it pins schemathesis>=4.1,<5)",
            pytrace=False,
        )


def _schemathesis(url: str, out_dir: Path, name: str, *selection: str, headers: dict[str, str]) -> tuple[int, str]:
    argv = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "--no-color",
        "run", f"{url}/openapi.json", "--checks", "all", "--seed", str(SEED),
        "--max-examples", str(MAX_EXAMPLES[name]), "--workers", "1",
        "--generation-database", "none", *selection,
    ]
    for header, value in headers.items():
        argv += ["-H", f"{header}: {value}"]
    # cwd: anything schemathesis might leave behind lands in the test's own directory.
    done = subprocess.run(argv, cwd=out_dir, capture_output=True, text=True, timeout=600, check=False)
    output = done.stdout + done.stderr
    (out_dir / f"schemathesis-{name}.txt").write_text(output)
    return done.returncode, output


def _summary(output: str) -> str:
    """From the first ERRORS/FAILURES banner (or the summary) to the end: what to read when it fails."""
    match = re.search(r"^=+ (ERRORS|FAILURES|SUMMARY) =+$", output, re.MULTILINE)
    text = output[match.start():] if match else output
    return text if len(text) < 20_000 else text[:10_000] + "\n[...]\n" + text[-10_000:]


def _operations(url: str) -> list[str]:
    spec = requests.get(f"{url}/openapi.json", timeout=5).json()
    return [f"{method.upper()} {path}" for path, ops in spec["paths"].items() for method in ops]


def _record(cases: int, seconds: float, note: str) -> None:
    """A row of the reliability table (tests/integration/reliability.py, section "input")."""
    path = os.environ.get("HR_RELIABILITY_RESULTS")
    if path:
        row = {"section": "input", "case": "API contract: schemathesis, all checks", "tried": 2, "completed": 2,
               "retries": 0, "seconds": [round(seconds, 1)], "target": None, "note": f"{cases} cases; {note}"}
        with open(path, "a", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.write(json.dumps(row) + "\n")


@pytest.mark.reliability
def test_schemathesis_finds_no_mismatch(api_process, tmp_path: Path):
    _require_schemathesis()
    contract = api_process(tmp_path / "contract")
    internal = api_process(tmp_path / "internal")
    operations = _operations(contract.url)
    runs = {
        "contract": (contract, ["--exclude-path-regex", INTERNAL], AUTH),
        "internal": (internal, ["--include-path-regex", INTERNAL], {}),
    }
    expected = {
        "contract": sum(1 for op in operations if not re.search(INTERNAL, op.split(" ", 1)[1])),
        "internal": sum(1 for op in operations if re.search(INTERNAL, op.split(" ", 1)[1])),
    }
    started = time.monotonic()
    cases = 0
    for name, (api, selection, headers) in runs.items():
        rc, output = _schemathesis(api.url, tmp_path, name, *selection, headers=headers)
        print(f"--- schemathesis, {name} ---\n{_summary(output)}")  # shown by pytest when the test fails
        assert rc == 0, f"schemathesis ({name}) exited {rc}:\n{_summary(output)}"
        generated = re.search(r"(\d+) generated", output)
        tested = re.search(r"Tested: (\d+)", output)
        assert generated and tested, output[-3000:]
        print(f"{name}: {generated.group(1)} cases, {tested.group(1)} operations")
        # Every operation of the run was fuzzed: none filtered away or skipped as unsupported.
        assert int(tested.group(1)) == expected[name], output[-3000:]
        assert int(generated.group(1)) >= 10 * expected[name]
        cases += int(generated.group(1))
    print(f"schemathesis runs: {time.monotonic() - started:.1f} s")
    _record(cases, time.monotonic() - started, f"{sum(expected.values())} operations, 0 failures")


# What the fuzzing found, pinned.


def _schema_nodes(node: Any) -> Any:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _schema_nodes(value)
    elif isinstance(node, list):
        for item in node:
            yield from _schema_nodes(item)


def test_document_states_the_constraints(client):
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    # Only JSON Schema keywords: pydantic writes a constraint it cannot place (e.g. on a union) as a raw "gt".
    for node in _schema_nodes(spec["components"]):
        assert not {"gt", "ge", "lt", "le"} & set(node), node
    assert schemas["LockRequest"]["properties"]["ttl_seconds"]["exclusiveMinimum"] == 0
    # Weights add up to 100, and a fixed mode fixes them.
    assert len(schemas["Weights"]["enum"]) == 101
    assert all(split["direct"] + split["mcp"] == 100 for split in schemas["Weights"]["enum"])
    modes = {branch["properties"]["mode"]["const"]: branch for branch in schemas["RoutingPut"]["anyOf"]}
    assert modes["mcp_only"]["properties"]["weights"]["enum"] == [None, {"direct": 0, "mcp": 100}]
    # The flags are the seeded ones.
    flags = list(client.get("/admin/feature-flags").json()["flags"])
    patch = schemas["FlagsPatch"]["properties"]["flags"]
    assert (list(patch["properties"]), patch["additionalProperties"]) == (flags, False)
    (name,) = (p for p in spec["paths"]["/admin/feature-flags/{name}"]["put"]["parameters"] if p["in"] == "path")
    assert name["schema"]["enum"] == flags
    # Optional headers are strings (absent or a string), not "string or null".
    snapshot_headers = {p["name"]: p["schema"] for p in spec["paths"]["/admin/rollback/snapshot"]["put"]["parameters"]}
    assert snapshot_headers["If-None-Match"]["enum"] == ["*"]
    assert snapshot_headers["X-Rollback-Id"]["type"] == "string"
    # A create-only PUT answers 412 when a snapshot is stored: documented (sandbox/schemathesis.toml has
    # positive_data_acceptance take it as the failed precondition it is, not valid data rejected).
    snapshot_put = spec["paths"]["/admin/rollback/snapshot"]["put"]["responses"]
    assert snapshot_put["412"]["content"]["application/json"]["schema"]["$ref"].endswith("/SnapshotExists")
    # Every operation that takes a body documents the 422 an unreadable one gets.
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if "requestBody" in op:
                assert "422" in op["responses"], (method, path)


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/admin/feature-flags", "GET, PATCH"),
        ("/admin/locks/rollback", "DELETE, GET, POST"),
        ("/admin/rollback/snapshot", "DELETE, GET, PUT"),
        ("/_sandbox/faults", "GET, PATCH, PUT"),
        ("/v1/model-calls", "POST"),
    ],
)
def test_405_names_every_method_of_the_path(client, path, allow):
    """Starlette's own 405 named only the first route's methods (`Allow: GET` on /admin/feature-flags)."""
    for method in ("OPTIONS", "TRACE", "HEAD"):  # no HEAD here: FastAPI's routes serve only what they declare
        response = client.request(method, path)
        assert response.status_code == 405
        assert response.headers["allow"] == allow
    assert client.request("OPTIONS", path).json()["error"] == "method_not_allowed"


def test_unreadable_body_is_a_422_like_malformed_json(client):
    for raw in (b"\xff\xfe\x00not utf-8", b"{not json"):
        response = client.put("/admin/routing", content=raw, headers={"Content-Type": "application/json"})
        assert response.status_code == 422, raw
        body = response.json()
        assert body["error"] == "validation_error"
        assert body["errors"][0]["type"] == "json_invalid"
    assert client.get("/admin/routing").json()["mode"] == "hybrid"


@pytest.mark.parametrize(
    "faults",
    [
        {"deploy_seconds": False},
        {"routing_converge_seconds": "5"},
        {"recover_after_seconds": True},
        {"incident": {"kind": "cost", "history_seconds": False}},
        {"rules": [{"path": "/admin", "count": True}]},
        {"rules": [{"path": "/admin", "error_rate": "0.5"}]},
        {"rules": [{"path": "/admin", "error_status": 503.5}]},
        {"rules": [{"path": "admin"}]},
    ],
)
def test_fault_knobs_take_only_numbers(client, faults):
    before = client.get("/_sandbox/faults").json()
    response = client.put("/_sandbox/faults", json=faults)
    assert response.status_code == 422, faults
    assert client.get("/_sandbox/faults").json() == before


def test_a_whole_number_is_an_integer(client):
    """JSON Schema's "integer" is any number without a fraction: 503.0 is 503, as the document promises."""
    rule = {"path": "/admin", "error_status": 503.0, "count": 2.0, "error_rate": 0}
    assert client.put("/_sandbox/faults", json={"rules": [rule]}).json()["rules"][0]["count"] == 2
    routing = client.put("/admin/routing", json={"mode": "hybrid", "weights": {"direct": 60.0, "mcp": 40}})
    assert routing.json()["weights"] == {"direct": 60, "mcp": 40}
    lock = client.post("/admin/locks/rollback", json={"holder": "a", "ttl_seconds": 900.0, "pid": 4242.0}).json()
    assert (lock["lock"]["ttl_seconds"], lock["lock"]["pid"]) == (900, 4242)
    for body in ({"holder": "b", "ttl_seconds": True}, {"holder": "b", "ttl_seconds": 0}, {"holder": "b", "pid": 1.5}):
        assert client.post("/admin/locks/rollback", json=body).status_code == 422, body


def test_weights_not_adding_up_are_the_documented_400(client):
    spec = client.get("/openapi.json").json()
    assert "400" in spec["paths"]["/admin/routing"]["put"]["responses"]
    response = client.put("/admin/routing", json={"mode": "hybrid", "weights": {"direct": 87, "mcp": 75}})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_weights"
