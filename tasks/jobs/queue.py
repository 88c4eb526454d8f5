"""Queue jobs (lease expiry, aging, work notifications)."""
