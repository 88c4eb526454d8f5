"""The payout batch CSV, shared by the finance API (export.csv) and the admin's export link, so both
always give finance the same columns."""

import io

from marketplace.csv_safe import csv_writer
from payments.models import PayoutBatch
from payments.selectors import payout_lines

PAYOUT_CSV_COLUMNS = ["batch", "line", "worker_id", "worker_email", "destination", "amount_cents", "currency",
                      "status", "stripe_transfer_id", "reversed_cents", "idempotency_key", "last_error"]


def payout_batch_csv(*, batch: PayoutBatch) -> str:
    """Every line of the batch, in line order, one CSV row each (header first). Two queries."""
    out = io.StringIO()
    writer = csv_writer(out)  # emails, destinations and errors are text others wrote
    writer.writerow(PAYOUT_CSV_COLUMNS)
    for line in payout_lines(batch_id=batch.pk):
        writer.writerow([batch.pk, line.pk, line.worker_id, line.worker.email, line.destination, line.amount_cents,
                         line.currency, line.status, line.stripe_transfer_id or "", line.reversed_cents,
                         line.idempotency_key, line.last_error])
    return out.getvalue()
