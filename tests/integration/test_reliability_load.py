"""Reliability 6: Level 2 against 50 environments at once (50 forks) while the service serves steady model-call
traffic (issue 11). Every environment ends MCP-only with its hybrid flags off, every call of the background traffic
was answered (nothing lost), and once an environment's rollback is over its calls go only to MCP."""

from __future__ import annotations

import json
import os
import random
import secrets
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter

import pytest

from hrtest import BIN, REPO, free_port, http, stop_process, wait_for
from reliability import LEVEL2, TARGETS, Case

ENVIRONMENTS = 50
TRAFFIC_THREADS = 2
PAUSE = 0.02  # seconds between one thread's calls: steady traffic, not a saturating benchmark


class Traffic:
    """Threads sending model calls to random environments until stopped; every answer (or its absence) counted."""

    def __init__(self, bases: list[str]):
        self.bases = bases
        self.answers: Counter[str] = Counter()
        self.paths_after: dict[str, Counter[str]] = {base: Counter() for base in bases}
        self.done_at: dict[str, float] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._send, daemon=True) for _thread in range(TRAFFIC_THREADS)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def _send(self) -> None:
        rng = random.Random()
        body = json.dumps({"model": "claude-sonnet", "prompt_tokens": 120}).encode()
        while not self._stop.is_set():
            base = rng.choice(self.bases)
            sent_at = time.monotonic()
            request = urllib.request.Request(f"{base}/v1/model-calls", data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    answer = json.loads(response.read())
                    outcome = f"{response.status} {answer['path']}"
            except Exception as exc:  # every failure is a lost call: counted, never raised
                outcome = f"lost {type(exc).__name__}"
            with self._lock:
                self.answers[outcome] += 1
                if base in self.done_at and sent_at > self.done_at[base]:
                    self.paths_after[base][outcome] += 1
            self._stop.wait(PAUSE)

    def stop(self) -> None:
        self._stop.set()
        for thread in self.threads:
            if thread.is_alive():  # never started when the test failed before the traffic began
                thread.join(15)


def start_fleet(tmp_path, token: str, log) -> tuple[subprocess.Popen, list[str]]:
    """One sandbox process serving ENVIRONMENTS environments, each on its own port, answering /health.

    A port chosen free can still be taken before the sandbox binds it; the sandbox then exits at once ("cannot
    listen"), and the fleet is started again on other ports rather than waited for."""
    for _attempt in range(3):
        ports = [free_port() for _environment in range(ENVIRONMENTS)]
        args = [sys.executable, "-m", "sandbox", "api", "--state-dir", str(tmp_path / "sandbox"),
                "--log-level", "warning"]
        for port in ports:
            args += ["--port", str(port)]
        service = subprocess.Popen(args, cwd=REPO, env=dict(os.environ, ADMIN_TOKEN=token), stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        bases = [f"http://127.0.0.1:{port}" for port in ports]

        def up_or_exited(service: subprocess.Popen = service, bases: list[str] = bases) -> bool:
            if service.poll() is not None:
                return True
            try:
                return all(http("GET", f"{base}/health", timeout=2)[0] == 200 for base in bases)
            except OSError:
                return False

        wait_for(up_or_exited, timeout=120, interval=0.2)
        if service.poll() is None:
            return service, bases
        output = (tmp_path / "sandbox.log").read_text(errors="replace")
        # "cannot listen" when the bind fails up front; "Address already in use" when it fails as the server starts.
        if "cannot listen" not in output[-300:] and "Address already in use" not in output[-3000:]:
            raise AssertionError(f"the sandbox fleet exited with {service.returncode}: {output[-2000:]}")
    raise AssertionError(f"the sandbox fleet found no free ports in 3 tries: {output[-2000:]}")


@pytest.mark.reliability
def test_level2_on_fifty_environments_under_traffic(tmp_path):
    case = Case("load", f"Level 2 on {ENVIRONMENTS} environments at once, {TRAFFIC_THREADS} threads of model calls",
                target=TARGETS["level2"])
    token = "load-" + secrets.token_hex(8)
    log = open(tmp_path / "sandbox.log", "ab")  # noqa: SIM115 - closed below
    service, bases = start_fleet(tmp_path, token, log)
    traffic = Traffic(bases)
    try:
        hosts = {f"env{index:02d}": {"ansible_connection": "local",
                                     "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                                     "hybrid_routing_api_base": base, "hybrid_routing_operator": "load-test",
                                     "hybrid_routing_state_dir": str(tmp_path / "state")}
                 for index, base in enumerate(bases)}
        inventory = tmp_path / "inventory.json"
        inventory.write_text(json.dumps({"all": {"hosts": hosts}}))
        traffic.start()
        time.sleep(2)  # traffic flows before the rollback starts
        before = dict(traffic.answers)
        # As a user runs it: from the repository root (its ansible.cfg), the collection where setup linked it.
        env = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}", ANSIBLE_NOCOLOR="1",
                   ANSIBLE_FORKS=str(ENVIRONMENTS), ADMIN_TOKEN=token, ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"))
        started = time.monotonic()
        run = subprocess.run([str(BIN / "ansible-playbook"), str(REPO / LEVEL2), "-i", str(inventory)],
                             cwd=REPO, env=env, capture_output=True, text=True, timeout=TARGETS["level2"],
                             check=False)
        seconds = time.monotonic() - started
        ended = time.monotonic()
        traffic.done_at = dict.fromkeys(bases, ended)
        time.sleep(2)  # traffic keeps flowing after the rollback
        traffic.stop()
        case.run(seconds, run.returncode == 0)
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
        assert run.stdout.count("failed=0") == ENVIRONMENTS, run.stdout[-4000:]
        wrong = {}
        for base in bases:
            flags = {name: doc["enabled"] for name, doc in
                     http("GET", f"{base}/admin/feature-flags", token)[1]["flags"].items()}
            routing = http("GET", f"{base}/admin/routing", token)[1]
            if flags["hybrid_routing"] or flags["direct_bedrock"] or routing["effective"]["mode"] != "mcp_only":
                wrong[base] = (flags, routing)
        assert wrong == {}, f"{len(wrong)} environments not rolled back: {wrong}"
        lost = {outcome: count for outcome, count in traffic.answers.items() if not outcome.startswith("200")}
        assert lost == {}, f"calls lost during the rollback: {lost}"
        direct_after = sum(counter["200 direct"] for counter in traffic.paths_after.values())
        after = sum(sum(counter.values()) for counter in traffic.paths_after.values())
        assert after > 0 and direct_after == 0, f"{direct_after} of {after} calls went direct after the rollback"
        total = sum(traffic.answers.values())
        assert before.get("200 direct", 0) > 0, "before the rollback some calls went direct (the split was live)"
        case.note = (f"{ENVIRONMENTS}/{ENVIRONMENTS} MCP-only with the flags off in {seconds:.1f}s; {total} model "
                     f"calls, 0 lost; {after} after the rollback, 0 direct")
        case.save()
    finally:
        traffic.stop()
        stop_process(service)
        log.close()
