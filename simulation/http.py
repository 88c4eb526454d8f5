"""A small HTTP client for the simulation: one requests.Session per actor, every call timed.

Latencies are recorded per label (e.g. "claim", "submit") in a shared, thread-safe Stats object so the
report can give p50/p95 of the calls that matter.
"""

import math
import threading
import time
from collections import defaultdict

import requests


class ApiError(Exception):
    def __init__(self, method: str, path: str, status: int, body):
        self.method, self.path, self.status, self.body = method, path, status, body
        super().__init__(f"{method} {path} -> {status}: {str(body)[:500]}")

    @property
    def code(self) -> str:
        if isinstance(self.body, dict):
            return str((self.body.get("error") or {}).get("code", ""))
        return ""


class Stats:
    """Latency samples (seconds) per label and status counts, shared by all actors' threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))

    def record(self, label: str, seconds: float, status: int) -> None:
        with self._lock:
            self.latencies[label].append(seconds)
            self.statuses[label][status] += 1

    def percentile(self, label: str, q: float) -> float | None:
        with self._lock:
            samples = sorted(self.latencies.get(label, []))
        if not samples:
            return None
        # Nearest-rank percentile: simple and exact for the small samples we have.
        rank = math.ceil(q / 100 * len(samples))
        return samples[max(0, min(len(samples), rank) - 1)]

    def summary(self) -> dict:
        out = {}
        for label in sorted(self.latencies):
            p50, p95 = self.percentile(label, 50), self.percentile(label, 95)
            out[label] = {"n": len(self.latencies[label]), "p50_ms": round(p50 * 1000, 1),
                          "p95_ms": round(p95 * 1000, 1), "statuses": dict(self.statuses[label])}
        return out


class Api:
    """JSON over HTTP against base_url with optional X-Session-Token or Api-Key authentication."""

    def __init__(self, base_url: str, stats: Stats, *, token: str | None = None, api_key: str | None = None,
                 timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.stats = stats
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/json"
        self.token = token
        if api_key:
            self.session.headers["Authorization"] = f"Api-Key {api_key}"

    @property
    def token(self) -> str | None:
        return self.session.headers.get("X-Session-Token")

    @token.setter
    def token(self, value: str | None) -> None:
        if value:
            self.session.headers["X-Session-Token"] = value
        else:
            self.session.headers.pop("X-Session-Token", None)

    def call(self, method: str, path: str, *, label: str | None = None, expect=(200, 201, 202, 204),
             json=None, data=None, headers=None, params=None) -> requests.Response:
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        started = time.perf_counter()
        response = self.session.request(method, url, json=json, data=data, headers=headers, params=params,
                                        timeout=self.timeout)
        self.stats.record(label or f"{method} {path.split('?')[0]}", time.perf_counter() - started,
                          response.status_code)
        if expect is not None and response.status_code not in expect:
            raise ApiError(method, path, response.status_code, body_of(response))
        return response

    def get(self, path: str, **kw):
        return body_of(self.call("GET", path, **kw))

    def post(self, path: str, json=None, **kw):
        return body_of(self.call("POST", path, json=json, **kw))

    def patch(self, path: str, json=None, **kw):
        return body_of(self.call("PATCH", path, json=json, **kw))

    def pages(self, path: str, *, label: str | None = None, params: dict | None = None) -> list:
        """Every item of a paginated list ({results, next}) or a plain list."""
        body = self.get(path, label=label, params=params)
        if isinstance(body, list):
            return body
        items = list(body.get("results", []))
        while body.get("next"):
            body = self.get(body["next"], label=label)
            items.extend(body.get("results", []))
        return items


def body_of(response: requests.Response):
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text
