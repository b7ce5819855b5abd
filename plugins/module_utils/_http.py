# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The one HTTP client of the collection: retries, deadlines, TLS and error mapping live here only.

Built on requests (the design card names it), with urllib3's Retry deciding what is retried and how long to back
off (status list, Retry-After in seconds or as a date, jittered exponential backoff, allowed methods). Two rules
stay this client's own, which neither library has: every logical request has a deadline that bounds all its attempts
and pauses together (a Retry-After past it ends the request at once), and a redirect is never followed (it could
carry the bearer token or a webhook's secret path to another address). The playbook process imports requests once
before Ansible forks its workers (plugins/callback/preload.py), so an in-process task does not pay for the import.
"""

from __future__ import annotations

import hashlib
import json as jsonlib
import os
import socket
import ssl
import tempfile
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

try:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.exceptions import MaxRetryError
    from urllib3.util.retry import Retry
except ImportError as exc:  # reported by the frame that needs a client (missing_required_lib)
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR: str | None = str(exc)
else:
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None

# Statuses that mean "try again later". 500 is deliberately absent: a handler that crashed may have written.
RETRY_STATUSES = (429, 502, 503, 504)


class HTTPClientError(Exception):
    """A request failed in a way the caller should report; the message is safe to show (no secrets)."""

    def __init__(self, message: str, status: int | None = None, body: Any = None, url: str | None = None):
        super().__init__(message)
        self.status = status
        self.body = body
        self.url = url


class AuthError(HTTPClientError):
    """401/403: the token was rejected."""


class NotFoundError(HTTPClientError):
    """404: unknown path or resource."""


class ConflictError(HTTPClientError):
    """409: the service refused because of its current state (lock held, deployment running...)."""


class RequestRejectedError(HTTPClientError):
    """400/422: the service rejected the request body."""


class UnreachableError(HTTPClientError):
    """No HTTP answer at all: refused, reset, DNS, TLS or timeout, after the retries."""


class ServerError(HTTPClientError):
    """5xx (or 429, or an unexpected redirect) still failing after the retries."""


class _NoAnswer(Exception):
    """One attempt got no HTTP answer; `reason` is short and safe to show."""

    def __init__(self, reason: str, timed_out: bool = False, tls: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.timed_out = timed_out
        self.tls = tls


def _closed() -> tuple[type[BaseException], ...]:
    """The exceptions (the socket's, http.client's, urllib3's, requests') that mean the peer closed the connection
    unanswered."""
    from http.client import IncompleteRead, RemoteDisconnected

    from urllib3.exceptions import ProtocolError

    return (ConnectionResetError, BrokenPipeError, ConnectionAbortedError, RemoteDisconnected, IncompleteRead,
            ProtocolError, requests.exceptions.ChunkedEncodingError)


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and what it wraps (requests wraps urllib3's, which wrap the socket's), outermost first."""
    found: list[BaseException] = []
    pending: list[Any] = [exc]
    while pending and len(found) < 20:
        item = pending.pop(0)
        if not isinstance(item, BaseException) or any(item is seen for seen in found):
            continue
        found.append(item)
        pending.extend([item.__cause__, item.__context__, getattr(item, "reason", None), *item.args])
    return found


def _no_answer(exc: BaseException) -> _NoAnswer:
    """Name why an attempt got no answer, without the libraries' long wrapper text (which quotes the URL)."""
    causes = _causes(exc)
    for cause in causes:
        if isinstance(cause, ssl.SSLError):
            return _NoAnswer(getattr(cause, "verify_message", None) or cause.reason or "TLS error", tls=True)
    if isinstance(exc, requests.exceptions.Timeout) or any(isinstance(c, (TimeoutError, socket.timeout))
                                                           for c in causes):
        return _NoAnswer("timed out", timed_out=True)
    for cause in causes:
        if isinstance(cause, ConnectionRefusedError):
            return _NoAnswer("connection refused")
        if isinstance(cause, socket.gaierror):
            return _NoAnswer(f"the host name could not be resolved ({cause.strerror})")
    closed = _closed()
    for cause in causes:
        if isinstance(cause, closed):
            return _NoAnswer("the connection was closed without a response")
    for cause in causes:
        if isinstance(cause, OSError) and cause.strerror:
            return _NoAnswer(cause.strerror.lower())
    return _NoAnswer(type(exc).__name__)


def validate_base_url(base_url: str | None, option: str = "api_base") -> str:
    """Return base_url without a trailing slash, or raise ValueError saying what is wrong with it."""
    if not base_url:
        raise ValueError(f"{option} is not set: give the service URL, e.g. https://api.example.com")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"{option} {base_url!r} is not a valid URL: it must look like https://host[:port][/prefix]"
        )
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{option} {base_url!r} has an invalid port: {exc}") from None
    if port == 0:
        raise ValueError(f"{option} {base_url!r} has an invalid port: 0")
    if parts.query or parts.fragment:
        raise ValueError(f"{option} {base_url!r} must not carry a query string or fragment")
    return base_url.rstrip("/")


def _error_detail(body: Any) -> str:
    if isinstance(body, dict):
        detail = body.get("detail") or body.get("error") or ""
        return detail if isinstance(detail, str) else str(detail)
    if isinstance(body, str):
        return body[:300]
    return ""


class RequestPacer:
    """At most `rate` requests per second to one service (`scope`), counted across every process of this controller.

    A play rolls back each environment in a worker process of its own, so the count lives in a small file that every
    worker locks in turn (fcntl). The rule is GCRA, a leaky bucket: each request takes the next free slot, 1/rate
    after the one before, and a request may run ahead of its slot by `burst` seconds, so the few requests of one task
    pass at once while a fleet's stay within the cap. A request that must wait reserves its slot first and then
    sleeps without the lock. Hand-written because no library of the runtime (requests, urllib3) paces across
    processes. The file holds one timestamp, never anything secret, and is only pacing: losing it (a new container)
    loses nothing.
    """

    burst = 0.1  # seconds a request may run ahead of its slot: at most rate x 1.1 + 1 requests in any second

    def __init__(self, rate: float, scope: str, directory: str | None = None):
        self.rate = rate
        digest = hashlib.sha256(scope.encode()).hexdigest()[:24]
        self.directory = directory or os.path.join(tempfile.gettempdir(), "matbakh.hybrid_routing-pace")
        self.path = os.path.join(self.directory, digest)

    def acquire(self, *, sleep: Any = time.sleep) -> float:
        """Take the next slot; returns the seconds waited for it."""
        import fcntl  # POSIX: the controller (a Linux job container or a laptop), never a managed Windows host

        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = os.pread(fd, 64, 0)
            try:
                theoretical = float(raw.decode() or 0)
            except ValueError:  # a torn or foreign file: start the count again
                theoretical = 0.0
            now = time.time()
            slot = max(theoretical, now)
            os.ftruncate(fd, 0)
            os.pwrite(fd, repr(slot + 1.0 / self.rate).encode(), 0)
        finally:
            os.close(fd)  # closing releases the lock
        wait = slot - now - self.burst
        if wait > 0:
            sleep(wait)
            return wait
        return 0.0


class HTTPClient:
    """JSON over HTTP with bounded retries. Never logs headers: they carry the credentials."""

    # Backoff between retries (urllib3's Retry): none before the first, then backoff_factor x 2^(n-1) plus up to
    # backoff_jitter seconds of jitter, at most backoff_max; a Retry-After answer overrides it. Never past the
    # call's deadline.
    backoff_factor = 0.5
    backoff_jitter = 0.5
    backoff_max = 8.0

    def __init__(
        self,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        total_timeout: float | None = None,
        validate_certs: bool = True,
        ca_path: str | None = None,
        service_name: str = "the service",
        secret_url: bool = False,
        pacer: RequestPacer | None = None,
    ):
        self.base_url = validate_base_url(base_url) if base_url else ""
        # Every attempt, retries and polls included, takes a slot of the pacer first (a fleet-wide cap).
        self.pacer = pacer
        self.timeout = timeout
        self.retries = max(0, retries)
        # Default budget of one logical request: every attempt its full timeout, plus the capped backoff between.
        self.total_timeout = total_timeout if total_timeout is not None else timeout * (self.retries + 1) + 10
        self.service_name = service_name
        # Webhook URLs carry their credential in the path: messages then show scheme and host only.
        self.secret_url = secret_url
        self.headers = {"Accept": "application/json", "User-Agent": "matbakh.hybrid_routing"}
        self.headers.update(headers or {})
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self._session: Any = None
        if not HAS_REQUESTS:
            raise HTTPClientError(f"The Python library requests is required on the host that runs this task, for "
                                  f"{service_name}: pip install requests ({REQUESTS_IMPORT_ERROR}).")

    @property
    def session(self) -> Any:
        """One requests session per client (its connections are reused across the polls of a wait). Its adapter
        never retries: request() does, with urllib3's Retry and this client's deadline."""
        if self._session is None:
            session = requests.Session()
            session.verify = (self.ca_path or True) if self.validate_certs else False
            adapter = HTTPAdapter(max_retries=Retry(total=0, redirect=0, raise_on_redirect=False,
                                                    raise_on_status=False))
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._session = session
        return self._session

    def _retry(self, retries: int) -> Any:
        # Every method is retried: the admin API's writes set a state (flags, routing), carry an idempotency key
        # (the release rollback) or belong to the run (the lock), and the receivers' events carry their dedup key,
        # so a write repeated after a lost answer is not applied twice.
        return Retry(total=retries, redirect=0, allowed_methods=None, status_forcelist=RETRY_STATUSES,
                     backoff_factor=self.backoff_factor, backoff_jitter=self.backoff_jitter,
                     backoff_max=self.backoff_max, respect_retry_after_header=True, raise_on_status=False)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}" if self.base_url else path

    def shown(self, url: str) -> str:
        if not self.secret_url:
            return url
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname}/<redacted>"

    def _send(self, method: str, url: str, data: bytes | None, headers: dict[str, str], timeout: float) -> Any:
        """One attempt: the response for any HTTP answer (a redirect too, never followed); _NoAnswer when none
        came."""
        if self.pacer is not None:
            timeout = max(0.05, timeout - self.pacer.acquire())
        try:
            return self.session.request(method, url, data=data, headers=headers, timeout=timeout,
                                        allow_redirects=False)
        except requests.exceptions.RequestException as exc:
            raise _no_answer(exc) from None

    @staticmethod
    def _pause(retry: Any, response: Any) -> float:
        """What urllib3's Retry asks for before the next attempt: the answer's Retry-After, else its backoff."""
        if response is not None:
            try:
                wanted = retry.get_retry_after(response.raw)
            except Exception:  # an unreadable Retry-After (urllib3's InvalidHeader): the backoff applies
                wanted = None
            if wanted is not None:
                return max(0.0, float(wanted))
        return float(retry.get_backoff_time())

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        expect_json: bool = True,
        wait: float | None = None,
    ) -> tuple[int, Any]:
        """Send one logical request, retried here; return (status, decoded body) for 2xx.

        wait: one attempt that waits up to this many seconds for the answer, no retries. For polls: the poll
        loop is the retry, and it hands each poll what is left of its budget.
        """
        url = self.url(path) + (f"?{urlencode(params, doseq=True)}" if params else "")
        shown = self.shown(self.url(path))
        timeout, retries = (wait, 0) if wait is not None else (self.timeout, self.retries)
        deadline = time.monotonic() + (wait if wait is not None else self.total_timeout)
        data = jsonlib.dumps(json).encode() if json is not None else None
        sent_headers = dict(self.headers, **(headers or {}))
        if data is not None:
            sent_headers["Content-Type"] = "application/json"
        retry = self._retry(retries)
        attempt = 0
        while True:
            attempt += 1
            response = None
            try:
                response = self._send(method, url, data, sent_headers,
                                      max(0.05, min(timeout, deadline - time.monotonic())))
            except _NoAnswer as exc:
                failure: _NoAnswer | int = exc
            else:
                if not retry.is_retry(method, response.status_code):
                    return self._answer(method, shown, response.status_code, response.content, expect_json,
                                        attempt)
                failure = response.status_code
            pause: float | None
            try:
                retry = retry.increment(method=method, url=shown,
                                        response=response.raw if response is not None else None)
                pause = self._pause(retry, response)
            except MaxRetryError:
                pause = None  # the attempts are spent
            if pause is None or time.monotonic() + pause >= deadline:
                if isinstance(failure, _NoAnswer):
                    raise self._unreachable(failure, shown, timeout, attempt)
                raise self._error_for(method, shown, failure, _decode(response.content)[0], attempt)
            if pause > 0:
                time.sleep(pause)

    def _answer(self, method: str, shown: str, status: int, raw: bytes, expect_json: bool,
                attempts: int) -> tuple[int, Any]:
        body, is_json = _decode(raw)
        if 200 <= status < 300:
            if expect_json and raw and not is_json:
                raise ServerError(f"{method} {shown} answered {status} with a body that is not JSON",
                                  status=status, url=shown)
            return status, body
        raise self._error_for(method, shown, status, body, attempts)

    def _unreachable(self, failure: _NoAnswer, shown: str, timeout: float, attempts: int) -> UnreachableError:
        reason = failure.reason
        if self.secret_url:
            path = urlsplit(shown).path
            if path and path != "/":
                reason = reason.replace(path, "/<redacted>")
        tried = f" (tried {attempts} times)." if attempts > 1 else "."
        if failure.timed_out:
            return UnreachableError(
                f"{self.service_name} at {shown} did not answer within {round(timeout, 1):g}s{tried}", url=shown
            )
        if failure.tls:
            return UnreachableError(
                f"TLS verification failed for {shown}: {reason}. Point ca_path at the CA bundle that signed the "
                "server certificate (validate_certs=false only for a sandbox).",
                url=shown,
            )
        return UnreachableError(
            f"Cannot reach {self.service_name} at {shown}: {reason}. "
            "Check that the service is up and that the base URL is right.",
            url=shown,
        )

    def _error_for(self, method: str, shown: str, status: int, body: Any, attempts: int) -> HTTPClientError:
        detail = _error_detail(body)
        if self.secret_url:
            detail = detail[:80]
        suffix = f": {detail}" if detail else ""
        if status in (401, 403):
            return AuthError(
                f"{self.service_name} rejected the credentials ({status} on {method} {shown}){suffix}. "
                "Check the token (option admin_token, or env ADMIN_TOKEN) and its permissions.",
                status=status, body=body, url=shown,
            )
        if status == 404:
            return NotFoundError(
                f"{method} {shown} returned 404{suffix}. If the path itself is unknown, check that the base URL "
                f"({self.base_url}) points at {self.service_name}.",
                status=status, body=body, url=shown,
            )
        if status in (409, 412):
            return ConflictError(
                f"{method} {shown} was refused ({status}){suffix}", status=status, body=body, url=shown
            )
        if status in (400, 422):
            return RequestRejectedError(
                f"{method} {shown} was rejected ({status}){suffix}", status=status, body=body, url=shown
            )
        if 300 <= status < 400:
            return ServerError(
                f"{method} {shown} answered with a redirect ({status}); redirects are not followed, so that the "
                "credentials never go to another address. Set the base URL to the final address.",
                status=status, url=shown,
            )
        if status in RETRY_STATUSES:
            return ServerError(
                (f"{method} {shown} still failed with {status} after {attempts} attempts{suffix}" if attempts > 1
                 else f"{method} {shown} answered {status}{suffix}"),
                status=status, body=body, url=shown,
            )
        return ServerError(f"{method} {shown} failed with {status}{suffix}", status=status, body=body, url=shown)


def _decode(raw: bytes) -> tuple[Any, bool]:
    """(the parsed JSON body, True), or (its text, False) when it is not JSON; (None, True) when empty."""
    if not raw:
        return None, True
    text = raw.decode("utf-8", errors="replace")
    try:
        return jsonlib.loads(text), True
    except ValueError:
        return text, False
