"""How much a rollback costs beyond its API calls: one command, a table, goals that fail the run when missed.

    python benchmarks/bench.py            # everything: levels, recovery, fleet (1 to 200), cap, degraded, receivers
    python benchmarks/bench.py --short    # levels at 0 and 100 ms, degraded, receivers (the test command runs this)
    python benchmarks/bench.py --write docs/performance.md   # also rewrite the tables in that file

Every run is the real ansible-playbook against the real sandbox (one process, one environment per port) on
loopback. Requests are counted by the sandbox, tasks from the play recap, CPU seconds from the rusage of the
ansible-playbook process tree. The floor of a run is an empty play on the same inventory plus each request's
added latency: what a rollback would cost if Ansible added nothing to its API calls.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LEVELS = {"level1": "playbooks/rollback_level1.yml", "level2": "playbooks/rollback_level2.yml",
          "level3": "playbooks/rollback_level3.yml", "rollforward": "playbooks/rollforward.yml"}
# Goals of issue 6: wall time against the floor at 100 ms per call.
FLOOR_GOALS = {"level1": 2.0, "level2": 2.5, "level3": 2.5, "rollforward": 2.5}
RECOVERY_SECONDS = 30.0
POLL_INTERVAL = 0.5
FLEET_GOAL = 2.0
FLEET_SIZES = [1, 10, 50, 100, 200]
FLEET_WALL_GOAL_UP_TO = 100  # 200 environments are measured and reported, without a goal (issue 21)
FLEET_REQUESTS_GOAL = 25  # requests per environment for a 30 s recovery
# Controller CPU per environment, in bare host-tasks: the CPU Ansible itself spends on one task of one host that does
# nothing (ansible.builtin.debug, measured on the same inventory with the same forks), so that the goal holds on a
# machine of any speed. Issue 21 asked for 0.6 s where the code before it took 0.98 s on 100 environments; measured
# on one machine, that code costs 54 bare host-tasks per environment (2.28 s at 42 ms), so 0.6 s is 33.
FLEET_CPU_GOAL_BARE_TASKS = 33
BARE_TASKS = 10  # tasks of the calibration play
CAP_ENVIRONMENTS = 100
CAP_RPS = 50.0
DEGRADED_GOAL_SECONDS = 150.0  # "well inside" Level 2's 5 minutes: half of it
# Issue 16: with every receiver hanging, the actions phase within 1 s of a healthy run's, the run within the healthy
# run's wall time plus the notification budget plus 2 s.
NOTIFY_BUDGET = 10.0


def free_ports(count: int) -> list[int]:
    socks = []
    try:
        for _index in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def http(method: str, url: str, body: Any = None, token: str | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


class Sandbox:
    """`python -m sandbox api` serving `count` environments, one per port."""

    def __init__(self, count: int, workdir: Path):
        self.ports = free_ports(count)
        self.token = "bench-" + secrets.token_hex(8)
        self.bases = [f"http://127.0.0.1:{port}" for port in self.ports]
        args = [sys.executable, "-m", "sandbox", "api", "--state-dir", str(workdir / "sandbox"), "--log-level",
                "warning"]
        for port in self.ports:
            args += ["--port", str(port)]
        self.log = open(workdir / "sandbox.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(args, cwd=REPO, env=dict(os.environ, ADMIN_TOKEN=self.token),
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        for base in self.bases:
            while True:
                try:
                    http("GET", f"{base}/health")
                    break
                except OSError:
                    if self.proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"the sandbox did not start; see {workdir / 'sandbox.log'}") from None
                    time.sleep(0.1)

    def prepare(self, faults: dict[str, Any]) -> None:
        """Every environment back to its seed, no lock, no snapshot, a zero request count, these faults."""
        for base in self.bases:
            http("PUT", f"{base}/_sandbox/faults", {})
            http("DELETE", f"{base}/admin/rollback/snapshot", token=self.token)
            http("POST", f"{base}/_sandbox/reset")  # also zeroes the request count the delete added to
            http("PUT", f"{base}/_sandbox/faults", faults)

    def requests(self) -> int:
        return sum(http("GET", f"{base}/_sandbox/requests")["total"] for base in self.bases)

    def cpu(self) -> float:
        """CPU seconds the sandbox (the service side) has used so far: it shares the machine with the controller."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.log.close()


@dataclass
class Run:
    wall: float
    cpu: float
    tasks: int
    skipped: int
    requests: int
    rc: int
    output: str = field(repr=False, default="")


def inventory(path: Path, sandbox: Sandbox, count: int, state: Path, **common: Any) -> Path:
    hosts = {
        f"env{index:02d}": {
            "ansible_connection": "local",
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "hybrid_routing_api_base": sandbox.bases[index],
            "hybrid_routing_state_dir": str(state),
            "hybrid_routing_operator": "bench",
            **common,
        }
        for index in range(count)
    }
    path.write_text(json.dumps({"all": {"hosts": hosts}}))
    return path


def play(target: str, inventory_path: Path, sandbox: Sandbox | None, forks: int, *extra: str) -> Run:
    env = dict(os.environ)
    env.update({
        "PATH": f"{BIN}:{env.get('PATH', '')}",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORKS": str(forks),
        "ANSIBLE_DISPLAY_SKIPPED_HOSTS": "true",  # the recap counts them either way; the log shows them
    })
    if sandbox is not None:
        env["ADMIN_TOKEN"] = sandbox.token
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.run([str(BIN / "ansible-playbook"), target, "-i", str(inventory_path), *extra], cwd=REPO,
                          env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    recap = re.findall(r"ok=(\d+)\s+changed=\d+\s+unreachable=\d+\s+failed=(\d+)\s+skipped=(\d+)", proc.stdout)
    tasks = sum(int(ok) + int(failed) for ok, failed, _skipped in recap)
    skipped = sum(int(skipped_count) for _ok, _failed, skipped_count in recap)
    return Run(wall, cpu, tasks, skipped, sandbox.requests() if sandbox else 0, proc.returncode,
               proc.stdout + proc.stderr)


class Bench:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.failures: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.empty = workdir / "empty.yml"
        self.empty.write_text("- hosts: all\n  gather_facts: false\n  tasks: []\n")
        self.bare = workdir / "bare.yml"
        self.bare.write_text("- hosts: all\n  gather_facts: false\n  tasks:\n" + "".join(
            f"    - name: Nothing {index}\n      ansible.builtin.debug:\n        msg: nothing\n        verbosity: 1\n"
            for index in range(BARE_TASKS)))

    def bare_task_cpu(self, inventory_path: Path, size: int) -> float:
        """CPU seconds of one bare host-task on this inventory (the calibration play less an empty play)."""
        runs = [play(str(self.bare), inventory_path, None, size), play(str(self.empty), inventory_path, None, size)]
        return max(0.0, runs[0].cpu - runs[1].cpu) / (size * BARE_TASKS)

    def check(self, ok: bool, what: str) -> str:
        if not ok:
            self.failures.append(what)
        return "yes" if ok else "**NO**"

    def levels(self, latencies: list[int]) -> None:
        rows = []
        sandbox = Sandbox(1, self.workdir)
        try:
            for latency in latencies:
                faults = {"rules": [{"path": "/admin", "latency_ms": latency},
                                    {"path": "/health", "latency_ms": latency}]} if latency else {}
                state = Path(tempfile.mkdtemp(dir=self.workdir))
                inv = inventory(self.workdir / "inv-1.json", sandbox, 1, state)
                sandbox.prepare(faults)
                empty = play(str(self.empty), inv, None, 1)
                for name, playbook in LEVELS.items():
                    sandbox.prepare(faults)
                    if name == "rollforward":
                        setup = play(LEVELS["level3"], inv, sandbox, 1)
                        assert setup.rc == 0, setup.output
                        sandbox_requests_before = sandbox.requests()
                    else:
                        sandbox_requests_before = 0
                    run = play(playbook, inv, sandbox, 1)
                    if run.rc != 0:
                        self.failures.append(f"{name} at {latency} ms failed:\n{run.output[-3000:]}")
                        continue
                    requests = run.requests - sandbox_requests_before
                    floor = empty.wall + requests * latency / 1000
                    ratio = run.wall / floor
                    goal = FLOOR_GOALS[name] if latency == 100 else None
                    met = self.check(ratio <= goal, f"{name} at {latency} ms: {ratio:.2f}x its floor, goal {goal}x") \
                        if goal else "-"
                    rows.append([name, f"{latency}", f"{run.wall:.2f}", f"{requests}", f"{run.tasks}",
                                 f"{run.skipped}", f"{run.cpu:.2f}", f"{floor:.2f}", f"{ratio:.2f}x",
                                 f"{goal}x" if goal else "-", met])
                    print(f"  {name:12} {latency:4} ms  {run.wall:6.2f} s  {requests:3} requests  {run.tasks:3} tasks  "
                          f"{run.cpu:5.2f} CPU-s  floor {floor:5.2f} s  {ratio:4.2f}x", flush=True)
        finally:
            sandbox.stop()
        self.tables["levels"] = rows

    def guarantees(self, rounds: int = 5, latency: int = 100) -> None:
        """What each guarantee costs: Level 1 at 100 ms, the time of the phases that give it (the run's own report,
        its audit record) and the requests the service saw in them (the sandbox's arrival times), median of
        `rounds`. The preflight, the lock and the snapshot are one step (rollback_start), and giving the lock back
        is the report's: they cost no task of their own, only their requests and the work around them."""
        phases_of = {"refusal before any write (preflight checks)": ("preflight",),
                     "rollback lock (taken and given back)": ("lock", "unlock"),
                     "snapshot (roll-forward)": ("snapshot",), "verified recovery": ("verify",)}
        order = ("preflight", "lock", "snapshot", "actions", "verify", "unlock")
        seconds: dict[str, list[float]] = {name: [] for name in phases_of}
        requests: dict[str, list[int]] = {name: [] for name in phases_of}
        walls: list[float] = []
        rows = []
        sandbox = Sandbox(1, self.workdir)
        try:
            faults = {"rules": [{"path": "/admin", "latency_ms": latency}, {"path": "/health", "latency_ms": latency}]}
            for _round in range(rounds):
                state = Path(tempfile.mkdtemp(dir=self.workdir))
                inv = inventory(self.workdir / "inv-1.json", sandbox, 1, state)
                sandbox.prepare(faults)
                run = play(LEVELS["level1"], inv, sandbox, 1)
                if run.rc != 0:
                    self.failures.append(f"Level 1 for the guarantees failed:\n{run.output[-3000:]}")
                    break
                walls.append(run.wall)
                record = json.loads((state / "env00" / "audit.jsonl").read_text().splitlines()[-1])
                times = sorted(http("GET", f"{sandbox.bases[0]}/_sandbox/requests")["times"])
                # Phase windows from the first request on (the run starts a few ms before it): each request
                # arrives at least its latency before the end of the phase that waits for its answer.
                edges, at = {}, times[0]
                for phase in order:
                    edges[phase] = (at, at + float(record["phases"].get(phase) or 0))
                    at = edges[phase][1]
                for name, phases in phases_of.items():
                    seconds[name].append(sum(float(record["phases"].get(phase) or 0) for phase in phases))
                    requests[name].append(sum(1 for t in times for phase in phases
                                              if edges[phase][0] <= t < edges[phase][1]))
            wall = sorted(walls)[len(walls) // 2] if walls else 0.0
            for name in phases_of:
                if not seconds[name]:
                    continue
                cost = sorted(seconds[name])[len(seconds[name]) // 2]
                rows.append([name, f"{cost:.2f}", f"{cost / wall:.0%}" if wall else "-",
                             f"{sorted(requests[name])[len(requests[name]) // 2]}"])
                print(f"  {name:45} {cost:5.2f} s of {wall:5.2f} s", flush=True)
        finally:
            sandbox.stop()
        self.tables["guarantees"] = rows

    def recovery(self) -> None:
        rows = []
        sandbox = Sandbox(1, self.workdir)
        try:
            for name in ("level1", "level2", "level3"):
                walls = {}
                # A level without recovery takes a couple of seconds and varies by a few tenths from run to run:
                # its median of three is the baseline, so that one fast run does not eat the poll interval.
                for recover, rounds in ((0.0, 3), (RECOVERY_SECONDS, 1)):
                    measured = []
                    for _round in range(rounds):
                        state = Path(tempfile.mkdtemp(dir=self.workdir))
                        inv = inventory(self.workdir / "inv-1.json", sandbox, 1, state)
                        sandbox.prepare({"recover_after_seconds": recover})
                        run = play(LEVELS[name], inv, sandbox, 1)
                        if run.rc != 0:
                            self.failures.append(f"{name} with {recover:g} s recovery failed:\n{run.output[-3000:]}")
                        measured.append(run.wall)
                    walls[recover] = sorted(measured)[len(measured) // 2]
                over = walls[RECOVERY_SECONDS] - RECOVERY_SECONDS
                allowed = walls[0.0] + POLL_INTERVAL
                met = self.check(over <= allowed, f"{name}: {over:.2f} s beyond the recovery, allowed {allowed:.2f}")
                rows.append([name, f"{walls[0.0]:.2f}", f"{walls[RECOVERY_SECONDS]:.2f}", f"{over:.2f}",
                             f"{allowed:.2f}", met])
                print(f"  {name:12} recovery 0 s {walls[0.0]:6.2f} s, 30 s {walls[RECOVERY_SECONDS]:6.2f} s",
                      flush=True)
        finally:
            sandbox.stop()
        self.tables["recovery"] = rows

    def fleet(self, sizes: list[int]) -> None:
        rows = []
        base_wall = None
        sandbox = Sandbox(max(sizes), self.workdir)
        try:
            for size in sizes:
                state = Path(tempfile.mkdtemp(dir=self.workdir))
                inv = inventory(self.workdir / f"inv-{size}.json", sandbox, size, state)
                sandbox.prepare({"recover_after_seconds": RECOVERY_SECONDS})
                service_cpu = sandbox.cpu()
                run = play(LEVELS["level2"], inv, sandbox, size)
                service_cpu = sandbox.cpu() - service_cpu
                if run.rc != 0:
                    self.failures.append(f"fleet of {size} failed:\n{run.output[-3000:]}")
                    continue
                base_wall = base_wall or run.wall
                ratio = run.wall / base_wall
                per_env, requests = run.cpu / size, run.requests / size
                unit = self.bare_task_cpu(inv, size)
                in_tasks = per_env / unit if unit else float("inf")
                goals = [self.check(requests <= FLEET_REQUESTS_GOAL,
                                    f"fleet of {size}: {requests:.0f} requests per environment") == "yes"]
                if size > 1 and size <= FLEET_WALL_GOAL_UP_TO:
                    goals.append(self.check(ratio <= FLEET_GOAL, f"fleet of {size}: {ratio:.2f}x one environment")
                                 == "yes")
                if size >= 50:
                    goals.append(self.check(in_tasks <= FLEET_CPU_GOAL_BARE_TASKS,
                                            f"fleet of {size}: {per_env:.2f} CPU-s per environment, {in_tasks:.0f} "
                                            f"bare host-tasks ({unit * 1000:.0f} ms each)") == "yes")
                met = "yes" if all(goals) else "**NO**"
                rows.append([f"{size}", f"{run.wall:.2f}", f"{ratio:.2f}x", f"{run.cpu:.1f}", f"{per_env:.2f}",
                             f"{unit * 1000:.0f}", f"{in_tasks:.0f}", f"{service_cpu:.1f}", f"{requests:.0f}", met])
                print(f"  fleet {size:3}  {run.wall:6.2f} s  {ratio:4.2f}x  {run.cpu:6.1f} CPU-s "
                      f"({per_env:.2f} per environment, {in_tasks:.0f} bare host-tasks of {unit * 1000:.0f} ms), "
                      f"{requests:.0f} requests per environment, service {service_cpu:.1f} CPU-s", flush=True)
        finally:
            sandbox.stop()
        self.tables["fleet"] = rows

    def cap(self) -> None:
        """Level 2 on CAP_ENVIRONMENTS environments behind one gateway (one rate-limit scope), capped at CAP_RPS:
        the busiest second the service saw, across all its ports."""
        sandbox = Sandbox(CAP_ENVIRONMENTS, self.workdir)
        try:
            state = Path(tempfile.mkdtemp(dir=self.workdir))
            inv = inventory(self.workdir / "inv-cap.json", sandbox, CAP_ENVIRONMENTS, state,
                            hybrid_routing_api_max_requests_per_second=CAP_RPS,
                            hybrid_routing_api_rate_limit_scope="one-gateway")
            sandbox.prepare({})
            run = play(LEVELS["level2"], inv, sandbox, CAP_ENVIRONMENTS)
            if run.rc != 0:
                self.failures.append(f"capped fleet failed:\n{run.output[-3000:]}")
                return
            times = sorted(t for base in sandbox.bases for t in http("GET", f"{base}/_sandbox/requests")["times"])
            busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
            allowed = CAP_RPS * 1.1 + 1
            met = self.check(busiest <= allowed, f"capped fleet: {busiest} requests in its busiest second")
            self.tables["cap"] = [[f"{CAP_ENVIRONMENTS}", f"{CAP_RPS:g}", f"{len(times)}", f"{run.wall:.2f}",
                                   f"{busiest}", f"{allowed:.0f}", met]]
            print(f"  cap {CAP_RPS:g}/s on {CAP_ENVIRONMENTS}: {len(times)} requests in {run.wall:.1f} s, busiest "
                  f"second {busiest}", flush=True)
        finally:
            sandbox.stop()

    def degraded(self) -> None:
        sandbox = Sandbox(1, self.workdir)
        try:
            state = Path(tempfile.mkdtemp(dir=self.workdir))
            inv = inventory(self.workdir / "inv-1.json", sandbox, 1, state)
            sandbox.prepare({"rules": [{"path": "/admin", "latency_ms": 500, "error_rate": 0.2},
                                       {"path": "/health", "latency_ms": 500, "error_rate": 0.2}]})
            run = play(LEVELS["level2"], inv, sandbox, 1)
        finally:
            sandbox.stop()
        ok = run.rc == 0 and run.wall <= DEGRADED_GOAL_SECONDS
        met = self.check(ok, f"degraded Level 2: rc {run.rc}, {run.wall:.1f} s (goal {DEGRADED_GOAL_SECONDS:g} s)"
                         + ("" if run.rc == 0 else f"\n{run.output[-3000:]}"))
        self.tables["degraded"] = [["level2", f"{run.wall:.2f}", f"{run.requests}", f"{run.rc}",
                                    f"{DEGRADED_GOAL_SECONDS:g}", met]]
        print(f"  degraded level2  {run.wall:6.2f} s  {run.requests} requests  rc {run.rc}", flush=True)

    def receivers(self) -> None:
        """Every level with healthy receivers (the notification sink), then with every receiver hanging (a port
        that accepts connections and never answers: Slack, SMTP, PagerDuty, the status page)."""
        sandbox = Sandbox(1, self.workdir)
        sink_port, smtp_port, hole_port = free_ports(3)
        sink = subprocess.Popen([sys.executable, "-m", "sandbox", "sink", "--port", str(sink_port), "--smtp-port",
                                 str(smtp_port), "--state-dir", str(self.workdir / "sink")], cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        hole = socket.socket()
        hole.bind(("127.0.0.1", hole_port))
        hole.listen(256)  # the kernel completes the handshakes; nobody ever reads or answers
        rows = []
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    http("GET", f"http://127.0.0.1:{sink_port}/health")
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the notification sink did not start") from None
                    time.sleep(0.1)
            for name in ("level1", "level2", "level3"):
                walls, actions = [], []
                for port, smtp in ((sink_port, smtp_port), (hole_port, hole_port)):
                    state = Path(tempfile.mkdtemp(dir=self.workdir))
                    inv = inventory(self.workdir / "inv-1.json", sandbox, 1, state)
                    sandbox.prepare({})
                    base = f"http://127.0.0.1:{port}"
                    run = play(LEVELS[name], inv, sandbox, 1, "-e", json.dumps({
                        "hybrid_routing_slack_token": "xoxb-bench", "hybrid_routing_slack_api_url": f"{base}/slack/api",
                        "hybrid_routing_smtp_host": "127.0.0.1", "hybrid_routing_smtp_port": smtp,
                        "hybrid_routing_email_ops_to": ["ops@bench.invalid"],
                        "hybrid_routing_email_management_to": ["cto@bench.invalid"],
                        "hybrid_routing_pagerduty_routing_key": "bench",
                        "hybrid_routing_pagerduty_events_url": f"{base}/pagerduty/v2/enqueue",
                        "hybrid_routing_statuspage_api_url": f"{base}/statuspage/v1",
                        "hybrid_routing_statuspage_api_key": "bench", "hybrid_routing_statuspage_page_id": "bench",
                        "hybrid_routing_notify_validate_certs": False,
                        "hybrid_routing_notify_budget_seconds": NOTIFY_BUDGET}))
                    phase = re.search(r"actions\s+([\d.]+)s", run.output)
                    if run.rc != 0 or phase is None:
                        self.failures.append(f"{name} with receivers on port {port} failed:\n{run.output[-3000:]}")
                        break
                    walls.append(run.wall)
                    actions.append(float(phase.group(1)))
                if len(walls) < 2:
                    continue
                allowed = walls[0] + NOTIFY_BUDGET + 2
                ok = walls[1] <= allowed and actions[1] <= actions[0] + 1
                met = self.check(ok, f"{name} with every receiver hanging: {walls[1]:.1f} s (allowed {allowed:.1f} s), "
                                     f"actions {actions[1]:.1f} s against {actions[0]:.1f} s")
                rows.append([name, f"{walls[0]:.2f}", f"{walls[1]:.2f}", f"{allowed:.2f}", f"{actions[0]:.2f}",
                             f"{actions[1]:.2f}", met])
                print(f"  {name:8} healthy {walls[0]:6.2f} s  hanging {walls[1]:6.2f} s  actions {actions[0]:.2f} s"
                      f" -> {actions[1]:.2f} s", flush=True)
        finally:
            hole.close()
            os.killpg(sink.pid, signal.SIGTERM)
            sink.wait(15)
            sandbox.stop()
        self.tables["receivers"] = rows


HEADERS = {  # also the parts of a run, in order
    "levels": ["run", "latency ms", "wall s", "requests", "tasks", "skipped", "CPU s", "floor s", "x floor", "goal",
               "met"],
    "recovery": ["run", "wall s, recovery 0 s (median of 3)", "wall s, recovery 30 s", "beyond 30 s", "allowed",
                 "met"],
    "fleet": ["environments", "wall s", "x one", "controller CPU s", "CPU s per env", "bare host-task ms",
              "CPU per env in bare host-tasks", "service CPU s", "requests per env", "met"],
    "cap": ["environments", "cap per s", "requests", "wall s", "busiest second", "allowed", "met"],
    "degraded": ["run", "wall s", "requests", "rc", "goal s", "met"],
    "receivers": ["run", "wall s, receivers healthy", "wall s, every receiver hanging", "allowed s",
                  "actions s, healthy", "actions s, hanging", "met"],
    "guarantees": ["Level 1 at 100 ms: the guarantee", "its phases s (median of 5)", "of the run's wall time",
                   "requests"],
}


def markdown(tables: dict[str, list[list[str]]]) -> str:
    parts = []
    for name, rows in tables.items():
        header = HEADERS[name]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        parts.append(f"<!-- bench:{name} -->\n" + "\n".join(lines) + f"\n<!-- /bench:{name} -->")
    return "\n\n".join(parts)


def machine() -> str:
    import ansible

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    return (f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
            f"ansible-core {ansible.__version__}, {platform.system()} {platform.release()}")


def write(path: Path, tables: dict[str, list[list[str]]], command: str) -> None:
    text = path.read_text()
    for name in tables:
        block = markdown({name: tables[name]})
        text = re.sub(rf"<!-- bench:{name} -->.*?<!-- /bench:{name} -->", lambda _m, b=block: b, text, flags=re.S)
    stamp = f"<!-- bench:machine -->{machine()}; last command `{command}`<!-- /bench:machine -->"
    text = re.sub(r"<!-- bench:machine -->.*?<!-- /bench:machine -->", lambda _m: stamp, text, flags=re.S)
    path.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="levels at 0 and 100 ms, degraded and receivers only")
    parser.add_argument("--write", type=Path, help="rewrite the tables between <!-- bench:NAME --> markers")
    parser.add_argument("--only", action="append", choices=list(HEADERS), help="run only these parts (repeatable)")
    args = parser.parse_args()
    parts = args.only or (["levels", "degraded", "receivers"] if args.short else list(HEADERS))
    with tempfile.TemporaryDirectory(prefix="hr-bench-") as tmp:
        bench = Bench(Path(tmp))
        if "levels" in parts:
            print("levels (wall time against the floor)", flush=True)
            bench.levels([0, 100])
        if "guarantees" in parts:
            print("guarantees (the phases of Level 1 at 100 ms that give each)", flush=True)
            bench.guarantees()
        if "recovery" in parts:
            print("recovery (the service healthy 30 s after the last action)", flush=True)
            bench.recovery()
        if "fleet" in parts:
            print(f"fleet (Level 2 on {', '.join(map(str, FLEET_SIZES))} environments, recovery 30 s)", flush=True)
            bench.fleet(FLEET_SIZES)
        if "cap" in parts:
            print(f"cap (Level 2 on {CAP_ENVIRONMENTS} environments behind one gateway, {CAP_RPS:g} requests/s)",
                  flush=True)
            bench.cap()
        if "degraded" in parts:
            print("degraded (Level 2, 20 % of calls answering 503, 500 ms on every call)", flush=True)
            bench.degraded()
        if "receivers" in parts:
            print(f"receivers (every level, receivers healthy, then all hanging; budget {NOTIFY_BUDGET:g} s)",
                  flush=True)
            bench.receivers()
    print()
    print(markdown(bench.tables))
    if args.write:
        write(args.write, bench.tables, " ".join(["python benchmarks/bench.py", *sys.argv[1:]]))
    if bench.failures:
        print("\nGoals missed or runs failed:", file=sys.stderr)
        for failure in bench.failures:
            print(f"- {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
