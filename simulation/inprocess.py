"""What the simulation does in-process, through the marketplace's own code rather than HTTP.

Only what has no public HTTP equivalent or is an operator's job: staff accounts (the demo ones), the skill
row, a client and its API key (what `manage.py create_client_key` does), nudging Celery to score now
instead of at the next beat, and read-only observation for the report (queue depth, ledger totals).
The command runs with the same settings (database) as the server it drives.
"""

import logging

from django.db import transaction
from django.db.models import F, Sum
from django.db.models.functions import Greatest

logger = logging.getLogger(__name__)


def ensure_staff() -> None:
    """The demo staff logins (marketplace.demo): created if missing, passwords of existing ones untouched."""
    from marketplace.demo import seed_staff

    seed_staff()


def ensure_skill(slug: str) -> None:
    from workers.models import Skill

    Skill.objects.get_or_create(slug=slug, defaults={"name": slug.replace("-", " ").title()})


@transaction.atomic
def client_create(*, name: str) -> str:
    """A new client with one API key, as `manage.py create_client_key` makes them; the key is shown once."""
    from tasks.models import Client, ClientAPIKey

    client = Client.objects.create(name=name)
    _, key = ClientAPIKey.objects.create_key(name=f"{name} key", client=client)
    return key


def quiz_slug_for(skill: str) -> str | None:
    from workers.models import Quiz

    return Quiz.objects.filter(skill__slug=skill).values_list("slug", flat=True).first()


def quality_recompute(project_id: int) -> str:
    """Enqueues the quality recompute of one project on the broker (what beat does periodically).
    Returns the job's name."""
    from quality.jobs import project_quality_recompute

    transaction.on_commit(lambda: project_quality_recompute.delay(project_id))
    return "project_quality_recompute"


def quality_run_mark(project_id: int) -> tuple:
    """(last run, watermark) of the project's quality runs: changes with every run, amortised ones included
    (the agreement's computed_at changes only with a full refit, docs/quality.md)."""
    from quality.models import ProjectQualityState

    state = ProjectQualityState.objects.filter(project_id=project_id).values_list("last_run_at",
                                                                                 "watermark_judgment_id").first()
    return tuple(state or (None, 0))


def quality_caught_up(project_id: int) -> bool:
    """The project's quality figures cover its newest judgment and no refit is pending (a requeue marks one)."""
    from tasks.models import Judgment

    last_run, watermark = quality_run_mark(project_id)
    newest = Judgment.objects.filter(project_id=project_id).order_by("-id").values_list("id", flat=True).first()
    return last_run is not None and (newest or 0) <= watermark


def queue_state(project_id: int) -> dict:
    """Open slots of regular tasks (queue depth), tasks complete and judgments so far."""
    from tasks.models import Judgment, Task

    regular = Task.objects.filter(project_id=project_id, is_gold=False)
    open_tasks = regular.filter(status=Task.Status.OPEN)
    depth = open_tasks.aggregate(n=Sum(Greatest(F("overlap") - F("n_active"), 0)))["n"] or 0
    return {
        "open_slots": int(depth),
        "tasks_total": regular.count(),
        "tasks_complete": regular.filter(status=Task.Status.COMPLETE).count(),
        "judgments": Judgment.objects.filter(project_id=project_id, status=Judgment.Status.APPROVED).count(),
    }


def earnings_clearance(worker_ids: list[int]) -> dict:
    """Runs the clearing run the last quality recompute enqueued (payments.jobs.earnings_clearance_review),
    here and now, so the batch that follows sees what the evidence cleared (the job may still be in the
    broker's queue; running it twice moves nothing twice)."""
    from payments.services.clearance import earnings_clearance_review

    return earnings_clearance_review(worker_ids=worker_ids)


def ledger_check(*, worker_ids: list[int]) -> dict:
    """The ledger's own consistency (read-only): every transaction sums to zero, the whole ledger sums to
    zero, every cached account balance equals the sum of its entries; and per worker what the ledger
    says was paid against the payout lines marked paid."""
    from payments import selectors as pay
    from payments.models import LedgerAccount, LedgerEntry, PayoutLine

    sums = pay.ledger_account_entry_sums()
    # The platform funding account's balance is deliberately not cached (its row would be a lock every
    # credit waits on): only the cached balances are compared with their entries.
    cached = LedgerAccount.objects.exclude(kind=LedgerAccount.Kind.PLATFORM_FUNDING)
    drift = [{"account": a.pk, "kind": a.kind, "balance_cents": a.balance_cents, "entries_cents": sums.get(a.pk, 0)}
             for a in cached if a.balance_cents != sums.get(a.pk, 0)]
    # What each worker earned in the day: their judgments' credits, wherever the money went next.
    credited = dict(LedgerEntry.objects.filter(transaction__kind="judgment_credit", account__worker_id__in=worker_ids)
                    .values("account__worker_id").annotate(t=Sum("amount_cents"))
                    .values_list("account__worker_id", "t"))
    paid_lines: dict[int, int] = {}
    line_counts: dict[int, int] = {}
    for line in PayoutLine.objects.filter(worker_id__in=worker_ids):
        line_counts[line.worker_id] = line_counts.get(line.worker_id, 0) + 1
        if line.status == "paid":
            paid_lines[line.worker_id] = paid_lines.get(line.worker_id, 0) + line.amount_cents
    return {
        "ledger_total_cents": LedgerEntry.objects.aggregate(t=Sum("amount_cents"))["t"] or 0,
        "unbalanced_transactions": pay.ledger_unbalanced_transactions(),
        "balance_drift": drift,
        "paid_lines_cents": paid_lines,
        "credited_cents": credited,
        "payout_lines": line_counts,
    }
