"""The shared HTTP client against a scripted local HTTP server (real sockets, real urllib3 retries)."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._http import (
    AuthError,
    ConflictError,
    HTTPClient,
    NotFoundError,
    RequestPacer,
    RequestRejectedError,
    ServerError,
    UnreachableError,
    validate_base_url,
)

TOKEN = "s3cr3t-token-value"


class ScriptedServer:
    """Answers requests from a script of (status, headers, body, delay) and records what it saw."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, str], Any, float]] = []
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.requests.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
                )
                status, headers, payload, delay = server.script.pop(0) if server.script else (200, {}, {}, 0)
                if delay:
                    time.sleep(delay)
                if status == 0:  # drop the connection without any answer
                    self.close_connection = True
                    return
                data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    srv = ScriptedServer()
    yield srv
    srv.stop()


def client(base: str, **kwargs: Any) -> HTTPClient:
    kwargs.setdefault("retries", 3)
    kwargs.setdefault("timeout", 2.0)
    return HTTPClient(base, headers={"Authorization": f"Bearer {TOKEN}"}, service_name="the admin API", **kwargs)


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    """Keep the real retry logic but shrink its backoff so the suite stays quick."""
    monkeypatch.setattr(HTTPClient, "backoff_factor", 0.01)
    monkeypatch.setattr(HTTPClient, "backoff_jitter", 0.01)


def test_retries_transient_statuses_then_succeeds(server):
    server.script = [(503, {}, {"error": "unavailable"}, 0), (502, {}, {}, 0), (200, {}, {"ok": True}, 0)]
    status, body = client(server.base).request("GET", "/admin/routing")
    assert (status, body) == (200, {"ok": True})
    assert len(server.requests) == 3


def test_retry_after_is_honoured(server):
    server.script = [(429, {"Retry-After": "1"}, {"error": "slow down"}, 0), (200, {}, {"ok": True}, 0)]
    started = time.monotonic()
    client(server.base).request("GET", "/x")
    assert time.monotonic() - started >= 0.9
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    "status, error",
    [(400, RequestRejectedError), (401, AuthError), (403, AuthError), (404, NotFoundError), (409, ConflictError),
     (422, RequestRejectedError)],
)
def test_client_errors_are_not_retried(server, status, error):
    server.script = [(status, {}, {"error": "nope", "detail": "said no"}, 0)]
    with pytest.raises(error) as caught:
        client(server.base).request("POST", "/admin/feature-flags", json={"flags": {}})
    assert len(server.requests) == 1
    assert "said no" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_auth_error_says_token_was_rejected(server):
    server.script = [(401, {}, {"error": "unauthorized"}, 0)]
    with pytest.raises(AuthError, match=r"rejected the credentials.*ADMIN_TOKEN"):
        client(server.base).request("GET", "/admin/feature-flags")


def test_not_found_names_path_and_base(server):
    server.script = [(404, {}, "<html>nope</html>", 0)]
    with pytest.raises(NotFoundError) as caught:
        client(server.base + "/wrong").request("GET", "/admin/routing")
    assert "/wrong/admin/routing" in str(caught.value)
    assert "check that the base URL" in str(caught.value)


def test_persistent_5xx_becomes_server_error_after_bounded_attempts(server):
    server.script = [(503, {}, {}, 0)] * 10
    with pytest.raises(ServerError, match="after 3 attempts"):
        client(server.base, retries=2).request("GET", "/health")
    assert len(server.requests) == 3


def test_500_is_not_retried(server):
    server.script = [(500, {}, {"error": "boom"}, 0)]
    with pytest.raises(ServerError):
        client(server.base).request("PATCH", "/admin/feature-flags", json={})
    assert len(server.requests) == 1


def test_connection_refused_names_the_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(UnreachableError) as caught:
        client(f"http://127.0.0.1:{port}", retries=1).request("GET", "/health")
    message = str(caught.value)
    assert f"http://127.0.0.1:{port}/health" in message
    assert "connection refused" in message
    assert "Traceback" not in message


def test_read_timeout_is_bounded(server):
    server.script = [(200, {}, {}, 1.5)] * 3
    started = time.monotonic()
    with pytest.raises(UnreachableError, match=r"did not answer within 0\.3s"):
        client(server.base, retries=1, timeout=0.3).request("GET", "/health")
    assert time.monotonic() - started < 1.5


def test_total_deadline_stops_retries(server):
    server.script = [(503, {"Retry-After": "1"}, {}, 0)] * 20
    started = time.monotonic()
    with pytest.raises(ServerError):
        client(server.base, retries=20, total_timeout=1.5).request("GET", "/health")
    assert time.monotonic() - started < 3.5
    assert len(server.requests) < 5


def test_sends_bearer_token_and_json(server):
    server.script = [(200, {}, {"flags": {}}, 0)]
    client(server.base).request("PATCH", "/admin/feature-flags", json={"flags": {"a": False}},
                                headers={"X-Rollback-Id": "rb-1"})
    seen = server.requests[0]
    assert seen["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert seen["headers"]["X-Rollback-Id"] == "rb-1"
    assert json.loads(seen["body"]) == {"flags": {"a": False}}


def test_secret_url_is_not_shown(server):
    server.script = [(403, {}, "invalid_token", 0)]
    secret_path = "/services/T000/B000/XXXXSECRET"
    http = HTTPClient("", service_name="the Slack webhook", secret_url=True, retries=0)
    with pytest.raises(AuthError) as caught:
        http.request("POST", server.base + secret_path, json={"text": "hi"}, expect_json=False)
    assert "XXXXSECRET" not in str(caught.value)
    assert "<redacted>" in str(caught.value)


@pytest.mark.parametrize(
    "value, problem",
    [("", "is not set"), ("api.matbakh.app", "not a valid URL"), ("ftp://x", "not a valid URL"),
     ("http://host:99999", "invalid port"), ("https://h/?a=1", "query string"), ("http://", "not a valid URL")],
)
def test_validate_base_url_rejects(value, problem):
    with pytest.raises(ValueError, match=problem):
        validate_base_url(value)


def test_validate_base_url_strips_trailing_slash():
    assert validate_base_url("https://api.matbakh.app/v1/") == "https://api.matbakh.app/v1"


def test_long_retry_after_is_capped_by_the_deadline(server):
    server.script = [(503, {"Retry-After": "70"}, {}, 0), (503, {"Retry-After": "70"}, {}, 0)]
    started = time.monotonic()
    with pytest.raises(ServerError):
        client(server.base, retries=3, total_timeout=1.0).request("GET", "/admin/feature-flags")
    assert time.monotonic() - started < 3


def test_a_poll_is_one_attempt(server):
    server.script = [(503, {}, {}, 0)] * 5
    with pytest.raises(ServerError, match=r"/health answered 503$"):
        client(server.base, retries=3).request("GET", "/health", wait=5.0)
    assert len(server.requests) == 1, "the poll loop is the retry: the client must not retry a poll"


def test_a_poll_waits_longer_than_the_client_timeout(server):
    """The defect of issue 10: an answer slower than the per-request timeout is still seen by a poll."""
    server.script = [(200, {}, {"status": "healthy"}, 1.5)]
    http = client(server.base, timeout=0.5, retries=0)
    assert http.request("GET", "/health", wait=4.0) == (200, {"status": "healthy"})


def test_a_poll_gives_up_when_its_wait_is_spent(server):
    server.script = [(200, {}, {"status": "healthy"}, 3)]
    started = time.monotonic()
    with pytest.raises(UnreachableError, match=r"did not answer within 0\.8s\.$"):
        client(server.base, timeout=10, retries=3).request("GET", "/health", wait=0.8)
    assert time.monotonic() - started < 2.5
    assert len(server.requests) == 1


def test_a_dropped_connection_is_retried(server):
    server.script = [(0, {}, {}, 0), (200, {}, {"ok": True}, 0)]
    assert client(server.base).request("PUT", "/admin/routing", json={"mode": "mcp_only"}) == (200, {"ok": True})
    assert len(server.requests) == 2


def test_a_connection_dropped_every_time_says_so(server):
    server.script = [(0, {}, {}, 0)] * 5
    with pytest.raises(UnreachableError, match="the connection was closed without a response"):
        client(server.base, retries=1).request("GET", "/health")
    assert len(server.requests) == 2


def test_redirects_are_not_followed(server):
    """A redirect could carry the bearer token to another host: report it instead."""
    server.script = [(302, {"Location": "http://127.0.0.1:9/elsewhere"}, {}, 0)]
    with pytest.raises(ServerError, match=r"redirect \(302\).*Set the base URL to the final address"):
        client(server.base).request("GET", "/admin/feature-flags")
    assert len(server.requests) == 1


def test_retry_after_as_an_http_date(server):
    import email.utils

    soon = email.utils.formatdate(time.time() + 2, usegmt=True)  # whole seconds: 1 to 2 s from now
    server.script = [(503, {"Retry-After": soon}, {}, 0), (200, {}, {"ok": True}, 0)]
    started = time.monotonic()
    client(server.base).request("GET", "/health")
    assert 0.9 <= time.monotonic() - started < 3.5


def test_query_parameters_are_encoded(server):
    server.script = [(200, {}, {"released": True}, 0)]
    client(server.base).request("DELETE", "/admin/locks/rollback", params={"holder": "ann marie"})
    assert server.requests[0]["path"] == "/admin/locks/rollback?holder=ann+marie"


def test_an_unknown_host_is_named():
    with pytest.raises(UnreachableError, match=r"Cannot reach the admin API at http://no-such-host\.invalid/health: "
                                               r"the host name could not be resolved"):
        client("http://no-such-host.invalid", retries=0).request("GET", "/health")


def _paced_requests(directory: str, rate: float, count: int, times: Any) -> None:
    pacer = RequestPacer(rate, "http://127.0.0.1:1", directory=directory)
    for _request in range(count):
        pacer.acquire()
        times.put(time.time())


def test_the_request_cap_holds_across_processes(tmp_path):
    """Issue 21: four worker processes (a play's forks) sending as fast as they can through one pacer stay within
    the cap in every second, and together reach it."""
    import multiprocessing

    rate, per_process = 100.0, 60
    context = multiprocessing.get_context("fork")
    times = context.Queue()
    workers = [context.Process(target=_paced_requests, args=(str(tmp_path), rate, per_process, times))
               for _worker in range(4)]
    for worker in workers:
        worker.start()
    sent = sorted(times.get(timeout=30) for _request in range(4 * per_process))
    for worker in workers:
        worker.join(10)
    busiest = max(sum(1 for t in sent if start <= t < start + 1.0) for start in sent)
    assert busiest <= rate * (1 + RequestPacer.burst) + 1
    span = sent[-1] - sent[0]
    assert span >= (4 * per_process - 1) / rate - RequestPacer.burst - 0.05  # paced, not merely fast
    assert span < (4 * per_process) / rate + 1.0  # and not slower than the cap asks


def test_a_torn_pacer_file_starts_the_count_again(tmp_path):
    pacer = RequestPacer(10.0, "scope", directory=str(tmp_path))
    Path(pacer.path).write_text("not a time")
    assert pacer.acquire() == 0.0
    slept: list[float] = []
    pacer.acquire(sleep=slept.append)  # the next slot is 0.1 s on, 0.1 s of it allowed ahead: no wait
    pacer.acquire(sleep=slept.append)
    assert len(slept) == 1 and 0.05 < slept[0] <= 0.1
