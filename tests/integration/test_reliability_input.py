"""Reliability 4: bad input is refused before any write, with a message that names the one thing wrong
(issue 11). The refusal is read from the first failed task (the module that owns the rule): it must name the
expected variable and no other, and the sandbox's change log must stay empty."""

from __future__ import annotations

import os
import re
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hrtest import BIN, REPO, free_port, http
from reliability import LEVEL1, LEVEL2, LEVEL3, ROLLFORWARD, Case

# The inputs a refusal can name, as the inventory variable (hybrid_routing_X) or as the module option (X).
INPUTS = ("api_base", "admin_token", "validate_certs", "ca_path", "flags", "lock_ttl_seconds", "targets", "operator",
          "release_strategy", "release_target", "trigger_rules", "rules", "approver", "requester", "people", "level",
          "hosts", "environment", "state_dir", "target")
NAMED = re.compile(r"\b(?:hybrid_routing_)?(" + "|".join(INPUTS) + r")\b")
PEOPLE = {"alice": {"roles": ["on_call"]}, "bruno": {"roles": ["on_call"]}, "mark": {"roles": ["engineering_manager"]}}
BAD_RULES = [{"name": "error_rate", "metric": {"name": "ErrorRate", "statistic": "Average", "period": 60},
              "comparison": "bigger", "threshold": 5, "level": 1}]


class SelfSignedServer:
    """An HTTPS server with a self-signed certificate (the sink's), answering like the admin API would."""

    def __init__(self, state_dir: Path):
        sys.path.insert(0, str(REPO))
        from sandbox.sink import self_signed_context

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

        context: ssl.SSLContext = self_signed_context(state_dir)
        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# (case, playbook, inventory vars, extra args, token, text the refusal contains, the one input it names (with the
# other spelling of the same thing, e.g. the option that the variable feeds) or None)
CASES = [
    ("level out of range", LEVEL1, {}, ["-e", "hybrid_routing_level=4"], "default",
     "hybrid_routing_level must be one of: 1, 2, 3, got: 4", {"level"}),
    ("unknown environment (host pattern)", LEVEL1, {}, ["-e", "hybrid_routing_hosts=prdo"], "default",
     "Could not match supplied host pattern", None),
    ("missing api_base", LEVEL1, {"hybrid_routing_api_base": ""}, [], "default",
     "api_base is not set", {"api_base"}),
    ("malformed api_base", LEVEL1, {"hybrid_routing_api_base": "api.matbakh.app"}, [], "default",
     "is not a valid URL", {"api_base"}),
    ("missing token", LEVEL1, {}, [], None, "admin_token is not set", {"admin_token"}),
    ("empty token", LEVEL1, {"hybrid_routing_admin_token": ""}, [], "", "admin_token is not set", {"admin_token"}),
    ("wrong token", LEVEL1, {}, [], "not-the-token", "rejected the credentials", {"admin_token"}),
    ("TLS failure with validate_certs on", LEVEL1, {"hybrid_routing_validate_certs": True}, [], "default",
     "TLS verification failed", {"ca_path", "validate_certs"}),
    ("unknown flag", LEVEL1, {"hybrid_routing_flags": ["hybrid_routing", "hybrid_routnig"]}, [], "default",
     "Unknown feature flag(s): hybrid_routnig", {"flags"}),
    ("negative lock TTL", LEVEL1, {"hybrid_routing_lock_ttl_seconds": -5}, [], "default",
     "must be a positive number of seconds, got -5", {"lock_ttl_seconds"}),
    ("zero target", LEVEL1, {"hybrid_routing_targets": {"level1": 0, "level2": 300, "level3": 600,
                                                        "rollforward": 600}}, [], "default",
     "hybrid_routing_targets.level1 must be a positive number of seconds", {"targets"}),
    ("empty operator", LEVEL1, {"hybrid_routing_operator": " "}, [], "default", "set hybrid_routing_operator",
     {"operator"}),
    ("invalid release strategy", LEVEL3, {"hybrid_routing_release_strategy": "helm"}, [], "default",
     "helm", {"release_strategy"}),
    ("release target that does not exist", LEVEL3, {"hybrid_routing_release_target": "2024.13.99-9"}, [], "default",
     "Unknown release 2024.13.99-9 (option target)", {"release_target", "target"}),
    ("malformed trigger rules", "playbooks/auto_rollback.yml", {"hybrid_routing_trigger_rules": BAD_RULES,
                                                                "hybrid_routing_aws_region": "eu-central-1"},
     [], "default", "key 'comparison' must be one of", {"trigger_rules", "rules"}),
    ("approver without the role", LEVEL2, {"hybrid_routing_people": PEOPLE},
     ["-e", "hybrid_routing_requester=alice", "-e", "hybrid_routing_approver=bruno"], "default",
     "needs an approver with the role engineering_manager", {"approver"}),
]


def first_refusal(run) -> str:
    failed = [task for task in run.tasks if task["status"] == "failed"]
    return str(failed[0].get("msg", "")) if failed else " ".join(run.output.split())


@pytest.mark.reliability
@pytest.mark.parametrize("name, playbook, inventory_vars, args, token, expected, variable",
                         CASES, ids=[case[0].replace(" ", "-") for case in CASES])
def test_bad_input_is_refused_before_any_write_naming_one_thing(runner, api, tmp_path, name, playbook,
                                                                inventory_vars, args, token, expected, variable):
    case = Case("input", name)
    server = None
    if name.startswith("TLS"):
        server = SelfSignedServer(tmp_path)
        inventory_vars = dict(inventory_vars, hybrid_routing_api_base=server.url)
    try:
        run = runner.run(playbook, *args, token=token, inventory_vars=inventory_vars)
    finally:
        if server:
            server.stop()
    case.run(run.seconds, run.rc != 0)
    assert run.rc != 0, run.output
    assert "Traceback" not in run.output
    refusal = first_refusal(run)
    assert expected in refusal, refusal
    if variable:
        named = set(NAMED.findall(re.sub(r"https?://\S+", "", refusal)))  # not the words of a URL
        assert named and named <= variable, f"the refusal names {sorted(named)}, not just {variable}: {refusal}"
    assert api.changes() == [], "refused before any write"
    case.note = refusal[:160].replace("|", "/") + ("..." if len(refusal) > 160 else "")
    case.save()


@pytest.mark.reliability
def test_the_seed_script_refuses_an_unknown_environment():
    started = time.monotonic()
    proc = subprocess.run(["bash", "scripts/hybrid-routing-rollback.sh", "1", "--env", "prdo"], cwd=REPO,
                          capture_output=True, text=True, check=False)
    case = Case("input", "unknown environment (seed script --env)")
    case.run(time.monotonic() - started, proc.returncode != 0)
    assert proc.returncode == 2
    assert "no inventory 'inventories/prdo'" in proc.stderr and "prod" in proc.stderr
    case.note = proc.stderr.strip().splitlines()[0]
    case.save()


def test_the_seed_script_takes_an_environment_name_as_its_inventory(tmp_path):
    """`--env sandbox` is inventories/sandbox, though ./sandbox (the Python package) exists; a path only when it
    has a / in it. --list-hosts: ansible-playbook parses the inventory and lists its hosts, and acts on nothing."""
    def hosts(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "scripts/hybrid-routing-rollback.sh", "1", *args, "--", "--list-hosts"],
                              cwd=REPO, capture_output=True, text=True, check=False,
                              env=dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}"))

    by_name = hosts("--env", "sandbox")
    assert by_name.returncode == 0, by_name.stderr
    assert "-i inventories/sandbox" in by_name.stderr and "hosts (1):" in by_name.stdout, by_name.stdout
    assert "timeutil.py" not in by_name.stdout + by_name.stderr
    (tmp_path / "mine.yml").write_text("all:\n  hosts:\n    mine-eu:\n      ansible_connection: local\n")
    by_path = hosts("--env", str(tmp_path / "mine.yml"))
    assert by_path.returncode == 0, by_path.stderr
    assert "mine-eu" in by_path.stdout
    package = hosts("--env", "./sandbox/")  # a path: taken as written (and it is no inventory)
    assert "-i ./sandbox/" in package.stderr


@pytest.mark.reliability
def test_a_snapshot_of_another_environment_is_refused(runner, api):
    case = Case("input", "snapshot of another environment (roll-forward)")
    assert runner.run(LEVEL2).rc == 0
    snapshot = api.get("/admin/rollback/snapshot")["snapshot"]
    status, _body = http("PUT", f"{api.base}/admin/rollback/snapshot", api.token,
                         {"snapshot": dict(snapshot, environment="prod-eu")})
    assert status == 200
    writes = len(api.changes())
    run = runner.run(ROLLFORWARD)
    case.run(run.seconds, run.rc != 0)
    assert run.rc != 0
    refusal = first_refusal(run)
    assert "taken for environment 'prod-eu'" in refusal and "refusing to use it here" in refusal, refusal
    assert set(NAMED.findall(re.sub(r"https?://\S+", "", refusal))) == {"environment"}, refusal
    assert api.changes()[writes:] == [], "refused before any write"
    assert api.get("/admin/routing")["mode"] == "mcp_only"
    case.note = refusal[:160]
    case.save()
