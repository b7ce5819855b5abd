# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The one HTTP client of the collection: retries, deadlines, TLS and error mapping live here only.

Built on the standard library (urllib.request) on purpose: it needs no dependency on any host, and inside an Ansible
worker it costs no import time (the controller has already loaded it), which matters because the modules of this
collection run in-process on the controller (see plugin_utils/_inprocess.py).
"""

from __future__ import annotations

import email.utils
import http.client
import json as jsonlib
import random
import socket
import ssl
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode, urlsplit

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


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: it could carry the bearer token to another host. The 3xx is reported instead."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
        return None


class _NoAnswer(Exception):
    """One attempt got no HTTP answer; `reason` is short and safe to show."""

    def __init__(self, reason: str, timed_out: bool = False, tls: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.timed_out = timed_out
        self.tls = tls


def _no_answer(exc: BaseException) -> _NoAnswer:
    """Name why an attempt got no answer, without urllib's long wrapper text."""
    reason: Any = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, ssl.SSLError):
        return _NoAnswer(getattr(reason, "verify_message", None) or reason.reason or str(reason), tls=True)
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return _NoAnswer("timed out", timed_out=True)
    if isinstance(reason, ConnectionRefusedError):
        return _NoAnswer("connection refused")
    if isinstance(reason, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError, http.client.HTTPException)):
        return _NoAnswer("the connection was closed without a response")
    if isinstance(reason, socket.gaierror):
        return _NoAnswer(f"the host name could not be resolved ({reason.strerror})")
    if isinstance(reason, OSError) and reason.strerror:
        return _NoAnswer(reason.strerror.lower())
    return _NoAnswer(str(reason))


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


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


class HTTPClient:
    """JSON over HTTP with bounded retries. Never logs headers: they carry the credentials."""

    # Backoff between retries: none before the first, then backoff_factor x 2^(n-1) plus up to backoff_jitter
    # seconds of jitter, at most backoff_max; a Retry-After answer overrides it. Never past the call's deadline.
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
    ):
        self.base_url = validate_base_url(base_url) if base_url else ""
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
        self._openers: dict[str, Any] = {}

    def _opener(self, url: str) -> Any:
        """The opener for the URL's scheme. The TLS context (loading the CA store costs tens of milliseconds) is
        only built for https, once per client."""
        scheme = urlsplit(url).scheme
        if scheme not in self._openers:
            handlers: list[Any] = [_NoRedirect()]
            if scheme == "https":
                if self.validate_certs:
                    context = ssl.create_default_context(cafile=self.ca_path or None)
                else:
                    context = ssl.create_default_context()
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                handlers.append(urllib.request.HTTPSHandler(context=context))
            self._openers[scheme] = urllib.request.build_opener(*handlers)
        return self._openers[scheme]

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}" if self.base_url else path

    def shown(self, url: str) -> str:
        if not self.secret_url:
            return url
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname}/<redacted>"

    def _send(self, method: str, url: str, data: bytes | None, headers: dict[str, str],
              timeout: float) -> tuple[int, Any, bytes]:
        """One attempt: (status, headers, body) for any HTTP answer; _NoAnswer when none came."""
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with self._opener(url).open(request, timeout=timeout) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as exc:
            try:
                return exc.code, exc.headers, exc.read()
            finally:
                exc.close()
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            raise _no_answer(exc) from None

    def _backoff(self, retry: int, headers: Any) -> float:
        wanted = _retry_after(headers.get("Retry-After")) if headers is not None else None
        if wanted is not None:
            return wanted
        if retry <= 1:
            return 0.0
        return min(self.backoff_max, self.backoff_factor * 2 ** (retry - 1) + random.random() * self.backoff_jitter)

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
        url = self.url(path) + (f"?{urlencode(params)}" if params else "")
        shown = self.shown(self.url(path))
        timeout, retries = (wait, 0) if wait is not None else (self.timeout, self.retries)
        deadline = time.monotonic() + (wait if wait is not None else self.total_timeout)
        data = jsonlib.dumps(json).encode() if json is not None else None
        sent_headers = dict(self.headers, **(headers or {}))
        if data is not None:
            sent_headers["Content-Type"] = "application/json"
        attempt = 0
        while True:
            attempt += 1
            answer_headers = None
            try:
                status, answer_headers, raw = self._send(
                    method, url, data, sent_headers, max(0.05, min(timeout, deadline - time.monotonic()))
                )
            except _NoAnswer as exc:
                failure: _NoAnswer | int = exc
            else:
                if status not in RETRY_STATUSES:
                    return self._answer(method, shown, status, raw, expect_json, attempt)
                failure = status
            pause = self._backoff(attempt, answer_headers)
            if attempt > retries or time.monotonic() + pause >= deadline:
                if isinstance(failure, _NoAnswer):
                    raise self._unreachable(failure, shown, timeout, attempt)
                raise self._error_for(method, shown, failure, _decode(raw)[0], attempt)
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
