"""The reliability suite's shared parts (issue 11): the figures each case records, the table of
docs/reliability.md, a fault-injecting proxy in front of moto, and the end state each level must reach.

    python tests/integration/reliability.py render RESULTS.jsonl [--write docs/reliability.md]

Each case appends one JSON line to $HR_RELIABILITY_RESULTS (when set): section, case, runs tried, runs completed,
retries (requests the service answered with an injected fault, i.e. what the clients had to retry), the slowest
run against its target, and a note.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

LEVEL1 = "playbooks/rollback_level1.yml"
LEVEL2 = "playbooks/rollback_level2.yml"
LEVEL3 = "playbooks/rollback_level3.yml"
ROLLFORWARD = "playbooks/rollforward.yml"
AUTO = "playbooks/auto_rollback.yml"
PLAYBOOKS = {"level1": LEVEL1, "level2": LEVEL2, "level3": LEVEL3, "rollforward": ROLLFORWARD}
# The targets of hybrid_routing_targets (roles/hybrid_routing/defaults/main.yml); auto_rollback: its ceiling's.
TARGETS = {"level1": 120.0, "level2": 300.0, "level3": 600.0, "rollforward": 600.0, "auto": 300.0}
HYBRID_FLAGS = ("hybrid_routing", "direct_bedrock", "intelligent_routing", "bedrock_support_mode")
SEED_CURRENT, SEED_PREVIOUS = "2025.01.14-2", "2025.01.10-1"
SECTIONS = {
    "faults": "1. Faults (sandbox fault injection; CloudWatch faults through a proxy in front of moto)",
    "kills": "2. Interruption (kill -9 of ansible-playbook, then a re-run)",
    "concurrency": "3. Concurrency (runs started at once on one environment)",
    "input": "4. Bad input (refused before any write) and the API contract",
    "secrets": "5. Secrets at -vvv",
    "load": "6. Load",
    "receivers": "7. Receivers failing too (Slack, e-mail, PagerDuty, status page, hotline SMS)",
}


@dataclass
class Case:
    section: str
    case: str
    tried: int = 0
    completed: int = 0
    retries: int = 0
    seconds: list[float] = field(default_factory=list)
    target: float | None = None
    note: str = ""

    def run(self, seconds: float, completed: bool) -> None:
        self.tried += 1
        self.completed += int(completed)
        self.seconds.append(round(seconds, 2))

    def save(self) -> None:
        """Append to $HR_RELIABILITY_RESULTS (pytest workers share the file: one locked append per case)."""
        path = os.environ.get("HR_RELIABILITY_RESULTS")
        if not path:
            return
        with open(path, "a", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.write(json.dumps(asdict(self)) + "\n")


def render(results: list[dict[str, Any]], mode: str) -> str:
    lines = [f"Mode: {mode}. Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
             f"{platform.python_version()}. Written {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", ""]
    total_tried = sum(item["tried"] for item in results)
    total_completed = sum(item["completed"] for item in results)
    lines.append(f"{len(results)} cases, {total_tried} runs tried, {total_completed} completed as the case expects "
                 "(a killed run counts as tried, not completed).")
    for key, title in SECTIONS.items():
        rows = sorted((item for item in results if item["section"] == key), key=lambda item: item["case"])
        if not rows:
            continue
        lines += ["", f"### {title}", "",
                  "| case | runs tried | completed | retries | slowest run s | target s | note |",
                  "|---|---:|---:|---:|---:|---:|---|"]
        for item in rows:
            slowest = f"{max(item['seconds']):.1f}" if item["seconds"] else "-"
            target = f"{item['target']:.0f}" if item.get("target") else "-"
            note = " ".join(str(item["note"]).split()).replace("|", "/")
            lines.append(f"| {item['case']} | {item['tried']} | {item['completed']} | {item['retries']} | {slowest} "
                         f"| {target} | {note} |")
    return "\n".join(lines) + "\n"


BEGIN, END = "<!-- reliability:begin -->", "<!-- reliability:end -->"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("command", choices=["render"])
    parser.add_argument("results", type=Path)
    parser.add_argument("--mode", default="short")
    parser.add_argument("--write", type=Path, help="replace the table between the markers of this file")
    args = parser.parse_args(argv)
    results = [json.loads(line) for line in args.results.read_text().splitlines() if line.strip()] \
        if args.results.exists() else []
    table = render(results, args.mode)
    print(table)
    if args.write:
        text = args.write.read_text()
        head, _begin, rest = text.partition(BEGIN)
        _old, _end, tail = rest.partition(END)
        args.write.write_text(f"{head}{BEGIN}\n{table}{END}{tail}")
    return 0


# -- What the service answered with injected faults (the retries the clients made) --------------------------------

def injected(api: Any) -> int:
    status, body = _get(f"{api.base}/_sandbox/requests")
    return int(body.get("injected", 0)) if status == 200 else 0


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None


# -- End states ----------------------------------------------------------------------------------------------------

def level_state_problems(api: Any, level: str) -> list[str]:
    """What is wrong with the service's state after `level` (empty: right)."""
    problems = []
    flags = api.flags()
    routing = api.get("/admin/routing")
    releases = api.get("/admin/releases")
    if level == "rollforward":
        if not all(flags[name] for name in HYBRID_FLAGS):
            problems.append(f"flags not restored: {flags}")
        if routing["mode"] != "hybrid":
            problems.append(f"routing {routing['mode']}, not hybrid")
        if releases["current"] != SEED_CURRENT:
            problems.append(f"release {releases['current']}, not {SEED_CURRENT}")
        return problems
    if any(flags[name] for name in HYBRID_FLAGS):
        problems.append(f"hybrid flags still on: {flags}")
    wanted_mode = "mcp_only" if level in ("level2", "level3") else "hybrid"
    if routing["mode"] != wanted_mode or (wanted_mode == "mcp_only" and routing["effective"]["weights"]["direct"]):
        problems.append(f"routing {routing}, wanted {wanted_mode}")
    wanted_release = SEED_PREVIOUS if level == "level3" else SEED_CURRENT
    if releases["current"] != wanted_release:
        problems.append(f"release {releases['current']}, wanted {wanted_release}")
    return problems


def release_moves(api: Any) -> list[str]:
    """The releases the service was moved to by a rollback deployment (a revert, or a roll-forward's way back)."""
    return [item["to"] for item in api.get("/admin/releases")["history"] if item["action"] == "rollback"]


# What release_moves must be after each level: Level 3 reverts once; a roll-forward after it goes back once.
EXPECTED_MOVES = {"level1": [], "level2": [], "level3": [SEED_PREVIOUS], "rollforward": [SEED_PREVIOUS, SEED_CURRENT]}


# -- CloudWatch faults: a proxy in front of moto ------------------------------------------------------------------

class AwsFaultProxy:
    """Forwards every request to moto; the next `count` calls of an armed operation (e.g. PutMetricData) get a
    throttling (400 Throttling) or server error (500 InternalFailure) answer, as CloudWatch gives them; or no answer
    (`hang`: until the client gives up), an answer 5 s late (`slow`), or a closed connection (`drop`)."""

    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/")
        self.faults: dict[str, list[Any]] = {}  # operation -> [kind, remaining]
        self.injected = 0
        # What moto answered to each forwarded request: (status, request body), for the test to read back.
        self.forwarded: list[tuple[int, bytes]] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                kind = proxy._take(self.path, self.headers, body)
                if kind == "hang":
                    self._hang()
                    return
                if kind == "drop":
                    self.close_connection = True
                    return
                if kind == "slow":
                    time.sleep(5)
                elif kind:
                    self._fault(kind, self.headers.get("Content-Type", ""))
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                request = urllib.request.Request(proxy.upstream + self.path, data=body or None, method=self.command,
                                                 headers=headers)
                try:
                    with urllib.request.urlopen(request, timeout=60) as response:
                        status, answer, answer_headers = response.status, response.read(), response.headers
                except urllib.error.HTTPError as exc:
                    status, answer, answer_headers = exc.code, exc.read(), exc.headers
                with proxy._lock:
                    proxy.forwarded.append((status, body))
                self.send_response(status)
                for key, value in answer_headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def _hang(self) -> None:
                self.connection.settimeout(0.2)
                end = time.monotonic() + 300
                while time.monotonic() < end:
                    try:
                        if self.connection.recv(1, socket.MSG_PEEK) == b"":
                            break
                    except TimeoutError:
                        continue
                    except OSError:
                        break
                self.close_connection = True

            def _fault(self, kind: str, content_type: str) -> None:
                """The error in the protocol the request spoke (JSON 1.0, rpc-v2-cbor or query)."""
                code, status, fault = ("Throttling", 400, "Sender") if kind == "throttle" else \
                    ("InternalFailure", 500, "Receiver")
                error = {"__type": code, "message": f"injected {code}"}
                self.send_response(status)
                if "cbor" in content_type:
                    body = _cbor_map(error)
                    self.send_header("Content-Type", "application/cbor")
                    self.send_header("smithy-protocol", "rpc-v2-cbor")
                elif "json" in content_type:
                    body = json.dumps(error).encode()
                    self.send_header("Content-Type", content_type)
                else:
                    body = (f"<ErrorResponse><Error><Type>{fault}</Type><Code>{code}</Code><Message>injected"
                            f"</Message></Error><RequestId>0</RequestId></ErrorResponse>").encode()
                    self.send_header("Content-Type", "text/xml")
                self.send_header("x-amzn-query-error", f"{code};{fault}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _handle  # http.server calls do_<METHOD>

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def arm(self, operation: str, kind: str, count: int) -> None:
        with self._lock:
            self.faults[operation] = [kind, count]

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def _take(self, path: str, headers: Any, body: bytes) -> str | None:
        target = headers.get("X-Amz-Target", "")
        with self._lock:
            for operation, fault in self.faults.items():
                hit = (path.endswith(f"/operation/{operation}") or target.endswith(f".{operation}")
                       or f"Action={operation}&".encode() in body + b"&")
                if hit and fault[1] > 0:
                    fault[1] -= 1
                    self.injected += 1
                    return fault[0]
        return None

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _cbor_text(text: str) -> bytes:
    raw = text.encode()
    length = len(raw)
    head = bytes([0x60 | length]) if length < 24 else bytes([0x78, length])
    return head + raw


def _cbor_map(values: dict[str, str]) -> bytes:
    """A CBOR map of short strings: the error body of the rpc-v2-cbor protocol CloudWatch speaks."""
    out = bytes([0xA0 | len(values)])
    for key, value in values.items():
        out += _cbor_text(key) + _cbor_text(value)
    return out


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
