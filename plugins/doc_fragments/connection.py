# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Mirrors CONNECTION_ARGSPEC in plugins/module_utils/_admin_api.py.
    DOCUMENTATION = r"""
options:
  api_base:
    description:
      - Base URL of the hybrid routing admin API, for example V(https://api.matbakh.app).
      - If not set, the E(API_BASE) environment variable is used.
      - The playbooks pass the inventory variable C(hybrid_routing_api_base).
    type: str
  admin_token:
    description:
      - Bearer token for the C(/admin/*) endpoints.
      - If not set, the E(ADMIN_TOKEN) environment variable is used.
      - Never logged; keep it in a vault or an AWX credential.
    type: str
  validate_certs:
    description:
      - Verify the TLS certificate of O(api_base). Only a sandbox should turn this off.
    type: bool
    default: true
  ca_path:
    description:
      - CA bundle (PEM) used to verify the server certificate instead of the system store.
    type: path
  timeout:
    description:
      - Seconds to wait for each HTTP answer.
      - Polls (health, effective routing, deployments) are not bound by it; each waits as long as what is left of
        the wait's budget allows.
    type: float
    default: 10
  retries:
    description:
      - How many times a request is retried after a connection error, a timeout or a 429/502/503/504 answer,
        with jittered exponential backoff that honours C(Retry-After).
      - 400, 401, 403, 404 and 409 answers are never retried.
    type: int
    default: 3
  rollback_id:
    description:
      - Correlation id sent as C(X-Rollback-Id) with every request; the service records it with each change.
    type: str
  max_requests_per_second:
    description:
      - At most this many requests per second to one admin API from this controller, counted across every process
        of it (a fleet rolls back each environment in a worker of its own), retries and polls included.
      - A request may run ahead of the cap by a tenth of a second, so the few requests of one step are not slowed.
      - V(0) turns the cap off.
      - The count lives in the controller's temporary directory; controllers (AWX job slices) each keep their own.
    type: float
    default: 50
  rate_limit_scope:
    description:
      - What counts as one admin API for O(max_requests_per_second).
      - By default the scheme, host and port of O(api_base); environments behind one gateway name the gateway here
        to share one cap.
    type: str
requirements:
  - requests >= 2.31 (with urllib3 >= 2)
"""
