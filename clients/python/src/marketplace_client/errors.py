"""Exceptions mapped from the API's one error shape: {"error": {"code", "message", "fields", ...}}."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests


class MarketplaceError(Exception):
    """Base of every error this package raises for an API answer.

    `status` is the HTTP status (0 when no answer came), `code` the machine-readable code
    (`invalid`, `not_found`, `wrong_task_type`, ...), `fields` maps a field (or `lines`) to its messages,
    and `body` is the whole `error` object (it may hold more, such as `lines` for an upload)."""

    def __init__(self, message: str, *, status: int = 0, code: str = "error", fields: dict[str, Any] | None = None,
                 body: dict[str, Any] | None = None, response: requests.Response | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.fields: dict[str, Any] = fields or {}
        self.body: dict[str, Any] = body or {}
        self.response = response

    def __str__(self) -> str:
        prefix = f"{self.status} {self.code}" if self.status else self.code
        return f"{prefix}: {self.message}"


class BadRequest(MarketplaceError):
    """400: the input was refused; `fields` says what was wrong. Nothing was changed."""


class AuthenticationFailed(MarketplaceError):
    """401: missing, revoked or mistyped API key."""


class PermissionDenied(MarketplaceError):
    """403."""


class NotFound(MarketplaceError):
    """404: no such object, or it belongs to another client."""


class Conflict(MarketplaceError):
    """409: the request conflicts with the current state (e.g. resuming a completed project)."""


class UnsupportedMediaType(MarketplaceError):
    """415."""


class RateLimited(MarketplaceError):
    """429 after the retries ran out; `retry_after` is the server's last Retry-After in seconds, if any."""

    retry_after: float | None = None


class ServiceUnavailable(MarketplaceError):
    """503 after the retries ran out."""

    retry_after: float | None = None


class ServerError(MarketplaceError):
    """Any other 5xx."""


class TransportError(MarketplaceError):
    """No usable answer: connection refused or reset, timeout, or a stream cut short."""


@dataclass(frozen=True)
class LineError:
    """One refused upload row. `line` counts rows of the whole upload from 1 (not of the chunk)."""

    line: int
    errors: dict[str, list[str]]
    external_id: str | None = None

    def __str__(self) -> str:
        reasons = "; ".join(f"{path}: {', '.join(map(str, msgs))}" for path, msgs in self.errors.items())
        who = f" ({self.external_id})" if self.external_id is not None else ""
        return f"line {self.line}{who}: {reasons}"


class UploadRejected(BadRequest):
    """An upload chunk had invalid rows: that chunk stored nothing and the upload stopped there.

    `lines` lists every refused row the server reported (up to its TASKS_INGEST_MAX_ERRORS; `truncated`
    says when it stopped counting). Rows of earlier chunks were stored: `stored_rows` of them, `created`
    new and `duplicates` already known. Fix the rows and upload again from the start: known external_ids
    count as duplicates, so nothing is stored twice."""

    def __init__(self, message: str, *, lines: list[LineError], invalid_lines: int, truncated: bool,
                 stored_rows: int, created: int, duplicates: int, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.lines = lines
        self.invalid_lines = invalid_lines
        self.truncated = truncated
        self.stored_rows = stored_rows
        self.created = created
        self.duplicates = duplicates

    def __str__(self) -> str:
        shown = "\n".join(f"  {line}" for line in self.lines)
        more = "\n  ... (the server stopped listing; more lines may be invalid)" if self.truncated else ""
        return f"{super().__str__()}\n{shown}{more}"


_BY_STATUS: dict[int, type[MarketplaceError]] = {
    400: BadRequest, 401: AuthenticationFailed, 403: PermissionDenied, 404: NotFound, 409: Conflict,
    415: UnsupportedMediaType, 429: RateLimited, 503: ServiceUnavailable,
}


def error_from_response(response: requests.Response) -> MarketplaceError:
    """The exception for a 4xx/5xx answer: from the error shape when the body has one, else from the status."""
    status = response.status_code
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else MarketplaceError)
    try:
        payload = response.json()
    except ValueError:
        payload = None
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        fields = error.get("fields")
        return cls(str(error.get("message") or response.reason or status), status=status,
                   code=str(error.get("code") or "error"), fields=fields if isinstance(fields, dict) else {},
                   body=error, response=response)
    text = (response.text or "").strip()[:200]
    return cls(text or str(response.reason or "error"), status=status, code=f"http_{status}", response=response)
