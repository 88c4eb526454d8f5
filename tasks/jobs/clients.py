"""Client-facing jobs (webhooks to clients)."""
