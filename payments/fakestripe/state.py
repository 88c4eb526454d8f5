"""The fake Stripe's in-memory state and API semantics, independent of HTTP (server.py wraps it).

Objects follow Stripe's shapes (id, object, created, livemode, ...) closely enough for the official SDK.
All state is guarded by one lock; webhook deliveries happen outside it, on a background thread.
"""

import secrets
import threading
import time
from collections import deque

API_VERSION = "2026-10-28.acacia"
DEFAULT_AVAILABLE = 1_000_000_000  # cents: plenty for local runs; tests set their own


class StripeError(Exception):
    def __init__(self, status: int, type_: str, message: str, *, code: str | None = None, param: str | None = None):
        super().__init__(message)
        self.status = status
        self.body = {"error": {"type": type_, "message": message}}
        if code:
            self.body["error"]["code"] = code
        if param:
            self.body["error"]["param"] = param


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def _int(params: dict, name: str, *, required: bool = True, minimum: int = 1) -> int | None:
    raw = params.get(name)
    if raw in (None, ""):
        if required:
            raise StripeError(400, "invalid_request_error", f"Missing required param: {name}.",
                              code="parameter_missing", param=name)
        return None
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise StripeError(400, "invalid_request_error", f"Invalid integer: {raw}", code="parameter_invalid_integer",
                          param=name) from None
    if value < minimum:
        raise StripeError(400, "invalid_request_error", f"This value must be greater than or equal to {minimum}.",
                          code="parameter_invalid_integer", param=name)
    return value


class FakeStripe:
    def __init__(self, config: dict | None = None):
        self.lock = threading.RLock()
        self.on_event = None  # set by the server: called (outside the lock) with each new event
        self.reset()
        if config:
            self.configure(config)

    # --- control ------------------------------------------------------------------------------------
    def reset(self) -> None:
        with self.lock:
            self.accounts: dict[str, dict] = {}
            self.link_tokens: dict[str, dict] = {}
            self.transfers: dict[str, dict] = {}
            self.transfer_order: list[str] = []
            self.events: dict[str, dict] = {}
            self.event_order: list[str] = []
            self.available: dict[str, int] = {"usd": DEFAULT_AVAILABLE}
            self.idempotency: dict[str, dict] = {}
            self.inflight: set[str] = set()
            self.fail_next = {"n": 0, "status": 500, "store": False, "method": ""}
            self.drop_after_commit = 0
            self.rate_limit = 0.0
            self.recent: deque[float] = deque()
            self.webhook_url = ""
            self.webhook_secret = "whsec_fake"
            self.stats = {"requests": 0, "rate_limited": 0, "replayed": 0, "dropped": 0, "failed_injected": 0,
                          "webhooks_delivered": 0, "webhooks_failed": 0}

    def configure(self, config: dict) -> dict:
        with self.lock:
            if "webhook_url" in config:
                self.webhook_url = config["webhook_url"] or ""
            if "webhook_secret" in config:
                self.webhook_secret = config["webhook_secret"] or ""
            if "rate_limit" in config:
                self.rate_limit = float(config["rate_limit"] or 0)
            if "available" in config:
                available = config["available"]
                self.available = ({k.lower(): int(v) for k, v in available.items()} if isinstance(available, dict)
                                  else {"usd": int(available)})
            return self.config()

    def config(self) -> dict:
        return {"webhook_url": self.webhook_url, "rate_limit": self.rate_limit, "available": dict(self.available),
                "fail_next": dict(self.fail_next), "drop_after_commit": self.drop_after_commit}

    # --- cross-cutting: rate limit, idempotency -------------------------------------------------------
    def over_rate_limit(self) -> bool:
        """A sliding one-second window over all API requests (Stripe's live limit is 100 writes/s)."""
        with self.lock:
            self.stats["requests"] += 1
            if not self.rate_limit:
                return False
            now = time.monotonic()
            while self.recent and now - self.recent[0] >= 1.0:
                self.recent.popleft()
            if len(self.recent) >= self.rate_limit:
                self.stats["rate_limited"] += 1
                return True
            self.recent.append(now)
            return False

    def take_injected_failure(self, method: str) -> tuple[int, bool] | None:
        with self.lock:
            if self.fail_next["n"] > 0 and self.fail_next.get("method", "") in ("", method):
                self.fail_next["n"] -= 1
                self.stats["failed_injected"] += 1
                return self.fail_next["status"], self.fail_next["store"]
            return None

    def take_drop(self) -> bool:
        with self.lock:
            if self.drop_after_commit > 0:
                self.drop_after_commit -= 1
                self.stats["dropped"] += 1
                return True
            return False

    # --- accounts -----------------------------------------------------------------------------------
    def account_create(self, params: dict) -> dict:
        kind = params.get("type", "express")
        if kind not in ("express", "custom", "standard"):
            raise StripeError(400, "invalid_request_error", f"Invalid type: {kind}", param="type")
        with self.lock:
            account = {
                "id": _id("acct"), "object": "account", "type": kind, "email": params.get("email"),
                "country": params.get("country", "US"), "default_currency": "usd", "created": int(time.time()),
                "metadata": params.get("metadata") or {}, "charges_enabled": False, "payouts_enabled": False,
                "details_submitted": False,
                "capabilities": {name: "inactive" for name in (params.get("capabilities") or {"transfers": {}})},
                "requirements": {"currently_due": ["external_account", "tos_acceptance.date"], "disabled_reason":
                                 "requirements.past_due"},
            }
            self.accounts[account["id"]] = account
            return dict(account)

    def account_get(self, account_id: str) -> dict:
        with self.lock:
            if account_id not in self.accounts:
                raise StripeError(404, "invalid_request_error", f"No such account: '{account_id}'",
                                  code="resource_missing", param="account")
            return dict(self.accounts[account_id])

    def account_link_create(self, params: dict, base_url: str) -> dict:
        account_id = params.get("account", "")
        self.account_get(account_id)
        token = secrets.token_urlsafe(16)
        with self.lock:
            self.link_tokens[token] = {"account": account_id, "return_url": params.get("return_url", ""),
                                       "used": False}
        now = int(time.time())
        return {"object": "account_link", "created": now, "expires_at": now + 300,
                "url": f"{base_url}/_onboard/{token}"}

    def onboarding_complete(self, token: str) -> tuple[dict, str] | None:
        """What opening an account link does here: the person "fills in the form" and the account can be
        paid. Sends account.updated. Returns (account, return_url), or None for an unknown/used link."""
        with self.lock:
            link = self.link_tokens.get(token)
            if link is None or link["used"]:
                return None
            link["used"] = True
        return self.account_set_enabled(link["account"], True), link["return_url"]

    def account_set_enabled(self, account_id: str, enabled: bool) -> dict:
        with self.lock:
            account = self.accounts[account_id]
            previous = {k: account[k] for k in ("payouts_enabled", "charges_enabled", "details_submitted")}
            account.update(payouts_enabled=enabled, charges_enabled=enabled, details_submitted=True)
            account["capabilities"] = {name: "active" if enabled else "inactive" for name in account["capabilities"]}
            account["requirements"] = ({"currently_due": [], "disabled_reason": None} if enabled else
                                       {"currently_due": [], "disabled_reason": "rejected.other"})
            snapshot = dict(account)
        self.emit("account.updated", snapshot, account=account_id, previous=previous)
        return snapshot

    # --- transfers ----------------------------------------------------------------------------------
    def transfer_create(self, params: dict) -> dict:
        amount = _int(params, "amount")
        currency = (params.get("currency") or "").lower()
        if not currency:
            raise StripeError(400, "invalid_request_error", "Missing required param: currency.",
                              code="parameter_missing", param="currency")
        destination = params.get("destination") or ""
        with self.lock:
            account = self.accounts.get(destination)
            if account is None:
                raise StripeError(400, "invalid_request_error", f"No such destination: '{destination}'",
                                  code="resource_missing", param="destination")
            if account["capabilities"].get("transfers") != "active" or not account["payouts_enabled"]:
                raise StripeError(400, "invalid_request_error",
                                  "Your destination account needs to have at least one of the following capabilities "
                                  "enabled: transfers, crypto_transfers, legacy_payments",
                                  code="insufficient_capabilities_for_transfer", param="destination")
            if self.available.get(currency, 0) < amount:
                raise StripeError(400, "invalid_request_error",
                                  "You have insufficient available funds in your Stripe account. Try adding funds "
                                  "directly to your available balance by creating Charges using the "
                                  "4000000000000077 test card.", code="balance_insufficient")
            self.available[currency] -= amount
            transfer_id = _id("tr")
            transfer = {
                "id": transfer_id, "object": "transfer", "amount": amount, "amount_reversed": 0,
                "balance_transaction": _id("txn"), "created": int(time.time()), "currency": currency,
                "description": params.get("description"), "destination": destination,
                "destination_payment": _id("py"), "livemode": False, "metadata": params.get("metadata") or {},
                "reversals": {"object": "list", "data": [], "has_more": False, "total_count": 0,
                              "url": f"/v1/transfers/{transfer_id}/reversals"},
                "reversed": False, "source_transaction": None, "source_type": "card",
                "transfer_group": params.get("transfer_group"),
            }
            self.transfers[transfer_id] = transfer
            self.transfer_order.append(transfer_id)
            snapshot = _copy(transfer)
        self.emit("transfer.created", snapshot)
        return snapshot

    def transfer_get(self, transfer_id: str) -> dict:
        with self.lock:
            if transfer_id not in self.transfers:
                raise StripeError(404, "invalid_request_error", f"No such transfer: '{transfer_id}'",
                                  code="resource_missing", param="id")
            return _copy(self.transfers[transfer_id])

    def transfer_list(self, params: dict) -> dict:
        limit = _int(params, "limit", required=False) or 10
        if limit > 100:
            raise StripeError(400, "invalid_request_error", "This value must be less than or equal to 100.",
                              code="parameter_invalid_integer", param="limit")
        with self.lock:
            # Newest first, as Stripe lists.
            items = [self.transfers[t] for t in reversed(self.transfer_order)]
            if params.get("transfer_group"):
                items = [t for t in items if t["transfer_group"] == params["transfer_group"]]
            if params.get("destination"):
                items = [t for t in items if t["destination"] == params["destination"]]
            if params.get("starting_after"):
                ids = [t["id"] for t in items]
                if params["starting_after"] not in ids:
                    raise StripeError(400, "invalid_request_error", "starting_after is not in this list",
                                      code="resource_missing", param="starting_after")
                items = items[ids.index(params["starting_after"]) + 1:]
            elif params.get("ending_before"):
                ids = [t["id"] for t in items]
                if params["ending_before"] in ids:
                    items = items[:ids.index(params["ending_before"])][-limit:]
            page = [_copy(t) for t in items[:limit]]
            return {"object": "list", "data": page, "has_more": len(items) > limit, "url": "/v1/transfers"}

    def reversal_create(self, transfer_id: str, params: dict) -> dict:
        with self.lock:
            transfer = self.transfers.get(transfer_id)
            if transfer is None:
                raise StripeError(404, "invalid_request_error", f"No such transfer: '{transfer_id}'",
                                  code="resource_missing", param="id")
            remaining = transfer["amount"] - transfer["amount_reversed"]
            amount = _int(params, "amount", required=False) or remaining
            if amount > remaining:
                raise StripeError(400, "invalid_request_error",
                                  f"Transfer {transfer_id} has {remaining} left to reverse, {amount} requested.",
                                  code="transfer_reversal_amount_too_large", param="amount")
            reversal = {"id": _id("trr"), "object": "transfer_reversal", "amount": amount,
                        "currency": transfer["currency"], "created": int(time.time()),
                        "metadata": params.get("metadata") or {}, "transfer": transfer_id}
            transfer["amount_reversed"] += amount
            transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
            transfer["reversals"]["data"].insert(0, reversal)
            transfer["reversals"]["total_count"] += 1
            self.available[transfer["currency"]] = self.available.get(transfer["currency"], 0) + amount
            snapshot = _copy(transfer)
        self.emit("transfer.reversed", snapshot)
        return dict(reversal)

    def balance(self) -> dict:
        with self.lock:
            return {"object": "balance", "livemode": False,
                    "available": [{"amount": v, "currency": c, "source_types": {"card": v}}
                                  for c, v in sorted(self.available.items())],
                    "pending": [{"amount": 0, "currency": c, "source_types": {"card": 0}}
                                for c in sorted(self.available)]}

    # --- events -------------------------------------------------------------------------------------
    def emit(self, type_: str, obj: dict, *, account: str | None = None, previous: dict | None = None) -> dict:
        event = {"id": _id("evt"), "object": "event", "api_version": API_VERSION, "created": int(time.time()),
                 "data": {"object": obj}, "livemode": False, "pending_webhooks": 1,
                 "request": {"id": None, "idempotency_key": None}, "type": type_}
        if previous is not None:
            event["data"]["previous_attributes"] = previous
        if account:
            event["account"] = account
        with self.lock:
            self.events[event["id"]] = event
            self.event_order.append(event["id"])
        if self.on_event:
            self.on_event(event)
        return event

    def event_get(self, event_id: str) -> dict:
        with self.lock:
            if event_id not in self.events:
                raise StripeError(404, "invalid_request_error", f"No such event: '{event_id}'",
                                  code="resource_missing", param="id")
            return _copy(self.events[event_id])

    def event_list(self, params: dict) -> dict:
        limit = _int(params, "limit", required=False) or 10
        with self.lock:
            items = [self.events[e] for e in reversed(self.event_order)]
            if params.get("type"):
                items = [e for e in items if e["type"] == params["type"]]
            if params.get("starting_after"):
                ids = [e["id"] for e in items]
                items = items[ids.index(params["starting_after"]) + 1:] if params["starting_after"] in ids else []
            return {"object": "list", "data": [_copy(e) for e in items[:limit]], "has_more": len(items) > limit,
                    "url": "/v1/events"}


def _copy(obj):
    import copy

    return copy.deepcopy(obj)
