"""The client's webhook endpoint: a local HTTP server that records and verifies the marketplace's calls.

Signature (docs/api.md): header X-Marketplace-Signature "t=<unix seconds>,v1=<hex HMAC-SHA256 of
'{t}.{body}' with the client's webhook secret>".
"""

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SIGNATURE_HEADER = "X-Marketplace-Signature"


def signature_valid(header: str | None, body: bytes, secret: str, *, tolerance: int = 300) -> bool:
    if not header or not secret:
        return False
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    candidates = [v for k, v in (p.split("=", 1) for p in header.split(",") if "=" in p) if k.strip() == "v1"]
    return any(hmac.compare_digest(expected, c.strip()) for c in candidates)


class WebhookReceiver:
    """Starts on 127.0.0.1 and a free port; .url is the callback URL; .events the verified calls."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, advertised_host: str | None = None):
        """Listens on host:port (port 0: any free one); .url names advertised_host (default: host), for
        when the marketplace's Celery workers reach this machine under another name (containers)."""
        self.advertised_host = advertised_host or host
        self.secret = ""
        self.events: list[dict] = []
        self.rejected = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                ok = signature_valid(self.headers.get(SIGNATURE_HEADER), body, receiver.secret)
                with receiver._lock:
                    if ok:
                        try:
                            payload = json.loads(body or b"null")
                        except ValueError:
                            payload = None
                        receiver.events.append({"received_at": time.time(), "payload": payload})
                    else:
                        receiver.rejected += 1
                self.send_response(200 if ok else 400)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):  # keep the simulation's console clean
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="webhook-receiver", daemon=True)

    @property
    def url(self) -> str:
        port = self.server.server_address[1]
        return f"http://{self.advertised_host}:{port}/hooks/marketplace"

    def start(self) -> "WebhookReceiver":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def event_types(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        with self._lock:
            for event in self.events:
                payload = event["payload"] if isinstance(event["payload"], dict) else {}
                kind = str(payload.get("type") or payload.get("event") or "unknown")
                counts[kind] = counts.get(kind, 0) + 1
        return counts
