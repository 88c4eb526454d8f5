"""A fake Stripe server for tests and the local stack: `python -m payments.fakestripe --port 12111`.

Standard library only (no Django), state in memory behind one lock. It speaks Stripe's HTTP API for what
the marketplace uses (Connect express accounts, account links, transfers with transfer_group and listing,
transfer reversals, balance, events), with Stripe's idempotency semantics, its errors (balance_insufficient,
a destination without the transfers capability, rate limiting with 429), injectable failures, and signed
webhook delivery. A control API under /_control/ configures it (see server.py).
"""

from payments.fakestripe.server import FakeStripeServer, serve
from payments.fakestripe.state import FakeStripe

__all__ = ["FakeStripe", "FakeStripeServer", "serve"]
