# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Who approved the run, as AWX recorded it: the approval node of the workflow that launched the job.

A survey's approver is free text, a claim. AWX records who approved a workflow's approval node
(workflow_approvals/<id>/: summary_fields.approved_or_denied_by). A job that a workflow launched carries the
workflow job's id in its extra vars (awx_workflow_job_id); with a credential of AWX's own controller type on the
job template (CONTROLLER_HOST and CONTROLLER_OAUTH_TOKEN, or CONTROLLER_USERNAME and CONTROLLER_PASSWORD), the
collection reads the approval back. Two reads, each bounded (5 s, one retry): AWX is the controller running this
very job, and a run it cannot confirm still runs, recorded as "claimed, not verified" with the reason.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._http import HTTPClient, HTTPClientError

# The extra vars AWX gives a job launched by a workflow (the second is the name older controllers use).
WORKFLOW_JOB_VARS = ("awx_workflow_job_id", "tower_workflow_job_id")
TIMEOUT = 5.0


def workflow_job_id(task_vars: Mapping[str, Any]) -> int | None:
    for name in WORKFLOW_JOB_VARS:
        value = task_vars.get(name)
        if value not in (None, ""):
            try:
                return int(value)
            except (TypeError, ValueError):
                return None
    return None


def claimed(approver: str, why: str) -> dict[str, Any]:
    """The approver as the run names it, not confirmed by AWX, and why not."""
    return {"source": "claimed", "verified": False, "approved_by": approver or None, "why": why}


def _client(environ: Mapping[str, str]) -> HTTPClient | None:
    host = environ.get("CONTROLLER_HOST") or environ.get("TOWER_HOST")
    if not host:
        return None
    if "://" not in host:
        host = f"https://{host}"
    token = environ.get("CONTROLLER_OAUTH_TOKEN") or environ.get("TOWER_OAUTH_TOKEN")
    user = environ.get("CONTROLLER_USERNAME") or environ.get("TOWER_USERNAME")
    password = environ.get("CONTROLLER_PASSWORD") or environ.get("TOWER_PASSWORD")
    if token:
        headers = {"Authorization": f"Bearer {token}"}
    elif user and password:
        headers = {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
    else:
        return None
    verify = (environ.get("CONTROLLER_VERIFY_SSL") or environ.get("TOWER_VERIFY_SSL") or "true").lower()
    return HTTPClient(host.rstrip("/"), headers=headers, timeout=TIMEOUT, retries=1, total_timeout=2 * TIMEOUT + 1,
                      validate_certs=verify not in ("false", "0", "no", "off"), service_name="the AWX controller")


def _approver_of(approval: dict[str, Any]) -> Any:
    return (approval.get("summary_fields") or {}).get("approved_or_denied_by")


def recorded_approval(task_vars: Mapping[str, Any], environ: Mapping[str, str], approver: str) -> dict[str, Any]:
    """The approval of the workflow that launched this job, as AWX recorded it; else the claim and why."""
    job = workflow_job_id(task_vars)
    if job is None:
        return claimed(approver, "not launched by an AWX workflow: no approval node to read")
    client = _client(environ)
    if client is None:
        return claimed(approver, f"launched by AWX workflow job {job}, but the job template has no controller "
                                 "credential (CONTROLLER_HOST and a token) to read its approval with")
    try:
        _status, nodes = client.request("GET", f"/api/v2/workflow_jobs/{job}/workflow_nodes/",
                                        params={"page_size": 200})
        approvals = [node["summary_fields"]["job"] for node in nodes.get("results") or []
                     if ((node.get("summary_fields") or {}).get("job") or {}).get("type") == "workflow_approval"]
        if not approvals:
            return claimed(approver, f"AWX workflow job {job} has no approval node")
        found = []
        for summary in approvals:
            _status, approval = client.request("GET", f"/api/v2/workflow_approvals/{summary['id']}/")
            found.append(approval)
    except (HTTPClientError, KeyError, TypeError, AttributeError) as exc:
        return claimed(approver, f"the approval of AWX workflow job {job} could not be read: {exc}")
    approved = [item for item in found if item.get("status") == "successful" and _approver_of(item)]
    if not approved:
        return claimed(approver, f"AWX workflow job {job}: no approval node was approved")
    last = max(approved, key=lambda item: str(item.get("finished") or ""))
    who = _approver_of(last).get("username")
    return {"source": "awx", "verified": True, "approved_by": who, "approval_id": last.get("id"),
            "approval": last.get("name"), "approved_at": last.get("finished"), "workflow_job_id": job,
            "claimed": approver or None}
