"""HTTP front of the fake Stripe: routing, Stripe's idempotency, rate limiting, injected failures, signed
webhook delivery, and a control API.

Control API (JSON bodies; no API key):
  POST /_control/reset                       forget everything
  POST /_control/config {webhook_url, webhook_secret, available (cents or {currency: cents}), rate_limit}
  POST /_control/fail_next {n, status=500, store=false, method=""}  the next n API calls (only POSTs or
      GETs with `method`) answer `status`
                                             (store=true: the failure is kept under the Idempotency-Key,
                                             as Stripe keeps a 500; false: it never reached Stripe's API)
  POST /_control/drop_after_commit {n}       the next n POSTs are executed, stored, then the connection is
                                             closed without an answer ("did it happen?")
  POST /_control/accounts/<id>/payouts {enabled}  flip an account's payouts (sends account.updated)
  POST /_control/accounts/<id>/payout_failed {amount}  send payout.failed for a connected account
  GET  /_control/state                       config, counters, all transfers (oldest first), accounts
Opening an account link (GET /_onboard/<token>) completes onboarding and sends account.updated.
"""

import hashlib
import hmac
import json
import logging
import queue
import re
import secrets
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from payments.fakestripe.forms import decode, fingerprint
from payments.fakestripe.state import API_VERSION, FakeStripe, StripeError

logger = logging.getLogger("fakestripe")
NOT_STORED_CODES = {"parameter_missing", "parameter_invalid_integer"}  # Stripe keeps no result for these


class WebhookSender(threading.Thread):
    """Delivers events in order to the configured URL, signed like Stripe (t=...,v1=HMAC-SHA256)."""

    def __init__(self, stripe: FakeStripe):
        super().__init__(daemon=True, name="fakestripe-webhooks")
        self.stripe = stripe
        self.queue: queue.Queue = queue.Queue()

    def run(self) -> None:
        while True:
            event = self.queue.get()
            if event is None:
                return
            url, secret = self.stripe.webhook_url, self.stripe.webhook_secret
            if url:
                self.deliver(url, secret, event)

    def deliver(self, url: str, secret: str, event: dict) -> bool:
        payload = json.dumps(event)
        for delay in (0, 0.5, 1, 2, 4):
            time.sleep(delay)
            timestamp = int(time.time())
            signature = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
            request = urllib.request.Request(url, data=payload.encode(), method="POST", headers={  # noqa: S310
                "Content-Type": "application/json", "Stripe-Signature": f"t={timestamp},v1={signature}",
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - configured URL
                    if 200 <= response.status < 300:
                        with self.stripe.lock:
                            self.stripe.stats["webhooks_delivered"] += 1
                        return True
            except Exception as exc:  # noqa: BLE001 - any failure is retried, as Stripe does
                logger.info("webhook %s to %s failed: %s", event["id"], url, exc)
        with self.stripe.lock:
            self.stripe.stats["webhooks_failed"] += 1
        return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    server: "FakeStripeServer"

    def log_message(self, fmt, *args):  # quiet unless asked
        if self.server.verbose:
            logger.info("%s " + fmt, self.address_string(), *args)

    # --- plumbing -----------------------------------------------------------------------------------
    def _body(self) -> str:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length).decode() if length else ""

    def _send(self, status: int, body: dict | str, headers: dict | None = None, content_type="application/json"):
        data = (json.dumps(body) if not isinstance(body, str) else body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", f"req_{secrets.token_hex(7)}")
        self.send_header("Stripe-Version", API_VERSION)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _drop(self) -> None:
        # Executed and stored, but the client never hears back: it must find out by listing or replaying.
        self.close_connection = True

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/")
        body = self._body()
        try:
            if path.startswith("/_control/"):
                return self._control(method, path, json.loads(body) if body.strip() else {})
            if path.startswith("/_onboard/"):
                return self._onboard(path.rsplit("/", 1)[-1])
            params = decode(parts.query if method == "GET" else body)
            self._api(method, path, params)
        except StripeError as exc:
            self._send(exc.status, exc.body)
        except (ValueError, KeyError) as exc:
            self._send(400, {"error": {"type": "invalid_request_error", "message": f"Bad request: {exc}"}})

    # --- Stripe API ---------------------------------------------------------------------------------
    def _api(self, method: str, path: str, params: dict) -> None:
        stripe = self.server.stripe
        auth = self.headers.get("Authorization", "")
        # Stripe takes the key as a bearer token or as the Basic user name (`curl -u sk_test_...:`).
        if not (auth.startswith(("Bearer ", "Basic ")) and len(auth) > len("Bearer ")):
            raise StripeError(401, "invalid_request_error", "You did not provide an API key.")
        if stripe.over_rate_limit():
            raise StripeError(429, "invalid_request_error", "Too many requests hit the API too quickly.",
                              code="rate_limit")
        injected = stripe.take_injected_failure(method)
        if injected and not injected[1]:
            raise StripeError(injected[0], "api_error", "Injected failure (fake Stripe).")
        key = self.headers.get("Idempotency-Key") if method == "POST" else None
        if not key:
            status, body = self._execute(method, path, params, injected)
            self._send(status, body)
            if method == "POST" and stripe.take_drop():
                self._drop()
            return
        fp = fingerprint(method, path, params)
        with stripe.lock:
            stored = stripe.idempotency.get(key)
            if stored is None and key in stripe.inflight:
                raise StripeError(409, "idempotency_error", "There is currently another in-progress request using "
                                  "this Idempotency Key. Try again later.", code="idempotency_key_in_use")
            if stored is None:
                stripe.inflight.add(key)
        if stored is not None:
            if stored["fingerprint"] != fp:
                raise StripeError(400, "idempotency_error", "Keys for idempotent requests can only be used with the "
                                  "same parameters they were first used with. Try using a key other than "
                                  f"'{key}' if you meant to execute a different request.")
            with stripe.lock:
                stripe.stats["replayed"] += 1
            self._send(stored["status"], stored["body"], {"Idempotent-Replayed": "true", "Idempotency-Key": key})
            return
        try:
            status, body = self._execute(method, path, params, injected)
            error_code = body.get("error", {}).get("code") if isinstance(body, dict) else None
            if error_code not in NOT_STORED_CODES:
                with stripe.lock:
                    stripe.idempotency[key] = {"fingerprint": fp, "status": status, "body": body}
        finally:
            with stripe.lock:
                stripe.inflight.discard(key)
        if method == "POST" and stripe.take_drop():
            return self._drop()
        self._send(status, body, {"Idempotency-Key": key})

    def _execute(self, method: str, path: str, params: dict, injected) -> tuple[int, dict]:
        if injected:
            return injected[0], {"error": {"type": "api_error", "message": "Injected failure (fake Stripe)."}}
        try:
            return 200, self._route(method, path, params)
        except StripeError as exc:
            return exc.status, exc.body

    def _route(self, method: str, path: str, params: dict) -> dict:
        stripe = self.server.stripe
        segments = path.strip("/").split("/")
        if segments[0] != "v1" or len(segments) < 2:
            raise StripeError(404, "invalid_request_error", f"Unrecognized request URL ({method}: {path}).")
        resource, rest = segments[1], segments[2:]
        if resource == "accounts" and method == "POST" and not rest:
            return stripe.account_create(params)
        if resource == "accounts" and method == "GET" and len(rest) == 1:
            return stripe.account_get(rest[0])
        if resource == "account_links" and method == "POST" and not rest:
            return stripe.account_link_create(params, self._base_url())
        if resource == "transfers":
            if method == "POST" and not rest:
                return stripe.transfer_create(params)
            if method == "GET" and not rest:
                return stripe.transfer_list(params)
            if method == "GET" and len(rest) == 1:
                return stripe.transfer_get(rest[0])
            if method == "POST" and len(rest) == 2 and rest[1] == "reversals":
                return stripe.reversal_create(rest[0], params)
        if resource == "balance" and method == "GET" and not rest:
            return stripe.balance()
        if resource == "events" and method == "GET":
            return stripe.event_get(rest[0]) if rest else stripe.event_list(params)
        raise StripeError(404, "invalid_request_error", f"Unrecognized request URL ({method}: {path}).")

    def _base_url(self) -> str:
        if self.server.public_url:  # e.g. compose: the app calls fakestripe:12111, a browser opens localhost
            return self.server.public_url
        return f"http://{self.headers.get('Host') or f'127.0.0.1:{self.server.server_port}'}"

    # --- onboarding page and control API ----------------------------------------------------------------
    def _onboard(self, token: str) -> None:
        done = self.server.stripe.onboarding_complete(token)
        if done is None:
            return self._send(410, "<h1>This onboarding link has expired or was already used.</h1>",
                              content_type="text/html")
        account, return_url = done
        link = f'<p><a href="{return_url}">Return to the marketplace</a></p>' if return_url else ""
        self._send(200, f"<h1>Onboarding complete</h1><p>Account {account['id']} can now receive payouts.</p>{link}",
                   content_type="text/html")

    def _control(self, method: str, path: str, body: dict) -> None:
        stripe = self.server.stripe
        if path == "/_control/state":
            with stripe.lock:
                return self._send(200, {"config": stripe.config(), "stats": dict(stripe.stats),
                                        "transfers": [stripe.transfers[t] for t in stripe.transfer_order],
                                        "accounts": list(stripe.accounts.values()),
                                        "events": len(stripe.event_order)})
        if method != "POST":
            raise StripeError(405, "invalid_request_error", "Control endpoints take POST.")
        if path == "/_control/reset":
            stripe.reset()
            return self._send(200, {"reset": True})
        if path == "/_control/config":
            return self._send(200, stripe.configure(body))
        if path == "/_control/fail_next":
            with stripe.lock:
                stripe.fail_next = {"n": int(body.get("n", 1)), "status": int(body.get("status", 500)),
                                    "store": bool(body.get("store", False)),
                                    "method": str(body.get("method", "")).upper()}
            return self._send(200, stripe.config())
        if path == "/_control/drop_after_commit":
            with stripe.lock:
                stripe.drop_after_commit = int(body.get("n", 1))
            return self._send(200, stripe.config())
        match = re.fullmatch(r"/_control/accounts/([^/]+)/(payouts|payout_failed)", path)
        if match:
            account = stripe.account_get(match.group(1))
            if match.group(2) == "payouts":
                return self._send(200, stripe.account_set_enabled(account["id"], bool(body.get("enabled", True))))
            payout = {"id": f"po_{secrets.token_hex(12)}", "object": "payout", "amount": int(body.get("amount", 0)),
                      "currency": "usd", "status": "failed", "failure_code": "account_closed",
                      "failure_message": "The bank account has been closed."}
            return self._send(200, stripe.emit("payout.failed", payout, account=account["id"]))
        raise StripeError(404, "invalid_request_error", f"Unknown control endpoint {path}.")


class FakeStripeServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, host: str = "127.0.0.1", port: int = 0, config: dict | None = None, verbose: bool = False,
                 public_url: str = ""):
        super().__init__((host, port), Handler)
        self.verbose = verbose
        self.public_url = public_url.rstrip("/")
        self.stripe = FakeStripe(config)
        self.sender = WebhookSender(self.stripe)
        self.sender.start()
        self.stripe.on_event = self.sender.queue.put
        self._thread: threading.Thread | None = None

    def handle_error(self, request, client_address):
        # A client that went away mid-request (a killed Celery worker) is normal here, not worth a traceback.
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeStripeServer":
        """Serve on a background thread (the pytest fixture's way)."""
        self._thread = threading.Thread(target=self.serve_forever, daemon=True, name="fakestripe")
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.sender.queue.put(None)


def serve(*, host: str = "127.0.0.1", port: int = 12111, config: dict | None = None, public_url: str = "") -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s fakestripe %(message)s")
    server = FakeStripeServer(host, port, config, verbose=True, public_url=public_url)
    logger.info("fake Stripe listening on %s (webhooks to %s)", server.url, server.stripe.webhook_url or "nowhere")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
