"""Every shell command of the documentation runs, exactly as written (issue 17).

The fenced `sh`/`bash` blocks of README.md, docs/*.md, docs/runbooks/*.md, sandbox/README.md and
extensions/*/README.md are extracted and run, one document at a time, in order, in one shell session per document
(what a reader exports or assigns stays set for the next command, as in their terminal). The session is what a user
has after the README's set-up: `.venv/bin` first on PATH, a fresh HOME, and nothing else: no ANSIBLE_CONFIG, no
ANSIBLE_COLLECTIONS_PATH, no variable of the tests.

Where the documentation names a production environment (inventories/prod, inventories/staging), the command runs
against a stand-in: the session's directory is a view of this clone (every entry linked) whose inventories are
copies, each host pointed at a sandbox of its own (admin API, moto). The text of the command is unchanged.

Three lists say what is not run as is:
- PLACEHOLDERS: what the documentation leaves to the reader (a token, your inventory), and the value given here;
- NOT_RUN: what cannot run here, and why;
- RUN_BY: commands another test runs verbatim (the drills: their fixed ports allow one drill at a time).
A command that is in none of them runs; one that fails fails its document's test. So a new command in the docs
either runs or is listed.
Long-running commands (ansible-rulebook) are started as written, driven to their effect (an incident is started in
the service they watch, the rollback they run is awaited) and then stopped.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import test_drills
import yaml

from hrtest import REPO, SINK_SMTP_PASSWORD, Moto, Sandbox, Sink, http, plain, stop_process, wait_for

DOCUMENTS = ("README.md", "sandbox/README.md", *(str(path.relative_to(REPO)) for path in sorted(
    [*REPO.glob("docs/*.md"), *REPO.glob("docs/runbooks/*.md"), *REPO.glob("extensions/*/README.md")])))
SHELL_BLOCK = re.compile(r"^```(?:sh|bash|shell|console)\n(.*?)^```", re.M | re.S)
FIXED_SANDBOX = "http://127.0.0.1:18787"  # inventories/sandbox: what `python -m sandbox up` serves

# What the documentation leaves to the reader, and the value a test gives it ({name}: a value of the stand-ins).
PLACEHOLDERS = {
    "ADMIN_TOKEN=...": ("ADMIN_TOKEN={prod_token}", "the admin token of the environment acted on"),
    "SLACK_WEBHOOK_URL=...": ("SLACK_WEBHOOK_URL={slack_webhook}", "the incident channel's webhook (the sink's)"),
    "$API_BASE": ("{prod_base}", "the admin API of the environment (the runbook's curl checks)"),
    "my_inventory": ("{my_inventory}", "your inventory: one host and its own service, no people"),
    "my-eda-vars.yml": ("{eda_vars}", "your rulebook variables (extensions/eda/vars/sandbox.yml's, for prod)"),
}
# Commands that cannot run here, by their text without comments; the reason is the test's record of why.
NOT_RUN = {
    "bash scripts/test.sh": "the test command itself: it runs this test",
    ".venv/bin/python -m pytest tests/sandbox": "part of the test command: pytest collects tests/sandbox",
    "CONTROLLER_HOST=https://awx.example.com CONTROLLER_OAUTH_TOKEN=... ansible-playbook extensions/awx/configure.yml "
    "-e @vault/awx-secrets.yml": "needs an AWX controller (there is none here); test_awx.py checks every task of "
                                 "configure.yml against awx.awx's argument specs and runs the job templates",
}
# Commands another test runs exactly as written.
RUN_BY = {command: test_drills for command in test_drills.DOCUMENTED}
# Commands too slow for the test command: its document's `full` case runs them (bash scripts/test.sh --full).
LONG = {
    "bash scripts/demo.sh": "about 2.5 min, most of it the automatic rollback waiting for the metrics to show the "
                            "recovery; its steps run in the test command one by one (test_level1, test_auto_rollback)",
}


@dataclass
class Command:
    document: str
    line: int
    text: str  # as written, continuation lines joined

    @property
    def key(self) -> str:
        """The words, comments left out: how NOT_RUN and RUN_BY name a command."""
        return " ".join(shlex.split(self.text, comments=True))


def commands(document: str) -> list[Command]:
    text = (REPO / document).read_text(encoding="utf-8")
    found = []
    for block in SHELL_BLOCK.finditer(text):
        first_line = text[:block.start(1)].count("\n") + 1
        lines = block.group(1).splitlines()
        index = 0
        while index < len(lines):
            start = index
            joined = lines[index].strip()
            while joined.endswith("\\") and index + 1 < len(lines):
                index += 1
                joined = joined[:-1].rstrip() + " " + lines[index].strip()
            index += 1
            if joined and not joined.startswith("#"):
                found.append(Command(document, first_line + start, joined))
    return found


def test_every_listed_command_is_still_documented():
    """The lists name commands of the documentation, not commands that once were."""
    documented = {command.key for document in DOCUMENTS for command in commands(document)}
    assert set(NOT_RUN) <= documented, set(NOT_RUN) - documented
    assert set(LONG) <= documented, set(LONG) - documented
    text = " ".join(command.text for document in DOCUMENTS for command in commands(document))
    assert all(placeholder in text for placeholder in PLACEHOLDERS), "a placeholder no command uses any more"


@dataclass
class StandIns:
    """The sandboxes that stand in for the environments of inventories/prod and inventories/staging."""

    prod: Sandbox
    staging: Sandbox
    moto: Moto
    values: dict[str, str] = field(default_factory=dict)

    def of(self, command: str) -> Sandbox | None:
        if re.search(r"inventories/prod\b|--env prod\b", command):
            return self.prod
        if "inventories/staging" in command:
            return self.staging
        return None


def stand_in_tree(tmp_path: Path, prod: Sandbox, staging: Sandbox, moto: Moto) -> Path:
    """A view of this clone (every entry linked) whose inventories/{prod,staging} point at the stand-ins."""
    tree = tmp_path / "clone"
    tree.mkdir()
    for entry in REPO.iterdir():
        if entry.name not in {"inventories", ".sandbox", ".git"}:
            (tree / entry.name).symlink_to(entry)
    shutil.copytree(REPO / "inventories", tree / "inventories")
    for name, box in (("prod", prod), ("staging", staging)):
        hosts_file = tree / "inventories" / name / "hosts.yml"
        hosts = yaml.safe_load(hosts_file.read_text())
        for host in hosts["all"]["hosts"].values():
            host.update({"hybrid_routing_api_base": box.base, "hybrid_routing_aws_endpoint_url": moto.url,
                         "hybrid_routing_aws_region": moto.REGION, "hybrid_routing_aws_access_key": "testing",
                         "hybrid_routing_aws_secret_key": "testing"})
        hosts_file.write_text(yaml.safe_dump(hosts))
    return tree


class Session:
    """One reader's terminal: each command runs in bash in the clone; what it exports or sets stays for the next."""

    def __init__(self, tree: Path, home: Path, tmp: Path) -> None:
        self.tree = tree
        self.state = tmp / "session.env"
        self.env = {
            "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(home), "LANG": "C.UTF-8", "TMPDIR": str(tmp), "USER": os.environ.get("USER", "operator"),
        }
        self.background: list[subprocess.Popen] = []

    def run(self, text: str, timeout: float = 900) -> tuple[int, str]:
        script = f"set -a\n{text}\n__rc=$?\nenv -0 > {shlex.quote(str(self.state))}\nexit $__rc\n"
        done = subprocess.run(["bash", "-c", script], cwd=self.tree, env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=False)
        if self.state.exists():
            pairs = (item.split("=", 1) for item in self.state.read_text().split("\0") if "=" in item)
            self.env = {name: value for name, value in pairs if name not in {"_", "SHLVL", "OLDPWD", "__rc"}}
        return done.returncode, done.stdout + done.stderr

    def start(self, text: str, log: Path) -> subprocess.Popen:
        with open(log, "wb") as output:
            proc = subprocess.Popen(["bash", "-c", text], cwd=self.tree, env=self.env, stdout=output,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.background.append(proc)
        return proc


def fixed_sandbox_token(tree: Path) -> str:
    return (tree / ".sandbox" / "admin_token").read_text().strip()


def drive_rulebook(session: Session, command: str, stand_ins: StandIns, log: Path) -> str:
    """Start the rulebook as written, start an incident in the service it watches, wait for the rollback it runs
    to end, stop it. Returns its output."""
    if stand_ins.of(command) is stand_ins.prod:
        base, token = stand_ins.prod.base, stand_ins.prod.token
    else:
        base, token = FIXED_SANDBOX, fixed_sandbox_token(session.tree)
    status, body = http("PATCH", f"{base}/_sandbox/faults",
                        body={"incident": {"kind": "flag", "history_seconds": 3600}})
    assert status == 200, body
    proc = session.start(command, log)
    try:
        def flags_off() -> bool:
            flags = http("GET", f"{base}/admin/feature-flags", token)[1]["flags"]
            return not flags["hybrid_routing"]["enabled"] or proc.poll() is not None

        wait_for(flags_off, timeout=240, interval=1)
        assert proc.poll() is None, log.read_text()[-6000:]
        wait_for(lambda: "PLAY RECAP" in log.read_text() or proc.poll() is not None, timeout=400, interval=1)
        assert proc.poll() is None, log.read_text()[-6000:]
    finally:
        stop_process(proc)
    output = plain(log.read_text())
    recap = re.search(r"PLAY RECAP.*?ok=\d+\s+changed=\d+\s+unreachable=(\d+)\s+failed=(\d+)", output, re.S)
    assert recap and recap.groups() == ("0", "0"), output[-6000:]
    return output


def observe(stand_ins: StandIns, command: str) -> dict[str, Any]:
    box = stand_ins.of(command)
    return {"changes": len(box.changes()) if box else 0, "aliases": stand_ins.moto.aliases()}


def check_effect(command: Command, stand_ins: StandIns, before: dict[str, Any]) -> None:
    """What a rollback command must have done to the environment it names, read through the admin API."""
    box = stand_ins.of(command.text)
    played = re.search(r"playbooks/(rollback_level(\d)|rollforward)\.yml|hybrid-routing-rollback\.sh.* (\d) --env",
                       command.text)
    if box is None or not played:
        return
    dry = "--check" in command.text or "--dry-run" in command.text
    if dry:
        assert len(box.changes()) == before["changes"], f"{command.text}: a dry run wrote to the service"
        return
    flags = box.flags()
    level = int(played.group(2) or played.group(3) or 0)
    if played.group(1) == "rollforward":
        assert flags["hybrid_routing"] and box.get("/admin/routing")["mode"] == "hybrid", command.text
        return
    assert not flags["hybrid_routing"], f"{command.text}: the flags are still on"
    if level >= 2:
        assert box.get("/admin/routing")["mode"] == "mcp_only", f"{command.text}: traffic is not MCP-only"
    if level == 3 and "aws_lambda_alias" in command.text:
        assert stand_ins.moto.aliases() != before["aliases"], f"{command.text}: the Lambda aliases did not move"
    elif level == 3:
        reverted = [entry for entry in box.get("/admin/releases")["history"] if entry["action"] == "rollback"]
        assert reverted, f"{command.text}: the release did not move"


def uses_fixed_sandbox(document: str) -> bool:
    return any(re.search(r"sandbox up|inventories/sandbox|18787|demo\.sh", command.text)
               for command in commands(document))


@pytest.fixture
def fixed_ports(request: pytest.FixtureRequest) -> Iterator[None]:
    """inventories/sandbox's fixed ports (18787-18790) for one document at a time, across the test workers."""
    if not uses_fixed_sandbox(request.getfixturevalue("document")):
        yield
        return
    with open("/tmp/matbakh-hybrid-routing-fixed-sandbox.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            status = http("GET", f"{FIXED_SANDBOX}/health", timeout=1)[0]
        except OSError:
            status = None
        assert status is None, ("a sandbox already serves 127.0.0.1:18787 (yours?): the documented commands start "
                                "their own; stop it with `python -m sandbox down`")
        yield


def _cases() -> list[Any]:
    """Each document with commands; a document with LONG commands also as a `full` case that runs only those."""
    cases: list[Any] = []
    for document in DOCUMENTS:
        found = commands(document)
        if found:
            cases.append(pytest.param(document, False, id=document))
        if any(command.key in LONG for command in found):
            cases.append(pytest.param(document, True, id=f"{document}-long", marks=pytest.mark.full))
    return cases


@pytest.mark.parametrize(("document", "long_ones"), _cases())
@pytest.mark.usefixtures("fixed_ports")
def test_documented_commands_run_as_written(document: str, long_ones: bool, tmp_path: Path) -> None:
    moto = Moto(tmp_path)  # a CloudWatch of its own: the stand-in publishes as prod-eu, which no other test uses
    moto.seed()
    (tmp_path / "prod").mkdir()
    (tmp_path / "staging").mkdir()
    prod = Sandbox(tmp_path / "prod", ["--cloudwatch-endpoint", moto.url, "--aws-region", moto.REGION,
                                       "--environment", "prod-eu", "--metrics-interval", "1"])
    # One token for every stand-in: "ADMIN_TOKEN=..." is the token of whichever environment the reader acts on.
    staging = Sandbox(tmp_path / "staging", token=prod.token)
    (tmp_path / "mine").mkdir()
    mine = Sandbox(tmp_path / "mine", token=prod.token)  # the service of "your inventory" (the same token exported)
    (tmp_path / "sink").mkdir()
    sink = Sink(tmp_path / "sink", SINK_SMTP_PASSWORD)
    home = tmp_path / "home"
    home.mkdir()
    tree = stand_in_tree(tmp_path, prod, staging, moto)
    eda_vars = tmp_path / "my-eda-vars.yml"
    eda_vars.write_text(yaml.safe_dump({
        "hybrid_routing_environment": "prod-eu", "hybrid_routing_aws_region": moto.REGION,
        "hybrid_routing_aws_endpoint_url": moto.url, "hybrid_routing_aws_access_key": "testing",
        "hybrid_routing_aws_secret_key": "testing", "hybrid_routing_eda_hosts": "prod-eu",
        "eda_trigger_interval_seconds": 5}))
    my_inventory = tmp_path / "my_inventory.yml"
    my_inventory.write_text(yaml.safe_dump({"all": {"hosts": {"my-env": {
        "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        "hybrid_routing_api_base": mine.base}}}}))
    values = {"prod_token": prod.token, "prod_base": prod.base, "slack_webhook": f"{sink.base}/slack/webhook/T/B/doc",
              "eda_vars": str(eda_vars), "my_inventory": str(my_inventory)}
    stand_ins = StandIns(prod, staging, moto, values)
    session = Session(tree, home, tmp_path)
    ran: list[str] = []
    timings: dict[str, float] = {}
    try:
        for index, command in enumerate(commands(document)):
            where = f"{document}:{command.line}: {command.text}"
            if command.key in NOT_RUN:
                print(f"not run: {where} ({NOT_RUN[command.key]})")
                continue
            if command.key in RUN_BY:
                print(f"run by {RUN_BY[command.key].__name__}.py: {where}")
                continue
            if (command.key in LONG) != long_ones:
                if not long_ones:
                    print(f"run by the case {document}-long (--full): {where} ({LONG[command.key]})")
                continue
            text = command.text
            for placeholder, (value, _why) in PLACEHOLDERS.items():
                text = text.replace(placeholder, value.format(**stand_ins.values))
            before = observe(stand_ins, text)
            started = time.monotonic()
            if "ansible-rulebook" in command.key:
                output = drive_rulebook(session, text, stand_ins, tmp_path / f"rulebook-{index}.log")
                rc = 0
            else:
                rc, output = session.run(text)
            timings[f"line {command.line}"] = round(time.monotonic() - started, 1)
            print(f"{timings[f'line {command.line}']:6.1f}s  {where}")
            assert rc == 0, f"{where}\nexited {rc}:\n{output[-6000:]}"
            assert "Traceback (most recent call last)" not in output, f"{where}\n{output[-6000:]}"
            check_effect(Command(document, command.line, text), stand_ins, before)
            ran.append(command.text)
        print(f"{document}: ran {len(ran)} commands; seconds: {json.dumps(timings)}")
    finally:
        for proc in session.background:
            stop_process(proc)
        if (tree / ".sandbox").exists():
            session.run("python -m sandbox down", timeout=60)
        for box in (prod, staging, mine, sink):
            box.stop()
        moto.stop()
