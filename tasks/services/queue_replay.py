"""A submit repeated after a lost response (the worker's retry) gets the first answer again, not 409.

The repeat is recognised by what it carries: the same worker, the same assignment (already submitted by
this submit) and the same answer after validation. Anything else about a submitted assignment is still
409 already_submitted, so a worker cannot change a committed answer by sending it again."""

from __future__ import annotations

from tasks.models import Assignment, Judgment


def submit_replay(*, assignment: Assignment, answer) -> Judgment | None:
    """The judgment this assignment's submit committed, shaped like assignment_submit's return (its
    .assignment with task and project), when `answer` (validated) is the one it recorded; else None.
    One read, only on the conflict path."""
    if assignment.status != Assignment.Status.SUBMITTED:
        return None
    judgment = (Judgment.objects.filter(assignment_id=assignment.pk, status=Judgment.Status.APPROVED)
                .order_by("id").first())
    if judgment is None or judgment.answer != answer:
        return None
    judgment.assignment, judgment.task, judgment.project = assignment, assignment.task, assignment.project
    return judgment
