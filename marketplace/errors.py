"""Errors a service raises when a request cannot be honoured. The API turns them into 4xx answers in
the one error format ({"error": {"code", "message", "fields"}}); services never import DRF."""


class ServiceError(Exception):
    status_code = 400
    default_code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, fields: dict | None = None, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.fields = fields or {}
        self.extra = extra or {}


class ValidationFailed(ServiceError):
    status_code = 400
    default_code = "invalid"


class NotFound(ServiceError):
    status_code = 404
    default_code = "not_found"


class Forbidden(ServiceError):
    status_code = 403
    default_code = "forbidden"


class Conflict(ServiceError):
    status_code = 409
    default_code = "conflict"
