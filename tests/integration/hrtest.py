"""Integration helpers: the real sandbox process and the real ansible-playbook."""

from __future__ import annotations

import configparser
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from testports import free_port

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
# HR_ANSIBLE_BIN runs the playbooks with another ansible-core (the 2.18 compatibility pass of scripts/test.sh).
BIN = Path(os.environ.get("HR_ANSIBLE_BIN") or Path(sys.executable).parent)


def _enabled_callbacks() -> list[str]:
    config = configparser.ConfigParser(interpolation=None)
    config.read(REPO / "ansible.cfg")
    return [name.strip() for name in config.get("defaults", "callbacks_enabled").split(",")]


# ANSIBLE_CALLBACKS_ENABLED replaces ansible.cfg's list: the repository's callbacks, and the test's own instrument.
CALLBACKS = ",".join(["task_record", *_enabled_callbacks()])


def http(method: str, url: str, token: str | None = None, body: Any = None, timeout: float = 10,
         headers: dict[str, str] | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json", **(headers or {})}
    data = json.dumps(body).encode() if body is not None else None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw) if raw else None


def stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM the process group a test started, SIGKILL it if it does not go."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


class Sandbox:
    """A `python -m sandbox api` process on a free loopback port."""

    def __init__(self, state_dir: Path, extra_args: list[str] | None = None, token: str | None = None):
        self.port = free_port()
        self.token = token or "itest-" + secrets.token_hex(12)
        self.base = f"http://127.0.0.1:{self.port}"
        self.state_dir = state_dir
        self.log = open(state_dir / "api.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "api", "--port", str(self.port), "--token", self.token,
             "--state-dir", str(state_dir), *(extra_args or [])],
            cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.wait_ready()

    def wait_ready(self, deadline: float = 20) -> None:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sandbox exited with {self.proc.returncode}; see {self.state_dir / 'api.log'}")
            try:
                if http("GET", f"{self.base}/health", timeout=1)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("sandbox did not answer /health in time")

    def get(self, path: str) -> Any:
        status, body = http("GET", self.base + path, self.token)
        assert status == 200, (path, status, body)
        return body

    def flags(self) -> dict[str, bool]:
        return {name: doc["enabled"] for name, doc in self.get("/admin/feature-flags")["flags"].items()}

    def changes(self) -> list[dict[str, Any]]:
        return self.get("/_sandbox/changes")["changes"]

    def reset(self) -> None:
        status, body = http("POST", f"{self.base}/_sandbox/reset")
        assert status == 200, body
        self.set_faults({})

    def set_faults(self, faults: dict[str, Any]) -> None:
        status, body = http("PUT", f"{self.base}/_sandbox/faults", body=faults)
        assert status == 200, body

    def patch_faults(self, faults: dict[str, Any]) -> None:
        """Only the keys given replace the live ones (a running incident stays)."""
        status, body = http("PATCH", f"{self.base}/_sandbox/faults", body=faults)
        assert status == 200, body

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()


@dataclass
class PlaybookRun:
    rc: int
    stdout: str
    stderr: str
    tasks: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def by_action(self, action: str) -> list[dict[str, Any]]:
        """Results of the tasks that ran this module (skipped ones left out)."""
        return [t for t in self.tasks if t["action"] == action and t["status"] != "skipped"]

    def changed_actions(self) -> list[str]:
        return [t["action"] for t in self.tasks if t["changed"]]

    def outcome(self) -> str | None:
        """The outcome of the run's report (rollback_report: what the custom stat carries), or None."""
        reports = [t["report"] for t in self.by_action("matbakh.hybrid_routing.rollback_report") if "report" in t]
        return reports[-1]["outcome"] if reports else None

    def phase_seconds(self, phase: str) -> float:
        """Seconds of one phase of the run, as the closing summary reports them."""
        match = re.search(rf"{phase}\s+([\d.]+)s", self.stdout)
        assert match, self.stdout
        return float(match.group(1))


@dataclass
class Runner:
    tmp_path: Path
    sandbox: Sandbox
    host_vars: dict[str, Any] = field(default_factory=dict)
    runs: int = 0

    @property
    def state_dir(self) -> Path:
        return self.tmp_path / "state"

    def inventory(self, **overrides: Any) -> Path:
        host = {
            "ansible_connection": "local",
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "hybrid_routing_api_base": self.sandbox.base,
            "hybrid_routing_validate_certs": False,
            "hybrid_routing_state_dir": str(self.state_dir),
            "hybrid_routing_operator": "itest-operator",
        }
        host.update(self.host_vars)
        host.update(overrides)
        path = self.tmp_path / f"inventory-{self.runs}.yml"
        path.write_text(yaml.safe_dump({"all": {"hosts": {"itest": host}}}))
        return path

    def _prepare(self, playbook: str, args: tuple[str, ...], env: dict[str, str] | None, token: str | None,
                 inventory_vars: dict[str, Any] | None, inventory: Path | None = None
                 ) -> tuple[list[str], dict[str, str], Path]:
        self.runs += 1
        record = self.tmp_path / f"tasks-{self.runs}.jsonl"
        full_env = dict(os.environ)
        # Nor an ANSIBLE_CONFIG or collections path the developer's shell may carry: a user has neither.
        for name in ("ADMIN_TOKEN", "SLACK_WEBHOOK_URL", "API_BASE", "ANSIBLE_CONFIG", "ANSIBLE_COLLECTIONS_PATH",
                     "ANSIBLE_COLLECTIONS_PATHS"):
            full_env.pop(name, None)
        full_env.update({
            "PATH": f"{BIN}:{full_env.get('PATH', '')}",
            # No ANSIBLE_CONFIG and no ANSIBLE_COLLECTIONS_PATH: a user has neither. The run starts in the
            # repository root, so its ansible.cfg applies as it does for a user, and the collection is found where
            # scripts/setup.sh linked it (.venv's site-packages). The callbacks below are the test's instruments.
            "ANSIBLE_CALLBACK_PLUGINS": str(HERE / "callback_plugins"),
            "ANSIBLE_CALLBACKS_ENABLED": CALLBACKS,
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_LOCAL_TEMP": str(self.tmp_path / "ansible-tmp"),
            "HR_TASK_RECORD": str(record),
        })
        if token == "default":
            full_env["ADMIN_TOKEN"] = self.sandbox.token
        elif token:
            full_env["ADMIN_TOKEN"] = token
        full_env.update(env or {})
        inventory = inventory or self.inventory(**(inventory_vars or {}))
        # The playbook as a user names it: relative to the repository root (the run's directory), or by FQCN.
        cmd = [str(BIN / "ansible-playbook"), str(playbook), "-i", str(inventory), *args]
        return cmd, full_env, record

    def run(self, playbook: str, *args: str, env: dict[str, str] | None = None, token: str | None = "default",
            inventory_vars: dict[str, Any] | None = None, timeout: float = 300,
            inventory: Path | None = None, cwd: Path = REPO) -> PlaybookRun:
        cmd, full_env, record = self._prepare(playbook, args, env, token, inventory_vars, inventory)
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout,
                              check=False)
        return self._result(proc.returncode, proc.stdout, proc.stderr, record, time.monotonic() - started)

    def start(self, playbook: str, *args: str, inventory_vars: dict[str, Any] | None = None,
              env: dict[str, str] | None = None) -> tuple[subprocess.Popen, Path, float]:
        """Start ansible-playbook in its own process group (so a test can kill it) without waiting."""
        cmd, full_env, record = self._prepare(playbook, args, env, "default", inventory_vars)
        proc = subprocess.Popen(cmd, cwd=REPO, env=full_env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        return proc, record, time.monotonic()

    def finish(self, started: tuple[subprocess.Popen, Path, float], timeout: float = 300) -> PlaybookRun:
        proc, record, began = started
        stdout, stderr = proc.communicate(timeout=timeout)
        return self._result(proc.returncode, stdout, stderr, record, time.monotonic() - began)

    def finish_all(self, started: list[tuple[subprocess.Popen, Path, float]], timeout: float = 300
                   ) -> list[PlaybookRun]:
        """Wait for runs started together; each one's seconds end when it ended, not when it was collected."""
        ended: dict[int, float] = {}
        deadline = time.monotonic() + timeout
        while len(ended) < len(started) and time.monotonic() < deadline:
            for index, (proc, _record, _began) in enumerate(started):
                if index not in ended and proc.poll() is not None:
                    ended[index] = time.monotonic()
            time.sleep(0.02)
        runs = []
        for index, (proc, record, began) in enumerate(started):
            stdout, stderr = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            runs.append(self._result(proc.returncode, stdout, stderr, record, ended.get(index, time.monotonic())
                                     - began))
        return runs

    @staticmethod
    def _result(rc: int, stdout: str, stderr: str, record: Path, seconds: float) -> PlaybookRun:
        tasks = [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []
        return PlaybookRun(rc, stdout, stderr, tasks, seconds)


def plain(text: str) -> str:
    """Text without the terminal's colour codes (ansible-rulebook colours the playbook output it relays)."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def install_built_collection(tmp_path: Path) -> tuple[Path, Path]:
    """Build the collection and install it as its user does: `ansible-galaxy collection install TARBALL` into a
    fresh HOME's ~/.ansible/collections. Returns that HOME and the installed tree."""
    home = tmp_path / "home"
    home.mkdir()
    build = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", str(REPO), "--output-path",
                            str(tmp_path)], capture_output=True, text=True, check=False)
    assert build.returncode == 0, build.stderr
    tarball = next(tmp_path.glob("matbakh-hybrid_routing-*.tar.gz"))
    # --no-deps: Galaxy is out of reach here; amazon.aws (playbooks/alarms.yml only) comes with the `ansible` package.
    # --force: this virtualenv already holds the checkout (scripts/setup.sh); a user's has no copy at all.
    install = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", str(tarball), "--no-deps",
                              "--force"], capture_output=True, text=True, cwd=home,
                             env=dict(os.environ, HOME=str(home)), check=False)
    assert install.returncode == 0, install.stderr
    return home, home / ".ansible/collections/ansible_collections/matbakh/hybrid_routing"


def wait_for(condition: Any, timeout: float = 60, interval: float = 0.05) -> Any:
    """Poll condition() until it returns something truthy; fail the test at the deadline."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


class Moto:
    """moto in server mode on a free loopback port, seeded by `python -m sandbox aws-seed`."""

    REGION = "eu-central-1"
    FUNCTIONS = ("hybrid-router", "mcp-gateway")

    def __init__(self, log_dir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(log_dir / "moto.log", "ab")  # noqa: SIM115 - lives as long as the process
        # moto's recorder writes every request it serves here: what the tests count AWS calls with.
        self.recording = log_dir / "moto-recording.jsonl"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
            env=dict(os.environ, MOTO_RECORDER_FILEPATH=str(self.recording)),
        )
        end = time.monotonic() + 30
        while time.monotonic() < end:
            try:
                if http("GET", f"{self.url}/moto-api/data.json", timeout=1)[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("moto did not start")
        self.seed()
        self.start_recording()

    def seed(self) -> None:
        """(Re)create the functions with versions 1-3 and alias live -> 3."""
        done = subprocess.run([sys.executable, "-m", "sandbox", "aws-seed", "--endpoint-url", self.url, "--region",
                               self.REGION], cwd=REPO, capture_output=True, text=True, check=False)
        # The seed's own words on failure: a bare CalledProcessError says nothing of what moto answered.
        assert done.returncode == 0, f"aws-seed failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"

    def start_recording(self) -> None:
        request = urllib.request.Request(f"{self.url}/moto-api/recorder/start-recording", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:  # answers in plain text
            assert response.status == 200

    def mark(self) -> int:
        """A point in moto's recording: count calls after it with calls()."""
        return len(self.recording.read_text().splitlines()) if self.recording.exists() else 0

    def calls(self, action: str, since: int = 0) -> int:
        """How many requests for an AWS action (GetMetricData, PutMetricData, ...) moto served after `since`."""
        count = 0
        lines = self.recording.read_text().splitlines() if self.recording.exists() else []
        for line in lines[since:]:
            entry = json.loads(line)
            target = entry.get("headers", {}).get("X-Amz-Target", "")
            url = entry.get("url", "")
            if (target.endswith(f".{action}") or url.endswith(f"/operation/{action}")
                    or f"Action={action}&" in f"{entry.get('body', '')}&"):
                count += 1
        return count

    def cloudwatch(self) -> Any:
        import boto3

        return boto3.client("cloudwatch", endpoint_url=self.url, region_name=self.REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def client(self) -> Any:
        import boto3

        return boto3.client("lambda", endpoint_url=self.url, region_name=self.REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def aliases(self) -> dict[str, str]:
        client = self.client()
        return {name: client.get_alias(FunctionName=name, Name="live")["FunctionVersion"] for name in self.FUNCTIONS}

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()


# -- CloudWatch helpers of the trigger, auto-rollback, audit and EDA tests -----------------------------------------

TEST_AWS_SECRET = "moto-secret-4410"  # moto accepts any credentials; the tests check it never shows


def fast_rules() -> list[dict[str, Any]]:
    """The default rules with 10 s periods: the same rules, on a clock a test can wait for."""
    from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._triggers import default_rules

    rules = default_rules()
    for rule in rules:
        rule["metric"]["period"] = 10
    return rules


def aws_vars(moto: Moto) -> dict[str, Any]:
    return {"hybrid_routing_aws_endpoint_url": moto.url, "hybrid_routing_aws_region": moto.REGION,
            "hybrid_routing_aws_access_key": "testing", "hybrid_routing_aws_secret_key": TEST_AWS_SECRET}


# The sink's SMTP password: a marker that must never appear anywhere but in the SMTP login.
SINK_SMTP_PASSWORD = f"SECRETsmtp{secrets.token_hex(6)}"


class Sink:
    """`python -m sandbox sink`: Slack, PagerDuty, status page and SMTP (STARTTLS + login) on free loopback ports,
    recording what each receiver got."""

    SMTP_USER = "rollback-bot"

    def __init__(self, state_dir: Path, smtp_password: str):
        self.port, self.smtp_port = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.state_dir = state_dir
        self.log = open(state_dir / "sink.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "sink", "--port", str(self.port), "--smtp-port", str(self.smtp_port),
             "--smtp-username", self.SMTP_USER, "--state-dir", str(state_dir)],
            cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
            env=dict(os.environ, SINK_SMTP_PASSWORD=smtp_password),
        )
        wait_for(self._ready, timeout=20)

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"sink exited with {self.proc.returncode}; see {self.state_dir / 'sink.log'}")
        try:
            return http("GET", f"{self.base}/health", timeout=1)[0] == 200
        except OSError:
            return False

    def get(self, what: str) -> Any:
        status, body = http("GET", f"{self.base}/_sink/{what}")
        assert status == 200, body
        return body.get(what, body)

    def requests(self, prefix: str = "") -> list[dict[str, Any]]:
        return [item for item in self.get("requests") if item["path"].startswith(prefix)]

    def reset(self) -> None:
        assert http("DELETE", f"{self.base}/_sink/requests")[0] == 200

    def fail(self, prefix: str, status: int, times: int, retry_after: float | None = None) -> None:
        fault: dict[str, Any] = {"status": status, "times": times}
        if retry_after is not None:
            fault["retry_after"] = retry_after
        self.fault(prefix, **fault)

    def fault(self, prefix: str, **fault: Any) -> None:
        """Any fault of the sink's (status, retry_after, hang, delay; "smtp" for the SMTP server); every request."""
        fault.setdefault("times", -1)
        assert http("PUT", f"{self.base}/_sink/faults", body={prefix: fault})[0] == 200

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()


class StagingStandIn(Sandbox):
    """A second sandbox standing in for staging, set up unlike the seed (a flag off, other weights), so that "as
    the drill found it" cannot pass by chance; with inventories/staging's variables pointed at it."""

    def __init__(self, state_dir: Path, flag_off: str, weights: dict[str, int]):
        state_dir.mkdir(parents=True, exist_ok=True)
        super().__init__(state_dir)
        assert http("PATCH", f"{self.base}/admin/feature-flags", self.token, {"flags": {flag_off: False}})[0] == 200
        status, body = http("PUT", f"{self.base}/admin/routing", self.token, {"mode": "hybrid", "weights": weights})
        assert status == 200, body

    def as_found(self) -> dict[str, Any]:
        routing = self.get("/admin/routing")
        return {"flags": self.flags(), "routing": {key: routing[key] for key in ("mode", "weights")},
                "release": self.get("/admin/releases")["current"]}

    def inventory_vars(self, moto: Moto) -> dict[str, Any]:
        """inventories/staging's group variables, its API and AWS pointed at the stand-ins (this sandbox, moto)."""
        source = REPO / "inventories" / "staging" / "group_vars" / "all.yml"
        variables = yaml.safe_load(source.read_text())
        variables.update(aws_vars(moto), hybrid_routing_api_base=self.base, hybrid_routing_validate_certs=False)
        return variables


class Fleet:
    """One sandbox per environment, all with one admin token, and an inventory naming them env0..envN-1."""

    def __init__(self, tmp_path: Path, count: int):
        self.token = "fleet-" + secrets.token_hex(12)
        self.tmp_path = tmp_path
        self.boxes: list[Sandbox] = []
        for index in range(count):
            state = tmp_path / f"sandbox-{index}"
            state.mkdir()
            self.boxes.append(Sandbox(state, token=self.token))
        self.names = [f"env{index}" for index in range(count)]

    def inventory(self, **common: Any) -> Path:
        hosts = {
            name: {"hybrid_routing_api_base": box.base, "hybrid_routing_environment": name}
            for name, box in zip(self.names, self.boxes, strict=True)
        }
        group = {
            "ansible_connection": "local",
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "hybrid_routing_validate_certs": False,
            "hybrid_routing_state_dir": str(self.tmp_path / "state"),
            "hybrid_routing_operator": "fleet-operator",
            **common,
        }
        path = self.tmp_path / f"fleet-{secrets.token_hex(3)}.yml"
        path.write_text(yaml.safe_dump({"all": {"vars": group, "hosts": hosts}}))
        return path

    def stop(self) -> None:
        for box in self.boxes:
            box.stop()
