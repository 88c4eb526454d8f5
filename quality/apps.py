from django.apps import AppConfig


def task_completion_jobs(*, task_id: int) -> list[tuple[str, list]]:
    """The jobs every submit records (gold or real, completing or not; the submit asks before it knows, so
    no database access): the consensus job, which computes the consensus of a task it finds completed and
    hands it back down (tasks.services.completion.task_consensus_ready), and returns at once for any other."""
    return [("quality.jobs.task_consensus_compute", [task_id])]


def task_completed_received(*, task_id: int) -> None:
    """In the queue's transaction: the consensus job is an outbox row, so it exists iff the completion
    commits."""
    from marketplace.outbox import outbox_enqueue_many

    outbox_enqueue_many(task_completion_jobs(task_id=task_id))


class QualityConfig(AppConfig):
    name = "quality"
    verbose_name = "Quality"

    def ready(self):
        # quality answers the hooks that the apps below it call (marketplace/events.py, docs/design.md "Apps").
        from marketplace import events
        from quality import pay_evidence, selectors, services

        events.task_completed.connect(task_completed_received)
        events.task_completion_jobs.connect(task_completion_jobs)
        events.task_consensus.connect(selectors.task_consensus_get)
        events.project_agreement.connect(selectors.project_agreement_get)
        events.project_agreement_ensure.connect(services.project_agreement_ensure)
        events.worker_gold_shares.connect(selectors.worker_gold_shares)
        events.worker_standing.connect(selectors.worker_standing_get)
        events.worker_pay_verdicts.connect(pay_evidence.worker_pay_verdicts)
