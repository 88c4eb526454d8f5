"""A request id that follows the work: set (or taken from a trusted X-Request-ID) for each web request,
sent back in the response, put on every log line, and carried into every Celery job the request enqueues
(a message header), where the job's own log lines and the jobs it enqueues in turn carry it too."""

import contextvars
import logging
import re
import uuid

from celery.signals import before_task_publish, task_postrun, task_prerun

REQUEST_ID_HEADER = "X-Request-ID"
CELERY_HEADER = "marketplace_request_id"
_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
# An id from outside (a proxy's) is kept only when it looks like one: it lands in every log line.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def current_request_id() -> str:
    return _request_id.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = given if _SAFE_ID.match(given) else new_request_id()
        request.request_id = request_id
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


class RequestIdFilter(logging.Filter):
    """Puts request_id on every record (empty outside a request or job)."""

    def filter(self, record):
        if not getattr(record, "request_id", ""):
            # django.request logs 4xx/5xx after the middleware returned; its record carries the request.
            from_request = getattr(getattr(record, "request", None), "request_id", "")
            record.request_id = _request_id.get() or from_request or "-"
        return True


@before_task_publish.connect(weak=False)
def _stamp_job(headers=None, **kwargs):
    request_id = _request_id.get()
    if headers is not None and request_id and CELERY_HEADER not in headers:
        headers[CELERY_HEADER] = request_id


_job_tokens: dict[str, contextvars.Token] = {}


@task_prerun.connect(weak=False)
def _enter_job(task_id=None, task=None, **kwargs):
    request_id = None
    if task is not None:
        # Protocol 2 puts message headers on the request; older paths keep them under .headers.
        request_id = getattr(task.request, CELERY_HEADER, None) or (task.request.headers or {}).get(CELERY_HEADER)
    _job_tokens[task_id] = _request_id.set(request_id or f"job-{task_id}")


@task_postrun.connect(weak=False)
def _leave_job(task_id=None, **kwargs):
    token = _job_tokens.pop(task_id, None)
    if token is not None:
        try:
            _request_id.reset(token)
        except ValueError:  # set in another context (eager jobs inside a request): leave it
            pass
