"""python -m payments.fakestripe --port 12111 [--webhook-url URL] [--webhook-secret S] [--rate-limit N]"""

import argparse
import os

from payments.fakestripe.server import serve


def main() -> None:
    parser = argparse.ArgumentParser(description="Fake Stripe server (Connect transfers, idempotency, webhooks).")
    parser.add_argument("--host", default=os.environ.get("FAKESTRIPE_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("FAKESTRIPE_PORT", "12111")))
    parser.add_argument("--webhook-url", default=os.environ.get("FAKESTRIPE_WEBHOOK_URL", ""),
                        help="where to POST signed events, e.g. http://127.0.0.1:8000/webhooks/stripe/")
    parser.add_argument("--webhook-secret", default=os.environ.get("STRIPE_WEBHOOK_SECRET", "whsec_fake"))
    parser.add_argument("--rate-limit", type=float, default=float(os.environ.get("FAKESTRIPE_RATE_LIMIT", "0")),
                        help="requests per second before answering 429 (0: no limit)")
    parser.add_argument("--public-url", default=os.environ.get("FAKESTRIPE_PUBLIC_URL", ""),
                        help="base of account-link URLs when browsers reach the server under another name")
    parser.add_argument("--available", type=int, default=None, help="available balance in cents (usd)")
    args = parser.parse_args()
    config = {"webhook_url": args.webhook_url, "webhook_secret": args.webhook_secret, "rate_limit": args.rate_limit}
    if args.available is not None:
        config["available"] = args.available
    serve(host=args.host, port=args.port, config=config, public_url=args.public_url)


if __name__ == "__main__":
    main()
