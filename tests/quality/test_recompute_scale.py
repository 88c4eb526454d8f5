"""The worker's overall standing reads the median of their timed judgments in the database: the same figure
as group_median over every value (NULL and NaN left out, the two middle values averaged), with the same
statements whatever the worker's history holds (issue 15)."""

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from quality.metrics import group_median
from quality.services.recompute import _worker_median_seconds
from tasks.models import Judgment
from tests.conftest import make_user
from tests.payments.factories import make_judgment, make_project

pytestmark = pytest.mark.django_db


def _timed(worker, project, seconds, status="approved"):
    judgment = make_judgment(worker=worker, project=project, status=status)
    Judgment.objects.filter(pk=judgment.pk).update(seconds_spent=seconds)


def _expected(values):
    values = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return group_median(np.zeros(values.size, dtype=np.int64), values, n_groups=1)[0]


@pytest.mark.parametrize("values", [[4.0], [3.0, 9.5], [7.0, 1.0, 30.25, 2.0], [5.0, None, 1.0, 12.0, 0.1]])
def test_median_is_group_medians(values):
    worker = make_user("median@example.com")
    project = make_project()
    for v in values:
        _timed(worker, project, v)
    _timed(worker, project, 1000.0, status="rejected")  # not approved: not counted
    assert _worker_median_seconds(worker.pk) == _expected(values)


@pytest.mark.postgres
def test_nan_seconds_are_left_out_as_group_median_does():
    worker = make_user("nan@example.com")
    project = make_project()
    for v in (float("nan"), 2.0, 8.0, float("nan"), 3.0):
        _timed(worker, project, v)
    assert _worker_median_seconds(worker.pk) == 3.0 == _expected([np.nan, 2.0, 8.0, np.nan, 3.0])


def test_no_timed_judgment_has_no_median():
    worker = make_user("untimed@example.com")
    _timed(worker, make_project(), None)
    assert _worker_median_seconds(worker.pk) is None


def test_statements_do_not_grow_with_the_workers_history():
    worker = make_user("long@example.com")
    project = make_project()
    for v in range(3):
        _timed(worker, project, float(v))
    with CaptureQueriesContext(connection) as ctx:
        _worker_median_seconds(worker.pk)
    few = [q["sql"] for q in ctx.captured_queries]
    for v in range(20):
        _timed(worker, project, float(v))
    with CaptureQueriesContext(connection) as ctx:
        assert _worker_median_seconds(worker.pk) == _expected([0.0, 1.0, 2.0, *map(float, range(20))])
    many = [q["sql"] for q in ctx.captured_queries]
    assert len(many) == len(few) == 2
    assert "LIMIT" in many[1] and "OFFSET" in many[1]  # only the middle values leave the database


def test_a_full_load_names_no_task_ids_whatever_the_project_holds():
    """The whole project's judgments are read by project, not with every task id as a parameter: PostgreSQL
    refuses a statement of more than 65,535 parameters, which a project of that many tasks reached."""
    from quality.services.loading import project_data_load

    worker = make_user("loader@example.com")
    project = make_project()
    for v in range(4):
        _timed(worker, project, float(v))
    with CaptureQueriesContext(connection) as ctx:
        loaded = project_data_load(project=project)
    assert len(loaded.judgment_ids) == 4
    reads = [q["sql"] for q in ctx.captured_queries if 'FROM "tasks_judgment"' in q["sql"]]
    assert len(reads) == 1 and '"task_id" IN' not in reads[0], reads
