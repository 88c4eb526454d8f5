from django.apps import AppConfig


def judgment_approved_received(*, judgment) -> bool:
    """The submit's credit, in the submit's transaction (docs/queue.md: a 200 means the credit is committed).
    The judgment just written goes along, with its project, so payments need not read it back."""
    from payments.services import earnings_credit_judgment

    return earnings_credit_judgment(judgment_id=judgment.pk, judgment=judgment)


def judgment_credits_cleared_received(*, judgment_ids_by_project: dict[int, list[int]]) -> dict[int, dict]:
    """The cleared and pending parts of these judgments' credits, per project (tasks' hourly pay figures)."""
    from payments.selectors import judgment_credits_cleared_by_project

    return judgment_credits_cleared_by_project(judgment_ids_by_project=judgment_ids_by_project)


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments"

    def ready(self):
        # payments answers the hook the queue calls on every approved judgment, and the read behind the
        # projects' hourly pay on cleared money (marketplace/events.py).
        from marketplace import events

        events.judgment_approved.connect(judgment_approved_received)
        events.judgment_credits_cleared.connect(judgment_credits_cleared_received)
