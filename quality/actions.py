"""quality's levers in the apps below it (workers, tasks, payments), by the names flags record. Plain
imports: quality stands above them in the app order (docs/design.md "Apps"). A lever that refuses (raises)
is recorded on the flag and in the audit log by quality.services.flags, so ops can act by hand."""

from payments.services import earnings_hold, earnings_hold_forfeit, earnings_hold_release
from tasks.services.queue_requeue import judgments_requeue_for_worker, project_overlap_extend
from workers.services import pool_membership_reinstate, pool_membership_suspend, worker_reinstate, worker_suspend

LEVERS = {
    "worker_suspend": worker_suspend,
    "worker_reinstate": worker_reinstate,
    "pool_membership_suspend": pool_membership_suspend,
    "pool_membership_reinstate": pool_membership_reinstate,
    "judgments_requeue_for_worker": judgments_requeue_for_worker,
    "project_overlap_extend": project_overlap_extend,
    "earnings_hold": earnings_hold,
    "earnings_hold_release": earnings_hold_release,
    "earnings_hold_forfeit": earnings_hold_forfeit,
}


def lever(name: str):
    """The function behind a lever (looked up when called, so a test may monkeypatch it in its module)."""
    return LEVERS[name]
