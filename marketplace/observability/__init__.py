"""Operating the marketplace: Prometheus metrics (/metrics), the request id in logs and Celery jobs, and
the ops and finance consoles. docs/operations.md lists every metric with the query it reads."""
