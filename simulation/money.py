"""The end of the day: finance pays out (create, approve with a second person, execute), and the client
pulls its results, agreement and preference export and counts the webhooks it received."""

import json
import time
from datetime import UTC, datetime

import requests
from django.conf import settings

from simulation.http import ApiError

FINAL_BATCH = {"completed", "completed_with_failures", "failed"}
OPEN_LINE = {"reserved", "sending"}


def _lines(batch: dict) -> list[dict]:
    return batch.get("lines") or []


def run_payout(sim) -> dict:
    from simulation import inprocess

    cfg = sim.config
    creator, approver = sim.finance
    # Pay follows evidence: what the day's last quality run cleared is payable before finance's batch.
    inprocess.earnings_clearance([f.user_id for f in sim.freelancers])
    cutoff = datetime.now(UTC).isoformat()
    batch = creator.api.post("/api/v1/payout-batches/", {"cutoff": cutoff, "minimum_cents": cfg.payout_minimum_cents},
                             label="finance_batch")
    batch_id = batch["id"]
    out = {"batch_id": batch_id, "lines_at_creation": len(_lines(batch))}
    if not _lines(batch):
        out["status"] = batch.get("status")
        return out
    approver.api.post(f"/api/v1/payout-batches/{batch_id}/approve/", {}, label="finance_approve")
    creator.api.call("POST", f"/api/v1/payout-batches/{batch_id}/execute/", json={}, label="finance_execute",
                     expect=(200, 202))
    deadline = time.monotonic() + cfg.payout_timeout
    while True:
        batch = creator.api.get(f"/api/v1/payout-batches/{batch_id}/", label="finance_batch_get")
        done = batch.get("status") in FINAL_BATCH and not any(line.get("status") in OPEN_LINE for line in _lines(batch))
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    out.update(status=batch.get("status"), lines=_lines(batch), timed_out=not done)
    out["transfers"] = stripe_transfers(transfer_group=batch.get("transfer_group") or f"payout-batch-{batch_id}")
    out["earnings"] = {}
    for f in sim.freelancers:
        try:
            out["earnings"][f.user_id] = f.api.get("/api/v1/me/earnings/", label="earnings")
        except ApiError as exc:
            out["earnings"][f.user_id] = {"error": str(exc)}
    return out


def stripe_transfers(*, transfer_group: str) -> list[dict] | None:
    """The transfers Stripe (the fake server, in local runs) holds for a batch, read with the platform key."""
    base = (getattr(settings, "STRIPE_API_BASE", "") or "https://api.stripe.com").rstrip("/")
    headers = {"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"}
    transfers, params = [], {"transfer_group": transfer_group, "limit": 100}
    try:
        while True:
            response = requests.get(f"{base}/v1/transfers", params=params, headers=headers, timeout=30)
            if response.status_code != 200:
                return None
            body = response.json()
            transfers.extend(body.get("data", []))
            if not body.get("has_more") or not body.get("data"):
                return transfers
            params["starting_after"] = body["data"][-1]["id"]
    except (requests.RequestException, ValueError):
        return None


def pull_client_view(sim) -> dict:
    client, pid = sim.client, sim.project["id"]
    results = client.pages(f"/api/v1/projects/{pid}/results/", label="client_results")
    agreement = client.call("GET", f"/api/v1/projects/{pid}/agreement/", label="client_agreement", expect=(200, 404))
    export = client.call("GET", f"/api/v1/projects/{pid}/export/preferences.jsonl", label="client_export",
                         expect=(200,))
    # Records only; the counts come in X-Export-* headers and from the summary endpoint beside the export.
    pairs = [json.loads(line) for line in export.text.splitlines() if line.strip()]
    export_headers = {k: v for k, v in export.headers.items() if k.lower().startswith("x-export-")}
    export_summary = client.get(f"/api/v1/projects/{pid}/export/preferences/summary/", label="client_export_summary")
    deadline = time.monotonic() + sim.config.webhook_wait
    while time.monotonic() < deadline:  # deliveries are Celery jobs: give the last ones a moment
        if sim.receiver.event_types().get("task.completed", 0) >= len(sim.regular):
            break
        time.sleep(0.5)
    project = client.get(f"/api/v1/projects/{pid}/", label="client_project_get")
    return {"results": results, "agreement": agreement.json() if agreement.status_code == 200 else None,
            "export": pairs, "export_summary": export_summary, "export_headers": export_headers,
            "project": project, "webhooks": sim.receiver.event_types(),
            "webhooks_rejected": sim.receiver.rejected}
