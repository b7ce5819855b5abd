"""The notification sink: local stand-ins for Slack, PagerDuty, a status page and an SMTP server.

Each receiver answers as the real one does (the parts the collection uses) and every request is recorded, so a test or
a drill can read back exactly what each receiver got: GET /_sink/requests, /_sink/mail, /_sink/pagerduty,
/_sink/statuspage.
Faults make a receiver fail on purpose: PUT /_sink/faults {"/slack/": {"status": 429, "times": 2, "retry_after": 1}}
(added to those set before; DELETE /_sink/requests clears everything; "times": -1 is every request). A fault may
instead hang (accept the request and never answer, until the client gives up: {"hang": true}) or delay the answer
({"delay": 5}, then the status or the normal answer). The key "smtp" applies the same to the SMTP server, at the end
of DATA: hang, delay, or answer with the status as an SMTP code (e.g. 421, 554).

HTTP (one port):
  POST /slack/webhook/<anything>            Slack incoming webhook: 200 "ok"
  POST /slack/api/chat.postMessage          Slack Web API: 200 {"ok": true} with a bearer token, else ok=false
  POST /pagerduty/v2/enqueue                PagerDuty Events API v2: 202, tracks incidents by dedup_key
  POST /statuspage/v1/pages/<id>/incidents  Statuspage: 201 with the incident
  PATCH /statuspage/v1/pages/<id>/incidents/<incident id>
  GET /statuspage/v1/pages/<id>/incidents/unresolved    Statuspage: the page's incidents not resolved yet (a list)
  GET /awx/api/v2/workflow_jobs/<id>/workflow_nodes/   AWX: a workflow job's nodes (bearer token), as set with
  GET /awx/api/v2/workflow_approvals/<id>/             PUT /_sink/awx {"token": ..., "workflow_jobs": {id: [node, ...]},
                                                       "workflow_approvals": {id: approval}} (AWX's serializers' fields)
SMTP (--smtp-port): aiosmtpd with STARTTLS (a self-signed certificate made at start) and, with --smtp-username and
SINK_SMTP_PASSWORD in the environment, AUTH required after STARTTLS.
"""

from __future__ import annotations

import datetime
import email
import email.policy
import json
import os
import re
import socket
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PAGERDUTY_ACTIONS = ("trigger", "acknowledge", "resolve")
STATUSPAGE_INCIDENTS = re.compile(r"^/statuspage/v1/pages/([^/]+)/incidents(?:/([^/]+))?$")
AWX_API = re.compile(r"^/awx/api/v2/(workflow_jobs/(\d+)/workflow_nodes|workflow_approvals/(\d+))/(?:\?.*)?$")


class Recorder:
    """What the receivers got, in memory and in <state-dir>/requests.jsonl; thread-safe."""

    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.mail: list[dict[str, Any]] = []
        self.faults: dict[str, dict[str, Any]] = {}
        self.pages: list[dict[str, Any]] = []  # a trigger that opened an incident: somebody's phone rang
        self.open_incidents: dict[str, str] = {}  # dedup_key -> summary
        self.statuspage: dict[str, dict[str, Any]] = {}
        self.awx: dict[str, Any] = {}  # the AWX controller's records a test sets: workflow jobs' nodes, approvals

    def _append(self, kind: str, record: dict[str, Any]) -> None:
        with open(self.state_dir / "requests.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(dict(record, kind=kind)) + "\n")

    def record(self, record: dict[str, Any]) -> None:
        with self.lock:
            self.requests.append(record)
            self._append("http", record)

    def record_mail(self, record: dict[str, Any]) -> None:
        with self.lock:
            self.mail.append(record)
            self._append("mail", record)

    def fault_for(self, path: str) -> dict[str, Any] | None:
        with self.lock:
            for prefix, fault in self.faults.items():
                if path.startswith(prefix) and fault.get("times", 0) != 0:
                    fault["times"] = fault.get("times", 0) - 1
                    return fault
        return None

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.mail.clear()
            self.faults.clear()
            self.pages.clear()
            self.open_incidents.clear()
            self.statuspage.clear()
            self.awx.clear()


def make_handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

        def _body(self) -> Any:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                return json.loads(raw) if raw else None
            except ValueError:
                return raw.decode(errors="replace")

        def do_GET(self) -> None:
            if self.path == "/health":
                self._answer(200, {"status": "ok"})
            elif self.path == "/_sink/requests":
                self._answer(200, {"requests": recorder.requests})
            elif self.path == "/_sink/mail":
                self._answer(200, {"mail": recorder.mail})
            elif self.path == "/_sink/pagerduty":
                self._answer(200, {"pages": recorder.pages, "open": sorted(recorder.open_incidents)})
            elif self.path == "/_sink/statuspage":
                with recorder.lock:
                    self._answer(200, {"incidents": list(recorder.statuspage.values())})
            elif STATUSPAGE_INCIDENTS.match(self.path):
                self._receive("GET")
            elif AWX_API.match(self.path):
                self._awx(AWX_API.match(self.path))
            else:
                self._answer(404, {"error": "not_found"})

        def do_DELETE(self) -> None:
            if self.path == "/_sink/requests":
                recorder.reset()
                self._answer(200, {"reset": True})
            else:
                self._answer(404, {"error": "not_found"})

        def do_PUT(self) -> None:
            body = self._body()
            if self.path == "/_sink/faults" and isinstance(body, dict):
                with recorder.lock:
                    recorder.faults.update({str(key): dict(value) for key, value in body.items()})
                self._answer(200, {"faults": recorder.faults})
            elif self.path == "/_sink/awx" and isinstance(body, dict):
                with recorder.lock:
                    recorder.awx = body
                self._answer(200, {"awx": True})
            else:
                self._answer(404, {"error": "not_found"})

        def do_PATCH(self) -> None:
            self._receive("PATCH")

        def do_POST(self) -> None:
            self._receive("POST")

        def _awx(self, match: re.Match) -> None:
            """AWX's API, the two reads the collection makes: who approved a workflow job's approval node."""
            recorder.record({"method": "GET", "path": self.path.split("?")[0], "body": None})
            with recorder.lock:
                awx = dict(recorder.awx)
            if self.headers.get("Authorization") != f"Bearer {awx.get('token')}":
                self._answer(401, {"detail": "Authentication credentials were not provided."})
            elif match.group(2):
                nodes = (awx.get("workflow_jobs") or {}).get(match.group(2))
                if nodes is None:
                    self._answer(404, {"detail": "Not found."})
                else:
                    self._answer(200, {"count": len(nodes), "next": None, "previous": None, "results": nodes})
            else:
                approval = (awx.get("workflow_approvals") or {}).get(match.group(3))
                self._answer(200 if approval else 404, approval or {"detail": "Not found."})

        def _hang(self, seconds: float) -> None:
            """Accept and never answer, until the client closes the connection (or the seconds are over)."""
            end = time.monotonic() + seconds
            self.connection.settimeout(0.2)
            while time.monotonic() < end:
                try:
                    if self.connection.recv(1, socket.MSG_PEEK) == b"":
                        break
                except TimeoutError:
                    continue
                except OSError:
                    break
            self.close_connection = True

        def _receive(self, method: str) -> None:
            body = self._body()
            fault = recorder.fault_for(self.path)
            answered = None
            if fault:
                answered = "hang" if fault.get("hang") else fault.get("status")
            recorder.record({"at": time.time(), "method": method, "path": self.path,
                             "headers": dict(self.headers.items()), "body": body, "answered": answered})
            if fault and fault.get("hang"):
                self._hang(float(fault.get("seconds", 300)))
                return
            if fault and fault.get("delay"):
                time.sleep(float(fault["delay"]))
            if fault and fault.get("status"):
                headers = {"Retry-After": str(fault["retry_after"])} if "retry_after" in fault else {}
                self._answer(int(fault["status"]), {"error": "fault injected by the sink"}, headers)
            elif method == "POST" and self.path.startswith("/slack/webhook/"):
                self._answer(200, "ok")
            elif method == "POST" and self.path == "/slack/api/chat.postMessage":
                self._slack_post(body)
            elif method == "POST" and self.path == "/pagerduty/v2/enqueue":
                self._pagerduty(body)
            elif STATUSPAGE_INCIDENTS.match(self.path):
                self._statuspage(method, body)
            else:
                self._answer(404, {"error": "not_found"})

        def _slack_post(self, body: Any) -> None:
            if not (self.headers.get("Authorization") or "").startswith("Bearer "):
                self._answer(200, {"ok": False, "error": "not_authed"})
            elif not isinstance(body, dict) or not body.get("channel") or not body.get("text"):
                self._answer(200, {"ok": False, "error": "no_text" if isinstance(body, dict) else "invalid_json"})
            else:
                self._answer(200, {"ok": True, "channel": body["channel"], "ts": f"{time.time():.6f}"})

        def _pagerduty(self, event: Any) -> None:
            errors = []
            if not isinstance(event, dict):
                errors.append("Event object is invalid")
                event = {}
            if not event.get("routing_key"):
                errors.append("'routing_key' is missing or blank")
            if event.get("event_action") not in PAGERDUTY_ACTIONS:
                errors.append("'event_action' is missing or invalid")
            payload = event.get("payload") or {}
            if event.get("event_action") == "trigger" and not (payload.get("summary") and payload.get("source")
                                                                and payload.get("severity")):
                errors.append("'payload' needs summary, source and severity")
            if event.get("event_action") in ("acknowledge", "resolve") and not event.get("dedup_key"):
                errors.append("'dedup_key' is missing or blank")
            if errors:
                self._answer(400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors})
                return
            key = event.get("dedup_key") or uuid.uuid4().hex
            with recorder.lock:
                if event["event_action"] == "trigger":
                    if key not in recorder.open_incidents:
                        recorder.pages.append({"dedup_key": key, "summary": payload["summary"], "at": time.time()})
                    recorder.open_incidents[key] = payload["summary"]
                elif event["event_action"] == "resolve":
                    recorder.open_incidents.pop(key, None)
            self._answer(202, {"status": "success", "message": "Event processed", "dedup_key": key})

        def _statuspage(self, method: str, body: Any) -> None:
            match = STATUSPAGE_INCIDENTS.match(self.path)
            assert match is not None
            if not (self.headers.get("Authorization") or "").startswith("OAuth "):
                self._answer(401, {"error": "Could not authenticate"})
                return
            if method == "GET":
                page_id, which = match.groups()
                with recorder.lock:
                    unresolved = [record for record in recorder.statuspage.values() if record["page_id"] == page_id
                                  and record.get("status") not in ("resolved", "postmortem", "completed")]
                if which == "unresolved":
                    self._answer(200, unresolved)
                else:
                    self._answer(404, {"error": "not_found"})
                return
            incident = body.get("incident") if isinstance(body, dict) else None
            if not isinstance(incident, dict):
                self._answer(422, {"error": "incident is missing"})
                return
            with recorder.lock:
                if method == "POST" and match.group(2) is None:
                    record = dict(incident, id=uuid.uuid4().hex[:12], page_id=match.group(1))
                    recorder.statuspage[record["id"]] = record
                    self._answer(201, record)
                elif method == "PATCH" and match.group(2) in recorder.statuspage:
                    record = recorder.statuspage[match.group(2)]
                    record.update(incident)
                    self._answer(200, record)
                else:
                    self._answer(404, {"error": "incident not found"})

    return Handler


def self_signed_context(state_dir: Path) -> ssl.SSLContext:
    """A TLS context for STARTTLS with a fresh self-signed certificate for 127.0.0.1."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = state_dir / "smtp-cert.pem", state_dir / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context


def start_smtp(recorder: Recorder, port: int, username: str | None, password: str | None) -> Any:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    class MailHandler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            import asyncio

            fault = recorder.fault_for("smtp")
            if fault and fault.get("hang"):
                await asyncio.sleep(float(fault.get("seconds", 300)))
            if fault and fault.get("delay"):
                await asyncio.sleep(float(fault["delay"]))
            if fault and fault.get("status"):
                return f"{int(fault['status'])} fault injected by the sink"
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            body = message.get_body(preferencelist=("plain",))
            recorder.record_mail({
                "at": time.time(), "mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos),
                "subject": str(message.get("Subject", "")), "to": str(message.get("To", "")),
                "cc": str(message.get("Cc", "")), "body": body.get_content() if body is not None else "",
                "tls": session.ssl is not None, "auth_user": _login_name(session),
                "raw": envelope.content.decode("utf-8", errors="replace"),
            })
            return "250 Message accepted for delivery"

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword) and auth_data.login.decode() == username \
                and auth_data.password.decode() == password:
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    auth = {"authenticator": authenticate, "auth_required": True} if username and password else {}
    controller = Controller(MailHandler(), hostname="127.0.0.1", port=port, require_starttls=True,
                            tls_context=self_signed_context(recorder.state_dir), auth_require_tls=True,
                            ready_timeout=10, **auth)
    controller.start()
    return controller


def _login_name(session: Any) -> str | None:
    data = getattr(session, "auth_data", None)
    login = getattr(data, "login", None)
    return login.decode() if isinstance(login, bytes) else None


def serve(port: int, smtp_port: int | None, state_dir: Path, smtp_username: str | None) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    recorder = Recorder(state_dir)
    controller = None
    if smtp_port:
        controller = start_smtp(recorder, smtp_port, smtp_username, os.environ.get("SINK_SMTP_PASSWORD"))
    httpd = ThreadingHTTPServer(("127.0.0.1", port), make_handler(recorder))
    try:
        httpd.serve_forever(poll_interval=0.1)
    finally:
        httpd.server_close()
        if controller is not None:
            controller.stop()
