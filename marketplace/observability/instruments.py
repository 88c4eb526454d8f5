"""Our own counters and histograms (prometheus-client). Processes that run code increment them where the
event happens; /metrics reads them. Under gunicorn with several workers, or beside Celery workers on the same
host, set PROMETHEUS_MULTIPROC_DIR (an empty folder shared by those processes, emptied at each deploy):
prometheus-client then writes each process's values to files there and /metrics adds them up
(docs/operations.md, "Several processes")."""

from prometheus_client import Counter, Histogram

# Seconds: a claim is a few ms on PostgreSQL; the top buckets catch lock waits and slow plans.
_LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

CLAIMS = Counter("marketplace_claims_total", "Claims that gave the worker a task (201).")
CLAIMS_EMPTY = Counter("marketplace_claims_empty_total", "Claims answered 204: nothing available for the worker.")
SUBMITS = Counter("marketplace_submits_total", "Judgments submitted (201).")
CLAIM_SECONDS = Histogram("marketplace_claim_seconds", "Server time of POST /assignments/claim/, by outcome.",
                          ["outcome"], buckets=_LATENCY_BUCKETS)
SUBMIT_SECONDS = Histogram("marketplace_submit_seconds", "Server time of POST /assignments/{id}/submit/, by outcome.",
                           ["outcome"], buckets=_LATENCY_BUCKETS)
LEASE_EXPIRIES = Counter("marketplace_lease_expiries_total", "Leases returned to the queue because they expired.")
CELERY_FAILURES = Counter("marketplace_celery_job_failures_total", "Celery jobs that raised (after their retries).",
                          ["job"])
CELERY_RETRIES = Counter("marketplace_celery_job_retries_total", "Celery jobs that asked to be retried.", ["job"])
WEBHOOK_DELIVERIES = Counter("marketplace_webhook_deliveries_total",
                             "Attempts to deliver a webhook to a client, by outcome (delivered, retry, failed, ...).",
                             ["outcome"])


class TimedQueueView:
    """Mixin for the claim and submit views: times the whole request (authentication included) into
    ``histogram`` by outcome (the status code), and counts the outcomes the queue cares about."""

    histogram: Histogram
    counted: dict[int, Counter] = {}

    def dispatch(self, request, *args, **kwargs):
        import time

        started = time.perf_counter()
        response = super().dispatch(request, *args, **kwargs)
        self.histogram.labels(str(response.status_code)).observe(time.perf_counter() - started)
        counter = self.counted.get(response.status_code)
        if counter is not None:
            counter.inc()
        return response


class TimedClaim(TimedQueueView):
    histogram = CLAIM_SECONDS
    counted = {201: CLAIMS, 204: CLAIMS_EMPTY}


class TimedSubmit(TimedQueueView):
    histogram = SUBMIT_SECONDS
    counted = {200: SUBMITS}
