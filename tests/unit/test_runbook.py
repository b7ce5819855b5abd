"""docs/runbooks/production-hybrid-routing-rollback.md is true to the collection: every command it quotes runs a
playbook, inventory, script, scenario, variable or endpoint that exists, and every error message it quotes is text
the collection's code prints (`…` stands for the values of a run)."""

from __future__ import annotations

import ast
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
RUNBOOK = REPO / "docs" / "runbooks" / "production-hybrid-routing-rollback.md"
TEXT = RUNBOOK.read_text(encoding="utf-8")
DEFAULTS = yaml.safe_load((REPO / "roles" / "hybrid_routing" / "defaults" / "main.yml").read_text())


def commands() -> list[list[str]]:
    found = []
    for block in re.findall(r"```sh\n(.*?)```", TEXT, flags=re.S):
        for command in block.replace("\\\n", " ").splitlines():
            if command.strip() and not command.strip().startswith("#"):
                found.append(shlex.split(command.replace("$API_BASE", "API_BASE").replace("$ADMIN_TOKEN", "T"),
                                         comments=True))
    return found


def code_literals() -> set[str]:
    literals = set()
    for path in (REPO / "plugins").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                literals.add(node.value)
    return literals


def api_paths() -> set[str]:
    """The paths of the admin API contract (the sandbox's OpenAPI document)."""
    spec = json.loads(subprocess.run(
        [sys.executable, "-c", "import json, tempfile; from pathlib import Path; from sandbox.app import Settings, "
         "create_app; from sandbox.seed import DEFAULT_SEED, load_seed; from sandbox.faults import FaultConfig; "
         "app = create_app(Settings(token='t', state_dir=Path(tempfile.mkdtemp()), seed=load_seed(DEFAULT_SEED), "
         "faults=FaultConfig())); print(json.dumps(app.openapi()))"],
        cwd=REPO, capture_output=True, text=True, check=True).stdout)
    return set(spec["paths"])


def test_there_are_commands_for_every_level_cli_and_awx():
    playbooks = {word for command in commands() for word in command if word.startswith("playbooks/")}
    assert playbooks >= {"playbooks/rollback_level1.yml", "playbooks/rollback_level2.yml",
                         "playbooks/rollback_level3.yml", "playbooks/rollforward.yml", "playbooks/validate.yml"}
    for section in ("## Decision matrix", "### Dry run first", "## Verification", "## Post-rollback actions",
                    "## Troubleshooting", "## Contacts", "### Level 1", "### Level 2", "### Level 3",
                    "### Roll-forward"):
        assert section in TEXT
    assert TEXT.count("AWX: ") >= 4


def test_every_quoted_command_exists():
    paths = None
    for command in commands():
        env = [] if command[0] == "export" else [word for word in command if re.match(r"^[A-Z_]+=", word)]
        words = [word for word in command if word not in env]
        for assignment in env:
            name, value = assignment.split("=", 1)
            assert name == "DRILL_INVENTORY" and (REPO / value).is_dir(), assignment
        tool = words[0]
        if tool == "export":
            # The secrets a session needs, from the vault: names the modules fall back on (env_fallback).
            for assignment in words[1:]:
                name = assignment.split("=", 1)[0]
                assert name in code_literals(), f"no module reads {name}"
        elif tool == "ansible-playbook":
            assert (REPO / words[1]).is_file(), words[1]
            inventory = words[words.index("-i") + 1]
            assert (REPO / inventory).is_dir(), inventory
            for index, word in enumerate(words):
                if word == "-e":
                    value = words[index + 1]
                    names = json.loads(value) if value.startswith("{") else {value.split("=", 1)[0]: None}
                    assert set(names) <= set(DEFAULTS), names
        elif tool == "scripts/hybrid-routing-rollback.sh":
            assert (REPO / tool).is_file()
            args = [word for word in words[1:words.index("--")] if "--" in words] if "--" in words else words[1:]
            run = subprocess.run(["bash", str(REPO / tool), *args, "--", "--syntax-check"], cwd=REPO,
                                 capture_output=True, text=True, check=False)
            assert run.returncode == 0, run.stderr
        elif tool == "curl":
            paths = paths or api_paths()
            url = next(word for word in words if word.startswith("API_BASE"))
            assert url.removeprefix("API_BASE") in paths, url
        elif tool == "molecule":
            scenario = words[words.index("-s") + 1]
            assert (REPO / "extensions" / "molecule" / scenario / "molecule.yml").is_file(), scenario
            for index, word in enumerate(words):
                if word == "-e":
                    assert words[index + 1].split("=", 1)[0] in DEFAULTS, words[index + 1]
        else:
            raise AssertionError(f"the runbook quotes a command this test does not know: {command}")


def covered(fragment: str, corpus: str) -> bool:
    """Whether the fragment is a run of pieces of the code's string literals (an f-string's constant parts, or one
    message built from several: "Not authorized: " + the authorization's own message)."""
    start = 0
    while start < len(fragment):
        end = len(fragment)
        while end > start and fragment[start:end] not in corpus:
            end -= 1
        if end - start < 12 and end < len(fragment):
            return False
        start = end
    return True


def test_every_quoted_error_message_is_printed_by_the_code():
    corpus = "\0".join(code_literals())
    table = TEXT.split("## Troubleshooting", 1)[1].split("\n## ", 1)[0]
    messages = re.findall(r"^\| `([^`]+)` \|", table, flags=re.M)
    assert len(messages) >= 8
    for message in messages:
        for fragment in (part.strip(" ;:(),") for part in message.split("…")):
            if fragment:
                assert covered(fragment, corpus), (message, fragment)


def test_awx_names_match_the_awx_definitions():
    awx = REPO / "extensions" / "awx"
    names = set(re.findall(r"`(Hybrid routing [^`]+)`", TEXT))
    assert names, "the runbook names the AWX job templates"
    if awx.is_dir():
        defined = "\n".join(path.read_text() for path in awx.rglob("*.yml"))
        for name in names:
            assert name in defined, name


def test_the_seed_script_refuses_bad_input_before_running_anything():
    script = str(REPO / "scripts" / "hybrid-routing-rollback.sh")
    for args, message in ((["5"], "unknown argument '5'"), ([], "which level? 1, 2, 3 or forward"),
                          (["2", "--env", "nowhere"], "no inventory 'inventories/nowhere'"),
                          (["1", "2"], "one level only")):
        run = subprocess.run(["bash", script, *args], cwd=REPO, capture_output=True, text=True, check=False)
        assert run.returncode == 2 and message in run.stderr, (args, run.stderr)
        assert "ansible-playbook" not in run.stderr.split("usage:")[0]


# The decision matrices agree with the trigger rules (plugins/module_utils/_triggers.py, DEFAULT_RULES): one source.
# Each rule's threshold as docs/runbook.md words it, to find the row that names it.
RUNBOOK_PHRASES = {
    "emergency_latency": "emergency-operation latency > 10 s", "critical_latency": "critical-operation latency > 20 s",
    "error_rate": "System error rate > 10 %", "availability": "availability < 95 %",
    "gdpr_compliance": "GDPR compliance < 100 %", "security_score": "security score < 80/100",
    "pii_detection_failures": "PII detection failures > 5 %", "audit_trail_integrity": "audit trail integrity failure",
    "cost_overrun": "Cost overrun > 200 %", "cost_spike": "a spike > 500 %",
}


def _default_rules() -> list[dict]:
    from ansible_collections.matbakh.hybrid_routing.plugins.module_utils import _triggers

    return _triggers.default_rules()


def _table_rows(text: str, heading: str) -> list[list[str]]:
    section = text[text.index(heading):]
    table = re.search(r"((?:^\|.*\|\n)+)", section, flags=re.M).group(1)
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()[2:]]


def test_the_production_matrix_lists_each_level_with_exactly_its_trigger_rules():
    rows = {row[0].split(":")[0]: row for row in _table_rows(TEXT, "## Decision matrix")}
    for level in (1, 2, 3):
        expected = "; ".join(rule["description"] for rule in _default_rules() if rule["level"] == level)
        assert rows[str(level)][1] == expected, f"Level {level}: the matrix says {rows[str(level)][1]!r}"
    assert "dashboard" not in TEXT.lower(), "no CloudWatch dashboard exists to point at"


def test_the_design_matrix_puts_each_trigger_rule_at_its_level():
    text = (REPO / "docs" / "runbook.md").read_text(encoding="utf-8")
    rows = _table_rows(text, "## Which level? (decision matrix)")
    rules = _default_rules()
    assert set(RUNBOOK_PHRASES) == {rule["name"] for rule in rules}, "a rule without its phrase here"
    for rule in rules:
        (row,) = [row for row in rows if RUNBOOK_PHRASES[rule["name"]] in row[0]]
        assert int(row[1][0]) == rule["level"], f"{rule['name']}: docs/runbook.md says Level {row[1]}"
