# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The one HTTP client of the collection: retries, deadlines, TLS and error mapping live here only."""

from __future__ import annotations

import time
import traceback
from typing import Any
from urllib.parse import urlsplit

try:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.exceptions import MaxRetryError
    from urllib3.util.retry import Retry
except ImportError:
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR: str | None = traceback.format_exc()
    Retry = object  # type: ignore[assignment,misc]
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
    """5xx (or 429) still failing after the retries."""


class _DeadlineRetry(Retry):  # type: ignore[misc,valid-type]
    """urllib3 Retry that also stops once a wall-clock budget is spent, so a call never outlives its deadline."""

    def __init__(self, *args: Any, deadline: float | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.deadline = deadline

    def new(self, **kw: Any) -> _DeadlineRetry:
        kw.setdefault("deadline", self.deadline)
        return super().new(**kw)  # type: ignore[no-any-return]

    def is_exhausted(self) -> bool:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return True
        return bool(super().is_exhausted())

    def sleep(self, response: Any = None) -> None:
        """Back off (or honour Retry-After), but never past the deadline: a long Retry-After ends the call."""
        wanted = None
        if self.respect_retry_after_header and response is not None:
            wanted = self.get_retry_after(response)
        if wanted is None:
            wanted = self.get_backoff_time()
        if self.deadline is not None:
            wanted = min(wanted, max(0.0, self.deadline - time.monotonic()))
        if wanted > 0:
            time.sleep(wanted)


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
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/json", "User-Agent": "matbakh.hybrid_routing"})
        if headers:
            self.session.headers.update(headers)
        self.session.verify = (ca_path or True) if validate_certs else False
        self._adapter = HTTPAdapter()
        self.session.mount("http://", self._adapter)
        self.session.mount("https://", self._adapter)
        self._retry_settings = dict(
            other=0,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=None,  # writes are idempotent by contract (PATCH to a state, Idempotency-Key on POST)
            backoff_factor=0.5,
            backoff_jitter=0.5,
            backoff_max=8.0,
            respect_retry_after_header=True,
            raise_on_status=False,
            raise_on_redirect=False,
        )

    def _arm_retries(self, retries: int, budget: float) -> None:
        """Each logical request gets a fresh retry budget and deadline."""
        self._adapter.max_retries = _DeadlineRetry(
            deadline=time.monotonic() + budget,
            **dict(self._retry_settings, total=retries, connect=retries, read=retries, status=retries),
        )

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}" if self.base_url else path

    def shown(self, url: str) -> str:
        if not self.secret_url:
            return url
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname}/<redacted>"

    def _reason(self, exc: BaseException, url: str) -> str:
        reason = _root_cause(exc)
        if self.secret_url:
            path = urlsplit(url).path
            if path and path != "/":
                reason = reason.replace(path, "/<redacted>")
        return reason

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
        """Send one logical request (retried inside the adapter); return (status, decoded body) for 2xx.

        wait: one attempt that waits up to this many seconds for the answer, no retries. For polls: the poll
        loop is the retry, and it hands each poll what is left of its budget.
        """
        url = self.url(path)
        timeout, retries = (wait, 0) if wait is not None else (self.timeout, self.retries)
        self._arm_retries(retries, wait if wait is not None else self.total_timeout)
        shown = self.shown(url)
        no_answer = f"{self.service_name} at {shown} did not answer within {round(timeout, 1):g}s" + (
            f" (tried {retries + 1} times)." if retries else "."
        )
        try:
            response = self.session.request(
                method, url, json=json, params=params, headers=headers, timeout=timeout
            )
        except requests.exceptions.SSLError as exc:
            raise UnreachableError(
                f"TLS verification failed for {shown}: {self._reason(exc, url)}. Point ca_path at the CA bundle that "
                "signed the server certificate (validate_certs=false only for a sandbox).",
                url=shown,
            ) from None
        except requests.exceptions.ConnectionError as exc:
            if self._reason(exc, url) == "timed out":
                raise UnreachableError(no_answer, url=shown) from None
            raise UnreachableError(
                f"Cannot reach {self.service_name} at {shown}: {self._reason(exc, url)}. "
                "Check that the service is up and that the base URL is right.",
                url=shown,
            ) from None
        except requests.exceptions.Timeout:
            raise UnreachableError(no_answer, url=shown) from None
        except requests.exceptions.RequestException as exc:
            raise UnreachableError(f"Request to {shown} failed: {self._reason(exc, url)}", url=shown) from None
        body = _decode(response)
        if 200 <= response.status_code < 300:
            if expect_json and response.content and body is None:
                raise ServerError(
                    f"{method} {shown} answered {response.status_code} with a body that is not JSON",
                    status=response.status_code, url=shown,
                )
            return response.status_code, body
        raise self._error_for(method, shown, response.status_code, body, retries + 1)

    def _error_for(self, method: str, shown: str, status: int, body: Any, attempts: int) -> HTTPClientError:
        detail = _error_detail(body)
        if self.secret_url:
            detail = detail[:80]
        suffix = f": {detail}" if detail else ""
        if status in (401, 403):
            return AuthError(
                f"{self.service_name} rejected the credentials ({status} on {method} {shown}){suffix}. "
                "Check the token (hybrid_routing_admin_token / ADMIN_TOKEN) and its permissions.",
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
        if status in RETRY_STATUSES:
            return ServerError(
                (f"{method} {shown} still failed with {status} after {attempts} attempts{suffix}" if attempts > 1
                 else f"{method} {shown} answered {status}{suffix}"),
                status=status, body=body, url=shown,
            )
        return ServerError(f"{method} {shown} failed with {status}{suffix}", status=status, body=body, url=shown)


def _decode(response: Any) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


def _root_cause(exc: BaseException) -> str:
    """The innermost useful reason (e.g. 'Connection refused'), without the long urllib3 wrapper text."""
    reason: BaseException = exc
    seen = 0
    while seen < 10:
        seen += 1
        inner = reason.args[0] if reason.args and isinstance(reason.args[0], BaseException) else None
        if HAS_REQUESTS and isinstance(reason, MaxRetryError) and reason.reason is not None:
            inner = reason.reason
        if inner is None:
            inner = reason.__cause__ or reason.__context__
        if inner is None or inner is reason:
            break
        reason = inner
    text = str(reason)
    if "Connection refused" in text or isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if "timed out" in text.lower():
        return "timed out"
    if "RemoteDisconnected" in repr(reason) or "Connection aborted" in text or "reset by peer" in text:
        return "the connection was closed without a response"
    return text.split(": ", 1)[-1] if ": " in text else text
