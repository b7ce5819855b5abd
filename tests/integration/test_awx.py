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

from hrtest import REPO, aws_vars, http

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


# What each awx.awx module creates, and which of its options name an object of which kind.
CREATES = {"organization": "organization", "team": "team", "credential_type": "credential_type",
           "credential": "credential", "execution_environment": "execution_environment", "project": "project",
           "inventory": "inventory", "inventory_source": "inventory_source", "job_template": "job_template",
           "workflow_job_template": "workflow", "schedule": "schedule"}
REFERENCES = {"organization": "organization", "team": "team", "teams": "team", "user": "user", "users": "user",
              "credential_type": "credential_type", "credential": "credential", "credentials": "credential",
              "execution_environment": "execution_environment", "default_environment": "execution_environment",
              "project": "project", "source_project": "project", "inventory": "inventory",
              "job_template": "job_template", "job_templates": "job_template", "workflow": "workflow",
              "workflows": "workflow"}


def configure_tasks() -> list[tuple[str, dict[str, Any]]]:
    """configure.yml's tasks as Ansible renders them: (module, arguments), one per loop item."""
    loader = DataLoader()
    loader.set_basedir(str(AWX))
    variables = awx_vars()
    plays = DataLoader().load_from_file(str(AWX / "configure.yml"))  # trusted, as ansible-playbook loads it
    rendered = []
    for task in plays[0]["tasks"]:
        module = next(key for key in task if key.startswith("awx.awx."))
        items = (Templar(loader, variables=variables).template(trust_as_template_deep(task["loop"]))
                 if "loop" in task else [None])
        for item in items:
            templar = Templar(loader, variables=dict(variables, item=item))
            rendered.append((module.split(".")[-1], templar.template(trust_as_template_deep(task[module]))))
    return rendered


def pre_existing() -> set[tuple[str, str]]:
    """(kind, name) of every object README.md's "Must exist beforehand" table lists."""
    readme = (AWX / "README.md").read_text()
    section = readme.split("## Must exist beforehand", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| (\w+) \| `([^`]+)` \|", section, re.M))


def referenced(module: str, args: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for option, kind in REFERENCES.items():
        value = args.get(option)
        if option == "organization" and isinstance(value, dict):
            value = value.get("name")
        for name in value if isinstance(value, list) else [value] if value else []:
            found.append((kind, name))
    if module == "schedule":  # a job template or a workflow
        found.append(("template", args["unified_job_template"]))
    for node in args.get("workflow_nodes") or []:
        template = node["unified_job_template"]
        if template.get("type") == "job_template":
            found.append(("job_template", template["name"]))
            found.append(("organization", template["organization"]["name"]))
    return found


def test_the_awx_definitions_validate_against_awx_offline(plugin_loader):
    variables = awx_vars()
    tasks = configure_tasks()
    for module, args in tasks:
        validation = ArgumentSpecValidator(awx_argument_spec(module)).validate(args)
        assert not validation.error_messages, (module, args.get("name"), validation.error_messages)
    for path in AWX.glob("surveys/*.json"):
        assert survey_problems(json.loads(path.read_text())) == [], path.name
    assert credential_type_problems(variables["awx_credential_type_inputs"],
                                    variables["awx_credential_type_injectors"]) == []
    # What the runbook tells operators to launch is what configure.yml defines.
    runbook = (REPO / "docs" / "runbooks" / "production-hybrid-routing-rollback.md").read_text()
    names = {args["name"] for module, args in tasks if module in ("job_template", "workflow_job_template")}
    assert set(re.findall(r"`(Hybrid routing [^`]+)`", runbook)) <= names


def test_every_object_a_task_names_is_created_earlier_or_listed_as_pre_existing(plugin_loader):
    known = pre_existing()
    assert known, "README.md lists what must exist beforehand"
    created: set[tuple[str, str]] = set()
    missing = []
    for module, args in configure_tasks():
        for kind, name in referenced(module, args):
            kinds = ("job_template", "workflow") if kind == "template" else (kind,)
            if not any((k, name) in created or (k, name) in known for k in kinds):
                missing.append(f"{module} {args.get('name') or args.get('role')!r} names {kind} {name!r}")
        if module in CREATES:
            created.add((CREATES[module], args["name"]))
    assert missing == []
    # Whatever is listed as pre-existing is not created as well (one owner per object).
    assert known.isdisjoint(created)


def test_level3_runs_only_through_its_approval_and_eda_may_pass_variables(plugin_loader):
    variables = awx_vars()
    tasks = configure_tasks()
    level3 = "Hybrid routing rollback - Level 3"
    roles = [args for module, args in tasks if module == "role"]
    assert not [args for args in roles if level3 in (args.get("job_templates") or [])], "nobody executes Level 3"
    workflow = variables["awx_level3_workflow"]
    assert [args for args in roles if args["role"] == "execute" and args.get("workflows") == [workflow]]
    approvers = [args for args in roles if args["role"] == "approval"]
    assert approvers == [{"team": variables["awx_teams"]["cto"], "role": "approval", "workflows": [workflow],
                          "state": "present"}]
    nodes = next(args for module, args in tasks if module == "workflow_job_template")["workflow_nodes"]
    assert [node["unified_job_template"]["type"] for node in nodes] == ["workflow_approval", "job_template"]
    assert nodes[0]["related"]["success_nodes"] == [{"identifier": nodes[1]["identifier"]}]
    assert nodes[1]["unified_job_template"]["name"] == level3
    automatic = next(args for module, args in tasks
                     if module == "job_template" and args["name"] == "Hybrid routing automatic rollback")
    assert automatic["ask_variables_on_launch"] is True
    # The runbook's EDA controller action launches that template, in that organization.
    runbook = (REPO / "docs" / "runbook.md").read_text()
    action = re.search(r"run_job_template:\n\s+name: (.+)\n\s+organization: (.+)\n", runbook)
    assert action and action.groups() == (automatic["name"], variables["awx_organization"])


def test_the_drill_schedules_fall_on_the_seeds_sundays_for_the_next_twelve_months(plugin_loader):
    """AWX expands a schedule's rrule with dateutil (after putting RRULE on a line of its own): the next 12 months
    of each drill schedule are the first, second, third and fourth Sunday of every month, one level each."""
    import datetime

    from dateutil import rrule, tz

    tasks = configure_tasks()
    drills = {args["name"]: args for module, args in tasks
              if module == "job_template" and args["playbook"] == "playbooks/drill.yml"}
    schedules = [args for module, args in tasks if module == "schedule"]
    zone = tz.gettz(awx_vars()["awx_drill_timezone"])
    start = datetime.datetime.now(zone)
    end = start + datetime.timedelta(days=366)
    seen = {}
    for schedule in schedules:
        rule = rrule.rrulestr(schedule["rrule"].replace(" RRULE:", "\nRRULE:"))
        found = rule.between(start, end)
        assert found and all(when.hour == 6 for when in found), schedule["name"]
        dates = [when.date() for when in found]
        nth = (dates[0].day - 1) // 7 + 1
        # The seed's calendar, by hand: the nth Sunday of every month whose nth Sunday falls in the window.
        expected = []
        for month in range(start.year * 12 + start.month - 1, end.year * 12 + end.month):
            first = datetime.date(month // 12, month % 12 + 1, 1)
            sunday = first + datetime.timedelta(days=(6 - first.weekday()) % 7 + 7 * (nth - 1))
            if start < datetime.datetime.combine(sunday, datetime.time(6), zone) < end:
                expected.append(sunday)
        assert dates == expected and len(dates) >= 12, (schedule["name"], dates)
        seen[nth] = drills[schedule["unified_job_template"]]["extra_vars"]
    levels = {sunday: extra["hybrid_routing_drill_levels"] for sunday, extra in seen.items()}
    assert levels == {1: [1], 2: [2], 3: [3], 4: [1, 2, 3]}
    staging = awx_vars()["awx_environments"]["staging"]["inventory"]
    assert all(drill["inventory"] == staging for drill in drills.values())


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


def job_template(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A job template of configure.yml by name: its playbook, and its own extra vars (the drill templates')."""
    variables = awx_vars()
    for template in variables["awx_job_templates"]:
        if template["name"] == name:
            return template, {}
    plays = DataLoader().load_from_file(str(AWX / "configure.yml"))
    task = next(task for task in plays[0]["tasks"] if "drill.yml" in str(task.get("awx.awx.job_template", {})))
    drill = next(drill for drill in variables["awx_drills"] if drill["name"] == name)
    args = Templar(DataLoader(), variables=dict(variables, item=drill)).template(
        trust_as_template_deep(task["awx.awx.job_template"]))
    return {"name": name, "playbook": args["playbook"]}, args["extra_vars"]


def run_template(tmp_path: Path, name: str, answers: dict[str, Any], credential: dict[str, str],
                 inventory: dict[str, Any], verbosity: int = 0, home: Path | None = None,
                 controller: dict[str, str] | None = None) -> tuple[Any, dict[str, Any], str]:
    """One job as AWX runs it: a private data dir of its own; with `home`, the container's (ephemeral) HOME."""
    import ansible_runner

    template, template_extra = job_template(name)
    slug = re.sub(r"\W+", "-", name)
    private = tmp_path / f"{slug}-{len(list(tmp_path.glob('Hybrid*')))}"
    (private / "env").mkdir(parents=True)
    (private / "inventory").mkdir()
    env, extra = injected(credential)
    # No ANSIBLE_COLLECTIONS_PATH: in AWX the execution environment has the collection installed
    # (execution-environment.yml); here this virtualenv stands in for it (scripts/setup.sh links the collection).
    env.update(ANSIBLE_NOCOLOR="1")
    # A credential of AWX's controller type injects these (CONTROLLER_HOST, CONTROLLER_OAUTH_TOKEN, ...).
    env.update(controller or {})
    if home is not None:
        home.mkdir(parents=True)
        env["HOME"] = str(home)
    # JSON (a YAML subset) of plain values: Ansible's loaded strings are tagged subclasses safe_dump refuses.
    (private / "env" / "envvars").write_text(json.dumps(env))
    (private / "env" / "extravars").write_text(json.dumps({**template_extra, **answers, **extra}))
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


def test_the_disaster_recovery_drill_template_leaves_staging_as_it_found_it(tmp_path, moto_server):
    """The fourth Sunday's template as AWX runs it, against inventories/staging's variables with a second sandbox
    standing in for staging (not in its seed state): every level in drill mode, the roll-forward, staging as it was."""
    import yaml

    from hrtest import StagingStandIn

    staging = StagingStandIn(tmp_path / "staging", "intelligent_routing", {"direct": 50, "mcp": 50})
    try:
        found = staging.as_found()
        inventory = dict(staging.inventory_vars(moto_server), **yaml.safe_load(
            (REPO / "inventories" / "staging" / "hosts.yml").read_text())["all"]["hosts"]["staging"])
        credential = {"admin_token": staging.token, "aws_access_key_id": "testing",
                      "aws_secret_access_key": aws_vars(moto_server)["hybrid_routing_aws_secret_key"]}
        runner, artifact, stdout = run_template(tmp_path, "Hybrid routing drill - disaster recovery (staging)", {},
                                                credential, inventory)
        assert runner.status == "successful", stdout[-5000:]
        routing_changes = [change for change in staging.changes() if change.get("path") == "/admin/routing"]
        assert len(routing_changes) >= 2, "Level 2 forced MCP-only, the roll-forward restored the weights"
        assert staging.as_found() == found
        runs = artifact["hybrid_routing_rollback"]["itest"]
        assert runs["direction"] == "forward" and runs["drill"] is True, runs
    finally:
        staging.stop()


def test_the_approver_on_record_is_the_one_awx_recorded(tmp_path, sandbox, api, moto_server, sink):
    """Level 3 launched by the approval workflow: AWX gives the job awx_workflow_job_id, and the job template's
    controller credential lets the run read who approved the node (the sink stands in for AWX's API). The record and
    Slack name that approver as verified; without the credential, as claimed; an approver AWX recorded who lacks the
    role is refused, and the record and Slack say who and why."""
    token = "SECRETawx-controller-4413"
    nodes = [{"id": 7, "summary_fields": {"job": {"id": 42, "name": "Approve the Level 3 rollback (CTO)",
                                                  "status": "successful", "type": "workflow_approval"}}},
             {"id": 8, "summary_fields": {}}]  # the Level 3 job's node: its job is this very run

    def approved_by(username: str) -> None:
        sink.reset()
        approval = {"id": 42, "name": "Approve the Level 3 rollback (CTO)", "status": "successful",
                    "finished": "2026-12-04T10:00:00Z",
                    "summary_fields": {"approved_or_denied_by": {"id": 3, "username": username}}}
        assert http("PUT", f"{sink.base}/_sink/awx", body={
            "token": token, "workflow_jobs": {"41": nodes}, "workflow_approvals": {"42": approval}})[0] == 200

    credential = {"admin_token": sandbox.token, "slack_webhook_url": f"{sink.base}/slack/webhook/T/B/SECRETawx"}
    state = tmp_path / "state"
    inventory = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                 "hybrid_routing_api_base": sandbox.base, "hybrid_routing_validate_certs": False,
                 "hybrid_routing_state_dir": str(state), "hybrid_routing_environment": "awx-approval",
                 "hybrid_routing_people": {"alice": {"roles": ["on_call"]}, "bruno": {"roles": ["on_call"]},
                                           "cara": {"roles": ["cto"]}, "dev": {"roles": ["cto"]}}}
    controller = {"CONTROLLER_HOST": f"{sink.base}/awx", "CONTROLLER_OAUTH_TOKEN": token}
    # The survey's answers, and what AWX adds to the extra vars of a job a workflow launched.
    answers = {"hybrid_routing_reason": "approval drill", "hybrid_routing_requester": "alice",
               "hybrid_routing_approver": "dev", "awx_workflow_job_id": 41, "awx_workflow_job_name": "L3 approved"}

    def last_record() -> dict[str, Any]:
        return json.loads((state / "awx-approval" / "audit.jsonl").read_text().splitlines()[-1])

    def slack() -> str:
        return " ".join(request["body"]["text"] for request in sink.requests("/slack/"))

    approved_by("cara")
    runner, _artifact, stdout = run_template(tmp_path, "Hybrid routing rollback - Level 3", answers, credential,
                                             inventory, controller=controller)
    assert runner.status == "successful", stdout[-4000:]
    authorization = last_record()["authorization"]
    assert authorization["authorized_by"] == "cara" and authorization["approver"] == "cara"
    assert authorization["approval"] == {
        "source": "awx", "verified": True, "approved_by": "cara", "approval_id": 42,
        "approval": "Approve the Level 3 rollback (CTO)", "approved_at": "2026-12-04T10:00:00Z",
        "workflow_job_id": 41, "claimed": "dev"}
    assert "cara (approved in AWX)" in slack()
    assert {request["path"] for request in sink.requests("/awx/")} == {
        "/awx/api/v2/workflow_jobs/41/workflow_nodes/", "/awx/api/v2/workflow_approvals/42/"}

    api.reset()
    approved_by("cara")
    runner, _artifact, stdout = run_template(tmp_path, "Hybrid routing rollback - Level 3", answers, credential,
                                             inventory)
    assert runner.status == "successful", stdout[-4000:]
    approval = last_record()["authorization"]["approval"]
    assert (approval["source"], approval["verified"], approval["approved_by"]) == ("claimed", False, "dev")
    assert "no controller credential" in approval["why"]
    assert "dev (claimed, not verified)" in slack()

    api.reset()
    approved_by("bruno")  # on call: AWX let him approve (a misconfigured team), the collection does not
    runner, _artifact, stdout = run_template(tmp_path, "Hybrid routing rollback - Level 3", answers, credential,
                                             inventory, controller=controller)
    assert runner.status == "failed"
    assert api.changes() == [], "refused before any write"
    record = last_record()
    assert record["outcome"] == "failed"
    authorization = record["authorization"]
    assert authorization["refused"] is True and authorization["approver"] == "bruno"
    assert authorization["approval"]["verified"] is True and authorization["approval"]["approved_by"] == "bruno"
    assert "Level 3 needs an approver with the role cto; 'bruno' has on_call" in authorization["reason"]
    text = slack()
    assert "REFUSED (bruno)" in text and "authorization not enforced" not in text
    everything = stdout + "".join(path.read_text(errors="replace") for path in state.rglob("*") if path.is_file())
    assert token not in everything and "SECRETawx" not in everything
