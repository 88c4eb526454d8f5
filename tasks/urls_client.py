"""Client API routes (Api-Key): projects, ingest, results, exports, webhooks."""

urlpatterns: list = []
