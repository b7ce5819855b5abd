"""Level 1 end to end: the real ansible-playbook against the real sandbox, verified through the API."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from hrtest import BIN, REPO, free_port, http, install_built_collection

PLAYBOOK = "playbooks/rollback_level1.yml"
HYBRID_FLAGS = {"hybrid_routing", "direct_bedrock", "intelligent_routing", "bedrock_support_mode"}


def service_writes(api) -> list[dict]:
    return [c for c in api.changes() if not c["path"].startswith("/admin/locks")]


def assert_clean_failure(run, api, *fragments: str) -> None:
    assert run.rc != 0
    for fragment in fragments:
        assert fragment in run.output, run.output
    assert "Traceback" not in run.output
    assert api.changes() == [], "a failed preflight must not write anything"
    assert all(api.flags()[name] for name in HYBRID_FLAGS)


def test_level1_check_real_check_real(runner, api):
    # 1. dry run: zero writes, a clear list of what would change
    dry = runner.run(PLAYBOOK, "--check", "--diff")
    assert dry.rc == 0, dry.output
    assert api.changes() == []
    for name in HYBRID_FLAGS:
        assert re.search(rf'-\s+"?{name}"?: true', dry.stdout), f"diff misses {name}:\n{dry.stdout}"
    assert "DRY RUN" in dry.stdout
    assert not (runner.state_dir / "itest" / "snapshot.json").exists()
    assert "[WARNING]" not in dry.output, "a dry run writes nothing and warns about nothing it did not write"
    assert not list((runner.state_dir / "itest").glob("reports/*")), dry.output

    # 2. real run
    real = runner.run(PLAYBOOK)
    assert real.rc == 0, real.output
    flags = api.flags()
    assert all(flags[name] is False for name in HYBRID_FLAGS)
    assert flags["pii_redaction"] is True and flags["audit_trail"] is True
    flag_writes = [c for c in api.changes() if c["path"] == "/admin/feature-flags"]
    assert len(flag_writes) == 1 and flag_writes[0]["method"] == "PATCH"
    assert flag_writes[0]["rollback_id"].startswith("rb-")
    assert api.get("/admin/locks/rollback")["held"] is False
    snapshot = json.loads((runner.state_dir / "itest" / "snapshot.json").read_text())
    assert all(snapshot["flags"][name] for name in HYBRID_FLAGS)
    summary = re.search(r"Level 1 rollback \(feature flags\) of itest: done in ([\d.]+)s \(target 120s\)", real.stdout)
    assert summary, real.stdout
    assert float(summary.group(1)) < 120
    assert re.search(r"Phases:\s+preflight [\d.]+s,\s+lock [\d.]+s,\s+snapshot [\d.]+s,\s+actions [\d.]+s,\s+verify",
                     real.stdout), real.stdout
    assert real.outcome() == "success"
    # The terminal holds what a person reads: the summary, not the custom stat (AWX's artifact, test_awx.py).
    assert "CUSTOM STATS" not in real.stdout and '"hybrid_routing_rollback"' not in real.stdout
    longest = max(real.stdout.splitlines(), key=len)
    print(f"longest console line: {len(longest)} characters")
    assert len(longest) < 400, longest

    # 3. dry run again: nothing left to change in the service
    writes_before = len(api.changes())
    dry2 = runner.run(PLAYBOOK, "--check", "--diff")
    assert dry2.rc == 0, dry2.output
    assert len(api.changes()) == writes_before
    assert dry2.changed_actions() == []

    # 4. real run again: nothing changes (the lock's acquire/release, the audit record and the report are bookkeeping)
    again = runner.run(PLAYBOOK)
    assert again.rc == 0, again.output
    assert again.changed_actions() == [], "the lease, the audit record and the report are bookkeeping, not changes"
    assert re.search(r"itest\s+: ok=\d+\s+changed=0 ", again.stdout), again.stdout
    # the preflight runs feature_flags in check mode (inside rollback_start's step), then the action runs it for
    # real: neither changes anything
    (start,) = again.by_action("matbakh.hybrid_routing.rollback_start")
    assert start["preflight"]["checks"]["flags"]["changed"] is False
    assert [t["changed"] for t in again.by_action("matbakh.hybrid_routing.feature_flags")] == [False]
    # The snapshot of the same incident is kept, not taken again (rollback_start's step takes it).
    assert start["snapshot"]["changed"] is False and start["changed"] is False
    new = api.changes()[writes_before:]
    lock_only = {("POST", "/admin/locks/rollback"), ("DELETE", "/admin/locks/rollback")}
    assert {(c["method"], c["path"]) for c in new} == lock_only


def test_wrong_token_fails_clearly_and_writes_nothing(runner, api):
    run = runner.run(PLAYBOOK, token="not-the-token")
    assert_clean_failure(run, api, "rejected the credentials", "ADMIN_TOKEN")


def test_missing_token_fails_clearly(runner, api):
    run = runner.run(PLAYBOOK, token=None)
    assert_clean_failure(run, api, "admin_token is not set", "hybrid_routing_admin_token")


def test_unreachable_api_fails_clearly(runner, api):
    port = free_port()
    run = runner.run(PLAYBOOK, inventory_vars={"hybrid_routing_api_base": f"http://127.0.0.1:{port}"})
    assert_clean_failure(run, api, f"Cannot reach the hybrid routing admin API at http://127.0.0.1:{port}",
                         "connection refused")


def test_malformed_api_base_fails_clearly(runner, api):
    run = runner.run(PLAYBOOK, inventory_vars={"hybrid_routing_api_base": "api.matbakh.app"})
    assert_clean_failure(run, api, "api_base 'api.matbakh.app' is not a valid URL", "hybrid_routing_api_base")


def test_unknown_flag_fails_before_any_write(runner, api):
    flags = [*sorted(HYBRID_FLAGS), "hybrid_routnig"]
    run = runner.run(PLAYBOOK, inventory_vars={"hybrid_routing_flags": flags})
    assert_clean_failure(run, api, "Unknown feature flag(s): hybrid_routnig", "hybrid_routing_flags")


def test_lock_held_by_someone_else_fails_at_once(runner, api):
    lease = {"holder": "bob", "reason": "investigating", "ttl_seconds": 600, "takeover": False}
    status, _body = http("POST", f"{api.base}/admin/locks/rollback", api.token, lease)
    assert status == 201
    run = runner.run(PLAYBOOK)
    assert run.rc != 0
    assert "held by bob since" in run.output and "investigating" in run.output
    assert all(api.flags()[name] for name in HYBRID_FLAGS)
    assert api.get("/admin/locks/rollback")["holder"] == "bob"
    assert [c["path"] for c in api.changes()] == ["/admin/locks/rollback"]


def test_token_and_webhook_never_shown_even_at_vvv(runner, api):
    receiver = SlackReceiver()
    try:
        secret_path = "/services/T0SECRET/B0SECRET/webhookSECRETpart"
        run = runner.run(PLAYBOOK, "-vvv", inventory_vars={
            "hybrid_routing_admin_token": api.token,
            "hybrid_routing_slack_webhook_url": receiver.base + secret_path,
        }, token=None)
    finally:
        receiver.stop()
    assert run.rc == 0, run.output
    assert api.token not in run.output
    assert "webhookSECRETpart" not in run.output and "T0SECRET" not in run.output
    assert len(receiver.messages) == 1
    message = receiver.messages[0]
    assert receiver.paths == [secret_path]
    assert "Level 1 rollback" in message["text"] and "itest" in message["text"]
    assert api.token not in json.dumps(message)


def test_webhook_from_the_environment_is_used(runner, api):
    receiver = SlackReceiver()
    try:
        run = runner.run(PLAYBOOK, env={"SLACK_WEBHOOK_URL": receiver.base + "/services/T1/B1/envSECRET"})
    finally:
        receiver.stop()
    assert run.rc == 0, run.output
    assert len(receiver.messages) == 1 and "Level 1 rollback" in receiver.messages[0]["text"]
    assert "envSECRET" not in run.output


def test_nobody_to_tell_costs_no_step(runner, api):
    run = runner.run(PLAYBOOK)
    assert run.rc == 0, run.output
    assert run.by_action("matbakh.hybrid_routing.rollback_notify") == [], "no receiver configured: notify is skipped"


def test_notification_failure_does_not_fail_the_rollback(runner, api):
    port = free_port()
    run = runner.run(PLAYBOOK, inventory_vars={"hybrid_routing_slack_webhook_url": f"http://127.0.0.1:{port}/x/SECRET"})
    assert run.rc == 0, run.output
    output = " ".join(run.output.split())
    assert "Notifications: 0 of 1 sent; slack message to incoming webhook FAILED: Cannot reach the Slack webhook at " \
        "http://127.0.0.1/<redacted>: connection refused" in output
    assert "SECRET" not in run.output


def test_verification_waits_for_real_recovery(runner, api):
    api.set_faults({"recover_after_seconds": 2})
    run = runner.run(PLAYBOOK)
    assert run.rc == 0, run.output
    health = api.get("/health")
    assert health["status"] == "healthy"
    # The clock starts at the flag write, just before verification: it waits about the rest, plus at most one
    # poll and the module's start, not longer.
    assert run.seconds >= 2.0
    assert 1.0 <= run.phase_seconds("verify") <= 2.0 + 1.5, run.stdout


def test_verification_deadline_fails_and_still_unlocks(runner, api):
    api.set_faults({"health_status": "unhealthy"})
    run = runner.run(PLAYBOOK, inventory_vars={"hybrid_routing_verify_timeout_seconds": 2})
    assert run.rc != 0
    assert "did not become healthy within 2s" in run.output
    assert "FAILED" in run.output
    assert api.get("/admin/locks/rollback")["held"] is False


def test_runs_by_fqcn_from_the_built_collection(tmp_path, runner, api):
    """As a user of the built collection runs it: installed where ansible-galaxy puts it by default (the user's
    ~/.ansible/collections), run by FQCN from a directory with no clone and no ansible.cfg, nothing else set."""
    home, installed_tree = install_built_collection(tmp_path)
    assert (installed_tree / "playbooks/rollback_level1.yml").exists()
    assert not (installed_tree / "sandbox").exists() and not (installed_tree / "tests").exists()
    assert not (installed_tree / "inventories").exists(), "example inventories name real endpoints"
    # The installed copy is the one Ansible finds first on the default collections path, before this checkout's
    # link in .venv (ansible-galaxy collection list sorts its paths by name, so ask ansible-doc where it found it).
    found = subprocess.run([str(BIN / "ansible-doc"), "-t", "role", "matbakh.hybrid_routing.flag_disable"],
                           capture_output=True, text=True, cwd=home, env=dict(os.environ, HOME=str(home)),
                           check=False).stdout.splitlines()[0]
    assert f"({installed_tree})" in found, found
    run = runner.run("matbakh.hybrid_routing.rollback_level1", env={"HOME": str(home)}, cwd=home)
    assert run.rc == 0, run.output
    assert not any(api.flags()[name] for name in HYBRID_FLAGS)


class SlackReceiver:
    """A local stand-in for Slack's incoming webhook: records JSON posts, answers 200 'ok'."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                receiver.messages.append(json.loads(self.rfile.read(length)))
                receiver.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize("removed, instead", [("slack_notify", "rollback_notify (option slack_webhook_url)"),
                                              ("rollback_authorize", "rollback_start (option authorization)")])
def test_a_removed_module_says_what_replaces_it(removed, instead):
    run = subprocess.run([str(BIN / "ansible"), "localhost", "-m", f"matbakh.hybrid_routing.{removed}"],
                         capture_output=True, text=True, cwd=REPO, check=False)
    text = " ".join((run.stdout + run.stderr).split())
    assert run.returncode != 0 and "has been removed" in text and instead in text, text


def test_a_laptop_keeps_its_records_under_its_home(tmp_path, runner, api):
    """With no records bucket and no hybrid_routing_state_dir (the embedded default, ~/.local/state/...), the audit
    trail, the snapshot, the incident report and the run's log go under the user's home, not a literal ./~ in the
    directory the run started from."""
    home = tmp_path / "home"
    home.mkdir()
    inventory = runner.inventory()
    host = yaml.safe_load(inventory.read_text())
    del host["all"]["hosts"]["itest"]["hybrid_routing_state_dir"]
    inventory.write_text(yaml.safe_dump(host))
    stray = REPO / "~"
    assert not stray.exists(), "a literal ~ is already in the repository; remove it first"
    real = runner.run(PLAYBOOK, inventory=inventory, env={"HOME": str(home)})
    assert real.rc == 0, real.output
    kept = home / ".local" / "state" / "matbakh.hybrid_routing" / "itest"
    (report,) = kept.glob("reports/rb-*.md")
    assert report.with_suffix(".log").is_file(), sorted(p.name for p in kept.rglob("*"))
    assert (kept / "audit.jsonl").is_file() and (kept / "snapshot.json").is_file()
    assert not stray.exists(), "the records went to ./~ instead of the home directory"
