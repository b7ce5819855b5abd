"""Event-Driven Ansible for real: ansible-rulebook runs extensions/eda/rulebooks/auto_rollback.yml with the
collection's cloudwatch_triggers source against moto; an incident seeded in the sandbox leads to the right
rollback, and to no second one."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from test_auto_rollback import auto_vars, guard_records, start_incident

from hrtest import BIN, REPO, fast_rules, install_built_collection, plain, stop_process, wait_for

JAVA_HOME_DEFAULT = "/usr/lib/jvm/java-17-openjdk-amd64"


def java_home() -> str:
    home = os.environ.get("JAVA_HOME") or JAVA_HOME_DEFAULT
    if not (Path(home) / "bin" / "java").exists():
        pytest.fail(f"ansible-rulebook needs a JDK 17: none at {home}. Install openjdk-17-jre-headless and set "
                    "JAVA_HOME (see README).")
    return home


def rulebook_leads_to_one_rollback(runner, monitored, moto_server, tmp_path: Path, rulebook: str, cwd: Path,
                                   home: Path | None = None) -> None:
    runner.sandbox = monitored
    assert shutil.which("ansible-rulebook", path=str(BIN)), "ansible-rulebook is not installed (requirements-dev.txt)"
    inventory = runner.inventory(**auto_vars(monitored, moto_server), hybrid_routing_admin_token=monitored.token)
    variables = tmp_path / "eda-vars.yml"
    variables.write_text(yaml.safe_dump({
        "hybrid_routing_environment": monitored.environment, "hybrid_routing_aws_region": moto_server.REGION,
        "hybrid_routing_aws_endpoint_url": moto_server.url, "hybrid_routing_aws_access_key": "testing",
        "hybrid_routing_aws_secret_key": "moto-secret-4410", "hybrid_routing_trigger_rules": fast_rules(),
        "hybrid_routing_eda_hosts": "itest", "eda_trigger_interval_seconds": 2,
    }))
    start_incident(monitored, "flag")
    # What a user has: JAVA_HOME and .venv/bin on PATH. No ANSIBLE_CONFIG, no ANSIBLE_COLLECTIONS_PATH: the rulebook
    # runs the playbook by FQCN in a temporary project directory, where the repository's ansible.cfg does not apply.
    env = dict(os.environ, JAVA_HOME=java_home(), PATH=f"{BIN}:{os.environ['PATH']}",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"))
    for name in [name for name in env if name.startswith("ANSIBLE_") and name != "ANSIBLE_LOCAL_TEMP"]:
        del env[name]
    if home is not None:
        env["HOME"] = str(home)
    log = tmp_path / "rulebook.log"
    with open(log, "wb") as output:
        proc = subprocess.Popen([str(BIN / "ansible-rulebook"), "-r", rulebook, "-i", str(inventory),
                                 "--vars", str(variables)],
                                cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for(lambda: not monitored.flags()["hybrid_routing"] or proc.poll() is not None, timeout=120,
                     interval=0.5)
            assert proc.poll() is None, log.read_text()
            assert not monitored.flags()["hybrid_routing"], log.read_text()
            # The recovery takes a few evaluations; breaches seen meanwhile must not start a second rollback.
            wait_for(lambda: "PLAY RECAP" in log.read_text(), timeout=120, interval=0.5)
            time.sleep(10)
        finally:
            stop_process(proc)
    text = plain(log.read_text())
    flag_writes = [c for c in monitored.changes() if c["path"] == "/admin/feature-flags" and c["method"] == "PATCH"]
    assert len(flag_writes) == 1, text
    assert text.count("PLAY [Hybrid routing automatic rollback]") == 1, text
    assert re.search(r"itest\s+: ok=\d+\s+changed=\d+\s+unreachable=0\s+failed=0", text), text
    assert len(guard_records(moto_server, monitored.environment)) == 1
    assert monitored.get("/admin/routing")["mode"] == "hybrid"  # Level 1 was the right level
    assert "moto-secret-4410" not in text and monitored.token not in text


def test_an_incident_leads_to_one_rollback(runner, monitored, moto_server, tmp_path):
    """The rulebook of a clone, run from the clone as the README gives it."""
    rulebook_leads_to_one_rollback(runner, monitored, moto_server, tmp_path,
                                   "extensions/eda/rulebooks/auto_rollback.yml", REPO)


def test_the_installed_collection_rulebook_runs_by_fqcn(runner, monitored, moto_server, tmp_path):
    """The rulebook of the installed collection, by FQCN, from a directory with no clone, with a fresh HOME."""
    home, installed = install_built_collection(tmp_path)
    assert (installed / "extensions/eda/rulebooks/auto_rollback.yml").exists()
    rulebook_leads_to_one_rollback(runner, monitored, moto_server, tmp_path, "matbakh.hybrid_routing.auto_rollback",
                                   home, home)
