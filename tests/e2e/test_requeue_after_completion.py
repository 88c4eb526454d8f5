"""Found by the simulation (and fixed in tasks/): a rater flagged after the project's last task completed
has their judgments requeued and the tasks reopen; the project must reopen too, since the queue only serves
active projects, or the reopened tasks starve.

Given a completed one-task project, when the only judgment is requeued by quality review,
then another qualified worker can claim the task again.
"""

import pytest

from tasks.models import Project, Task
from tasks.services.projects import project_mark_completed
from tasks.services.queue import assignment_claim
from tasks.services.queue_leases import assignment_submit
from tasks.services.queue_requeue import judgments_requeue_for_worker
from tests.tasks.test_queue_factories import make_project, make_tasks, make_worker


@pytest.mark.django_db
def test_work_requeued_after_the_project_completed_is_served_again():
    project = make_project(overlap=1)
    [task] = make_tasks(project, 1)
    flagged, honest = make_worker("flagged@example.com"), make_worker("honest@example.com")
    claim = assignment_claim(user=flagged, project_id=project.id)
    assignment_submit(user=flagged, assignment_id=claim.assignment_id, answer={"choice": "a"})
    project_mark_completed(project_id=project.id)  # what the task.completed job does on commit
    assert Project.objects.get(pk=project.pk).status == Project.Status.COMPLETED

    judgments_requeue_for_worker(worker_id=flagged.id, project_id=project.id, reason="confirmed flag")

    assert Task.objects.get(pk=task.pk).status == Task.Status.OPEN
    again = assignment_claim(user=honest, project_id=project.id)
    assert again is not None and again.task_id == task.pk
