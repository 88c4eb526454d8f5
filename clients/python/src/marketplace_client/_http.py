"""HTTP plumbing: one requests.Session, retries with backoff on 429/503 honouring Retry-After, and errors
mapped to exceptions."""

from __future__ import annotations

import email.utils
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from marketplace_client.errors import (
    MarketplaceError,
    RateLimited,
    ServiceUnavailable,
    TransportError,
    error_from_response,
)

RETRY_STATUSES = frozenset({429, 503})
USER_AGENT = "marketplace-client/0.1 (python-requests)"


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry.

    A 429 or 503 is retried for every method: the server did not act on the request. A connection error or
    timeout is retried only where repeating is harmless: reads, task uploads (idempotent by external_id)
    and writes sent with an Idempotency-Key. The wait is the server's Retry-After when it gives one (at
    most `max_retry_after` seconds: a longer one raises at once), otherwise `backoff` x 2^attempt with
    full jitter, at most `max_backoff`."""

    max_retries: int = 5
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_retry_after: float = 120.0


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date (RFC 9110 section 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class Transport:
    def __init__(self, base_url: str, api_key: str, *, timeout: float | tuple[float, float] = (10.0, 300.0),
                 retry: RetryPolicy | None = None, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.session = session or requests.Session()
        self.session.headers["Authorization"] = f"Api-Key {api_key}"
        self.session.headers.setdefault("User-Agent", USER_AGENT)
        self._sleep = sleep

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"

    def request(self, method: str, path: str, *, idempotent: bool | None = None, idempotency_key: bool = False,
                stream: bool = False, **kwargs: Any) -> requests.Response:
        """Send with retries; return a 2xx response or raise the mapped MarketplaceError.

        `idempotency_key=True` sends one Idempotency-Key for this call, the same on every retry, so a write
        retried after a lost answer is not applied twice by a server that honours the header."""
        method = method.upper()
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "OPTIONS")
        headers = dict(kwargs.pop("headers", None) or {})
        if idempotency_key:
            headers.setdefault("Idempotency-Key", str(uuid.uuid4()))
            idempotent = True
        kwargs.setdefault("timeout", self.timeout)
        attempt = 0
        while True:
            try:
                response = self.session.request(method, self.url(path), headers=headers, stream=stream, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if not idempotent or attempt >= self.retry.max_retries:
                    raise TransportError(f"{method} {path}: {exc}") from exc
                self._sleep(self._backoff(attempt))
                attempt += 1
                continue
            if response.status_code < 400:
                return response
            if response.status_code in RETRY_STATUSES:
                wait = retry_after_seconds(response.headers.get("Retry-After"))
                if attempt < self.retry.max_retries and (wait is None or wait <= self.retry.max_retry_after):
                    response.close()
                    self._sleep(self._backoff(attempt) if wait is None else wait)
                    attempt += 1
                    continue
                error = self._error(response)
                if isinstance(error, (RateLimited, ServiceUnavailable)):
                    error.retry_after = wait
                raise error
            raise self._error(response)

    def _error(self, response: requests.Response) -> MarketplaceError:
        _ = response.content  # a streamed answer: read the (small) error body before closing
        response.close()
        return error_from_response(response)

    def _backoff(self, attempt: int) -> float:
        return random.uniform(0, min(self.retry.max_backoff, self.retry.backoff * (2 ** attempt)))  # noqa: S311

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        try:
            return response.json() if response.content else None
        except ValueError as exc:
            raise TransportError(f"{method} {path}: the answer is not JSON: {response.text[:200]!r}",
                                 status=response.status_code) from exc
