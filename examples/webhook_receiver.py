"""A local webhook receiver for trying the marketplace's callbacks beside `make run` (docs/tasks.md, Webhooks).

    python3 examples/webhook_receiver.py var/webhooks &

Listens on a free port of 127.0.0.1 and writes its URL to var/webhooks/url. Every POST is answered 204 and
stored as var/webhooks/<n>.json: the event, its headers, and whether its X-Marketplace-Signature verifies
with the secret in var/webhooks/secret (write the webhook_secret there once you have it; until then
"verified" is null). A `make run` accepts a loopback callback because its var/local.env has
WEBHOOKS_ALLOW_PRIVATE_URLS=1 (production refuses one: callbacks must be public). Standard library only.
"""

import hashlib
import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def verify(secret: str, raw_body: bytes, header: str, tolerance: int = 300) -> bool:
    """The check of docs/tasks.md: HMAC-SHA256 over "{t}.{raw body}", t within `tolerance` seconds."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        t = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(time.time() - t) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{t}.".encode() + raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


def serve(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the http.server hook
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            secret_file = folder / "secret"
            secret = secret_file.read_text().strip() if secret_file.exists() else ""
            signature = self.headers.get("X-Marketplace-Signature", "")
            try:
                event = json.loads(body)
            except ValueError:
                event = body.decode(errors="replace")
            record = {"path": self.path, "event_type": self.headers.get("X-Marketplace-Event"),
                      "verified": verify(secret, body, signature) if secret else None, "event": event}
            with lock:
                number = len(list(folder.glob("*.json"))) + 1
                (folder / f"{number}.json").write_text(json.dumps(record) + "\n")
            self.send_response(204)
            self.end_headers()

        def log_message(self, format, *args):  # noqa: A002 - quiet: the files are the log
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    (folder / "url").write_text(f"http://127.0.0.1:{server.server_address[1]}/hooks\n")
    server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    serve(Path(sys.argv[1]))
