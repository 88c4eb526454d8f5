"""Writes of tasks/. Client-facing (clients, projects, ingest, results, webhooks) and the queue live in
separate modules of this package."""
