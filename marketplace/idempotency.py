"""Idempotency-Key on API writes, like Stripe's: a client that lost a response sends the same request with
the same key and gets the first answer again, instead of doing the write twice.

Covers POST, PUT, PATCH and DELETE under /api/v1/ that carry an `Idempotency-Key` header (1-255 printable
characters) and a body of at most IDEMPOTENCY_MAX_BODY_BYTES (bigger uploads are task ingest, idempotent
by external_id). Keys are scoped to the principal (the signed-in user, or the client of an API key), so
nobody can read another's answer by guessing a key.

- First use: the request runs inside one transaction together with the IdempotencyKey row that stores its
  answer, so the write and the stored answer commit together, or neither does. Only 2xx answers are stored:
  an error changed nothing (our rule for 4xx, and a failure before the commit for 5xx), so the retry runs again.
- Same key, same request (method, path, query, body): the stored answer, with `Idempotent-Replayed: true`.
- Same key, another request: 422 `idempotency_key_reused`, nothing done.
- Two twins at once: both run, the unique constraint (principal, key) lets one commit; the other's
  transaction (its write included) rolls back and it answers the winner's stored answer.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse, JsonResponse
from django.utils import timezone

from marketplace.api.errors import error_body
from marketplace.models import IdempotencyKey

HEADER = "Idempotency-Key"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PREFIX = "/api/v1/"


def _principal(request) -> str | None:
    """user:<id> or client:<id> from the request's credentials (the same authenticators the API views use),
    or None when the request carries none that are valid (the view answers 401/403 itself)."""
    from rest_framework.request import Request

    from marketplace import events
    from marketplace.api.authentication import SessionTokenAuthentication

    drf_request = Request(request)
    try:
        # API keys are tasks' (clients): asked through a hook, tasks standing above marketplace.
        client_id = events.api_key_client.ask(request=drf_request)
        found = None if client_id is not None else SessionTokenAuthentication().authenticate(drf_request)
    except Exception:  # noqa: BLE001 - bad credentials: not ours to answer
        return None
    if client_id is not None:
        return f"client:{client_id}"
    if found is not None and getattr(found[0], "is_authenticated", False):
        return f"user:{found[0].pk}"
    return None


def _fingerprint(request) -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.path, request.META.get("QUERY_STRING", "")):
        digest.update(part.encode() + b"\0")
    digest.update(request.body)
    return digest.hexdigest()


def _replay(stored: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(bytes(stored.response_body), status=stored.status_code, content_type=stored.content_type)
    response["Idempotent-Replayed"] = "true"
    return response


def _refuse(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse(error_body(code, message, {"Idempotency-Key": [message]}), status=status)


def _answer_stored(stored: IdempotencyKey, fingerprint: str) -> HttpResponse:
    if stored.request_hash != fingerprint:
        return _refuse("idempotency_key_reused",
                       f"This Idempotency-Key was used for another request ({stored.method} {stored.path}); "
                       "use a new key for a new request.", 422)
    return _replay(stored)


class IdempotencyKeyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        key = request.headers.get(HEADER)
        if key is None or request.method not in UNSAFE or not request.path.startswith(PREFIX):
            return self.get_response(request)
        if not 1 <= len(key) <= 255 or not key.isprintable():
            return _refuse("invalid_idempotency_key", "Idempotency-Key must be 1 to 255 printable characters.", 400)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.IDEMPOTENCY_MAX_BODY_BYTES:
            return self.get_response(request)  # an upload: idempotent by its own keys (external_id)
        principal = _principal(request)
        if principal is None:
            return self.get_response(request)
        fingerprint = _fingerprint(request)
        stored = IdempotencyKey.objects.filter(principal=principal, key=key).first()
        if stored is not None:
            return _answer_stored(stored, fingerprint)
        try:
            with transaction.atomic():
                response = self.get_response(request)
                if 200 <= response.status_code < 300 and not getattr(response, "streaming", False):
                    IdempotencyKey.objects.create(
                        principal=principal, key=key, method=request.method, path=request.path[:2000],
                        request_hash=fingerprint, status_code=response.status_code,
                        content_type=response.get("Content-Type", "application/json"),
                        response_body=response.content)
        except IntegrityError:
            # A twin with the same key committed first: this run rolled back whole; answer as the twin did.
            stored = IdempotencyKey.objects.filter(principal=principal, key=key).first()
            if stored is None:
                raise
            return _answer_stored(stored, fingerprint)
        return response


def idempotency_keys_prune(*, limit: int = 10_000) -> int:
    """Deletes stored answers older than IDEMPOTENCY_KEEP_SECONDS (at most `limit` per call)."""
    cutoff = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_KEEP_SECONDS)
    ids = list(IdempotencyKey.objects.filter(created_at__lt=cutoff).values_list("id", flat=True)[:limit])
    return IdempotencyKey.objects.filter(pk__in=ids).delete()[0] if ids else 0
