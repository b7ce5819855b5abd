"""AWX as code (extensions/awx), checked as far as AWX can be had offline, then run the way AWX runs it.

1. configure.yml's awx.awx tasks, rendered as Ansible would render them, validate against the argument specs of
   the awx.awx modules themselves; the surveys and the credential type follow the rules AWX applies on save.
2. Each job template's playbook runs through ansible-runner (AWX's engine) with a private data dir: the survey
   answers as extravars, the credential type's injected environment variables and extra vars, the inventory;
   the outcome AWX keeps (the custom stat in the stats event) and the service's state are checked.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from hrtest import REPO, aws_vars

AWX = REPO / "extensions" / "awx"
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}
FIELD_TYPES = {"string", "boolean"}
SECRETS = {"admin_token": None, "slack_webhook_url": None, "pagerduty_routing_key": "SECRETpd-awx-4411",
           "smtp_password": "SECRETsmtp-awx-4412", "aws_secret_access_key": None}


def awx_vars() -> dict[str, Any]:
    return DataLoader().load_from_file(str(AWX / "vars" / "awx.yml"))


class _Captured(Exception):
    def __init__(self, spec: dict[str, Any]):
        super().__init__("captured")
        self.spec = spec


def awx_argument_spec(module: str) -> dict[str, Any]:
    """The argument spec an awx.awx module builds in main(), with the controller connection options."""
    utils = importlib.import_module("ansible_collections.awx.awx.plugins.module_utils.controller_api")
    code = importlib.import_module(f"ansible_collections.awx.awx.plugins.modules.{module}")

    def capture(argument_spec: dict[str, Any], **kwargs: Any) -> None:
        raise _Captured(dict(utils.ControllerModule.AUTH_ARGSPEC, **argument_spec))

    original = code.ControllerAPIModule
    code.ControllerAPIModule = capture
    try:
        code.main()
    except _Captured as captured:
        return captured.spec
    finally:
        code.ControllerAPIModule = original
    raise AssertionError(f"awx.awx.{module} built no argument spec")


def survey_problems(survey: dict[str, Any]) -> list[str]:
    """The checks AWX makes when a survey spec is saved (awx/api/views: survey spec validation)."""
    problems = []
    for key in ("name", "description", "spec"):
        if key not in survey:
            problems.append(f"'{key}' missing")
    seen = set()
    for index, question in enumerate(survey.get("spec") or []):
        where = f"question {index}"
        if question.get("type") not in SURVEY_TYPES:
            problems.append(f"{where}: type {question.get('type')!r} is not one of {sorted(SURVEY_TYPES)}")
        for key in ("question_name", "variable"):
            if not isinstance(question.get(key), str) or not question[key]:
                problems.append(f"{where}: '{key}' missing")
        if not isinstance(question.get("required"), bool):
            problems.append(f"{where}: 'required' must be a boolean")
        variable = question.get("variable")
        if variable in seen:
            problems.append(f"{where}: variable {variable} is used twice")
        seen.add(variable)
        if variable and not re.match(r"^[a-zA-Z_][a-zA-Z0-9_]*$", variable):
            problems.append(f"{where}: variable {variable!r} is not a valid name")
        if question.get("type") in ("multiplechoice", "multiselect"):
            choices = question.get("choices")
            if not isinstance(choices, list) or not choices:
                problems.append(f"{where}: choices must be a non-empty list")
            elif question.get("default") not in ("", None, *choices):
                problems.append(f"{where}: default {question.get('default')!r} is not a choice")
        if question.get("type") in ("text", "textarea", "password"):
            low, high = question.get("min", 0), question.get("max", 1024)
            if not (isinstance(low, int) and isinstance(high, int) and 0 <= low <= high):
                problems.append(f"{where}: min/max must be integers with min <= max")
            if question.get("required") and low == 0:
                problems.append(f"{where}: a required text answer needs min >= 1")
    return problems


def credential_type_problems(inputs: dict[str, Any], injectors: dict[str, Any]) -> list[str]:
    """The rules AWX applies to a custom credential type's inputs and injectors."""
    problems = []
    ids = []
    for field in inputs.get("fields", []):
        if not re.match(r"^[a-zA-Z_][a-zA-Z0-9_]*$", str(field.get("id"))):
            problems.append(f"field id {field.get('id')!r} is not a valid name")
        if field.get("type", "string") not in FIELD_TYPES:
            problems.append(f"field {field.get('id')}: type {field.get('type')!r}")
        if not field.get("label"):
            problems.append(f"field {field.get('id')}: no label")
        ids.append(field.get("id"))
    if len(ids) != len(set(ids)):
        problems.append("field ids must be unique")
    problems += [f"required {name!r} is not a field" for name in inputs.get("required", []) if name not in ids]
    for kind in injectors:
        if kind not in ("env", "extra_vars", "file"):
            problems.append(f"injector kind {kind!r}")
    for name, template in {**injectors.get("env", {}), **injectors.get("extra_vars", {})}.items():
        if str(name).upper().startswith("ANSIBLE_"):
            problems.append(f"{name}: AWX does not inject ANSIBLE_ variables")
        used = re.findall(r"{{\s*(\w+)\s*}}", str(template))
        problems += [f"{name} uses {field!r}, which is not a field" for field in used if field not in ids]
    return problems


def trust_as_template_deep(value: Any) -> Any:
    """The task's strings as ansible-playbook sees them: templates from a trusted playbook file."""
    from ansible.template import trust_as_template

    if isinstance(value, dict):
        return {key: trust_as_template_deep(item) for key, item in value.items()}
    if isinstance(value, list):
        return [trust_as_template_deep(item) for item in value]
    return trust_as_template(value) if isinstance(value, str) else value


@pytest.fixture
def plugin_loader():
    """Ansible's plugin loader, for the file lookup the job templates read their surveys with. It installs Ansible's
    collection finder in this worker's process; removed afterwards, or a later test of the same worker that imports
    one of this collection's modules fails ("collection metadata was not loaded")."""
    from ansible.plugins.loader import init_plugin_loader
    from ansible.utils.collection_loader import AnsibleCollectionConfig
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

    init_plugin_loader()
    yield
    _AnsibleCollectionFinder._remove()
    AnsibleCollectionConfig._collection_finder = None


def test_the_awx_definitions_validate_against_awx_offline(plugin_loader):
    loader = DataLoader()
    loader.set_basedir(str(AWX))
    variables = awx_vars()
    plays = DataLoader().load_from_file(str(AWX / "configure.yml"))  # trusted, as ansible-playbook loads it
    checked = 0
    for task in plays[0]["tasks"]:
        module = next(key for key in task if key.startswith("awx.awx."))
        spec = awx_argument_spec(module.split(".")[-1])
        items = (Templar(loader, variables=variables).template(trust_as_template_deep(task["loop"]))
                 if "loop" in task else [None])
        for item in items:
            templar = Templar(loader, variables=dict(variables, item=item))
            args = templar.template(trust_as_template_deep(task[module]))
            validation = ArgumentSpecValidator(spec).validate(args)
            assert not validation.error_messages, (module, item, validation.error_messages)
            checked += 1
    assert checked == 5 + len(variables["awx_job_templates"])
    for path in AWX.glob("surveys/*.json"):
        assert survey_problems(json.loads(path.read_text())) == [], path.name
    assert credential_type_problems(variables["awx_credential_type_inputs"],
                                    variables["awx_credential_type_injectors"]) == []
    # What the runbook tells operators to launch is what configure.yml defines.
    runbook = (REPO / "docs" / "runbooks" / "production-hybrid-routing-rollback.md").read_text()
    names = {template["name"] for template in variables["awx_job_templates"]} | {variables["awx_level3_workflow"]}
    assert set(re.findall(r"`(Hybrid routing [^`]+)`", runbook)) <= names


def test_the_validators_catch_what_awx_refuses():
    assert survey_problems({"name": "x", "description": "", "spec": [
        {"type": "checkbox", "question_name": "q", "variable": "a b", "required": "yes"}]}) == [
        "question 0: type 'checkbox' is not one of " + str(sorted(SURVEY_TYPES)),
        "question 0: 'required' must be a boolean", "question 0: variable 'a b' is not a valid name"]
    assert credential_type_problems({"fields": [{"id": "token", "label": "T"}]},
                                    {"env": {"ANSIBLE_X": "{{ tokn }}"}}) == [
        "ANSIBLE_X: AWX does not inject ANSIBLE_ variables", "ANSIBLE_X uses 'tokn', which is not a field"]


def injected(credential: dict[str, str]) -> tuple[dict[str, str], dict[str, Any]]:
    """What AWX injects for a credential of the custom type: its env and extra_vars templates, rendered."""
    from jinja2.sandbox import SandboxedEnvironment

    injectors = awx_vars()["awx_credential_type_injectors"]

    def render(template: Any) -> str:  # AWX renders injectors with a sandboxed Jinja of its own
        return SandboxedEnvironment().from_string(str(template)).render(**credential)

    env = {name: render(value) for name, value in injectors["env"].items()}
    extra = {name: render(value) for name, value in injectors.get("extra_vars", {}).items()}
    return {name: value for name, value in env.items() if value}, extra


def run_template(tmp_path: Path, name: str, answers: dict[str, Any], credential: dict[str, str],
                 inventory: dict[str, Any], verbosity: int = 0, home: Path | None = None
                 ) -> tuple[Any, dict[str, Any], str]:
    """One job as AWX runs it: a private data dir of its own; with `home`, the container's (ephemeral) HOME."""
    import ansible_runner

    template = next(t for t in awx_vars()["awx_job_templates"] if t["name"] == name)
    slug = re.sub(r"\W+", "-", name)
    private = tmp_path / f"{slug}-{len(list(tmp_path.glob('Hybrid*')))}"
    (private / "env").mkdir(parents=True)
    (private / "inventory").mkdir()
    env, extra = injected(credential)
    # No ANSIBLE_COLLECTIONS_PATH: in AWX the execution environment has the collection installed
    # (execution-environment.yml); here this virtualenv stands in for it (scripts/setup.sh links the collection).
    env.update(ANSIBLE_NOCOLOR="1")
    if home is not None:
        home.mkdir(parents=True)
        env["HOME"] = str(home)
    # JSON (a YAML subset) of plain values: Ansible's loaded strings are tagged subclasses safe_dump refuses.
    (private / "env" / "envvars").write_text(json.dumps(env))
    (private / "env" / "extravars").write_text(json.dumps({**answers, **extra}))
    (private / "inventory" / "hosts.yml").write_text(json.dumps({"all": {"hosts": {"itest": inventory}}}))
    runner = ansible_runner.run(private_data_dir=str(private), project_dir=str(REPO), playbook=template["playbook"],
                                quiet=True, verbosity=verbosity or None)
    stats = next((event["event_data"] for event in runner.events if event["event"] == "playbook_on_stats"), {})
    return runner, stats.get("artifact_data") or {}, runner.stdout.read()


@pytest.mark.usefixtures("api")
def test_each_job_template_runs_as_awx_runs_it(tmp_path, sandbox, moto_server, sink):
    credential = {"admin_token": sandbox.token, "slack_webhook_url": f"{sink.base}/slack/webhook/T/B/SECRETawx",
                  "pagerduty_routing_key": SECRETS["pagerduty_routing_key"],
                  "smtp_password": SECRETS["smtp_password"], "aws_access_key_id": "testing",
                  "aws_secret_access_key": aws_vars(moto_server)["hybrid_routing_aws_secret_key"]}
    inventory = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                 "hybrid_routing_api_base": sandbox.base, "hybrid_routing_validate_certs": False,
                 "hybrid_routing_state_dir": str(tmp_path / "state"), "hybrid_routing_environment": "awx-itest",
                 "hybrid_routing_aws_endpoint_url": moto_server.url, "hybrid_routing_aws_region": moto_server.REGION,
                 "hybrid_routing_pagerduty_events_url": f"{sink.base}/pagerduty/v2/enqueue",
                 "hybrid_routing_people": {"alice": {"roles": ["on_call"]}, "mark": {"roles": ["engineering_manager"]},
                                           "cara": {"roles": ["cto"]}}}
    answers = {"hybrid_routing_reason": "drill of the AWX path", "hybrid_routing_requester": "alice"}
    outputs = []

    def launch(name: str, **more: Any) -> dict[str, Any]:
        runner, artifact, stdout = run_template(tmp_path, name, {**answers, **more}, credential, inventory)
        outputs.append(stdout)
        assert runner.status == "successful", stdout[-4000:]
        return artifact

    dry = launch("Hybrid routing rollback - Level 1", hybrid_routing_dry_run="true")
    assert dry["hybrid_routing_rollback"]["itest"]["outcome"] == "dry_run"
    assert sandbox.changes() == [], "the survey's dry run writes nothing"
    for name, approver, level in (("Hybrid routing rollback - Level 1", "", 1),
                                  ("Hybrid routing rollback - Level 2", "mark", 2),
                                  ("Hybrid routing rollback - Level 3", "cara", 3)):
        report = launch(name, hybrid_routing_approver=approver, hybrid_routing_dry_run="false")[
            "hybrid_routing_rollback"]["itest"]
        assert (report["outcome"], report["level"], report["reason"]) == ("success", level, "drill of the AWX path")
        assert report["authorization"]["requester"] == "alice"
    assert sandbox.get("/admin/routing")["mode"] == "mcp_only"
    pages = sink.get("pagerduty")["pages"]
    assert len(pages) == 1, "the credential's routing key reached PagerDuty (Level 3)"
    forward = launch("Hybrid routing roll-forward", hybrid_routing_approver="mark")["hybrid_routing_rollback"]["itest"]
    assert forward["outcome"] == "success" and sandbox.flags()["hybrid_routing"]
    launch("Hybrid routing validate")
    auto = launch("Hybrid routing automatic rollback")["hybrid_routing_auto_rollback"]["itest"]
    # No metrics for this environment: the rules cannot be decided, so nothing runs (docs/metrics.md).
    assert auto["action"] == "hold" and auto["levels_run"] == [], auto
    # The job's output and every artifact (job events, custom stats, the state written); not the runner's own
    # copies of its input (env/ and artifacts/*/command hold the injected environment, as AWX's credential does).
    text = "\n".join(outputs) + "".join(path.read_text(errors="replace") for path in tmp_path.rglob("*")
                                        if path.is_file() and "env" not in path.parts and path.name != "command")
    for secret in (sandbox.token, SECRETS["pagerduty_routing_key"], SECRETS["smtp_password"], "SECRETawx"):
        assert secret not in text, "a secret reached the job output or an artifact"
