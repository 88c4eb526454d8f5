"""Row locks that only change non-key columns are FOR NO KEY UPDATE, so they never wait for the foreign-key
checks (FOR KEY SHARE) of the inserts that reference the row: a claim or a submit in flight.

A plain FOR UPDATE on a project closed a deadlock cycle in the simulated day: a completion job's project
lock waited for a committing claim (its key-share check on the project: Django's foreign keys are checked at
commit), and another claim's check queued behind that lock while holding what the first one waited for;
PostgreSQL killed a claim, answered 503.

Each test holds the row the way the other transaction does, in a thread with its own connection, and runs
the lock under a short lock_timeout: a lock of the wrong mode fails with LockNotAvailable instead of hanging
(the timeout is a guard, not a measure of speed). The last test checks that the same locks still
serialise against each other.
"""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import OperationalError, connection, connections, transaction

from payments.lock_objects import ledger_accounts_lock
from payments.models import LedgerAccount
from payments.services.ledger import ledger_account_get
from tasks.models import Task
from tasks.services.projects import project_pause
from tasks.services.queue import assignment_claim
from tasks.services.queue_requeue import project_overlap_extend
from tests.tasks.test_queue_factories import make_project, make_tasks, make_worker

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


class Holder:
    """Runs `hold()` in a transaction on its own connection and keeps it open until released."""

    def __init__(self, hold):
        self.hold, self.ready, self.release, self.errors = hold, threading.Event(), threading.Event(), []
        self.thread = threading.Thread(target=self._run)

    def _run(self):
        try:
            with transaction.atomic():
                self.hold()
                self.ready.set()
                self.release.wait(30)
        except Exception as exc:  # asserted by the test
            self.errors.append(repr(exc))
        finally:
            self.ready.set()
            connections.close_all()

    def __enter__(self):
        self.thread.start()
        assert self.ready.wait(30)
        assert not self.errors, self.errors
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.thread.join(30)
        assert not self.errors, self.errors


def _under_lock_timeout(fn):
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '3s'")
        return fn()


def _key_share(table: str, pk: int):
    def hold():
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR KEY SHARE", [pk])  # noqa: S608 - our table
    return hold


def test_a_claim_in_flight_does_not_block_the_projects_lock(settings):
    settings.QUEUE_CLAIM_RAW_SQL = True
    project = make_project(overlap=3)
    make_tasks(project, 3)
    user = make_worker("claims@example.com")
    def claim_committing():
        # The real thing: a claim that inserted its assignment and is committing. Django's foreign keys are
        # DEFERRABLE INITIALLY DEFERRED, so the check (key share on the project) runs at commit; SET
        # CONSTRAINTS ALL IMMEDIATE runs it now and keeps the transaction open where the commit would be.
        assignment_claim(user=user, project_id=project.pk)
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    with Holder(claim_committing):
        paused = _under_lock_timeout(lambda: project_pause(project_id=project.pk))
    assert paused.status == "paused"


def test_inserts_referencing_a_task_do_not_block_the_overlap_extension():
    project = make_project(overlap=1)
    task = make_tasks(project, 1)[0]
    with Holder(_key_share(Task._meta.db_table, task.pk)):
        assert _under_lock_timeout(lambda: project_overlap_extend(task_id=task.pk, max_overlap=3)) is True
    assert Task.objects.get(pk=task.pk).overlap == 2


def test_inserts_referencing_an_account_or_a_user_do_not_block_their_locks():
    user = make_worker("ledger@example.com")
    account = ledger_account_get(kind=LedgerAccount.Kind.WORKER_PAYABLE, worker_id=user.pk, currency="usd")
    with Holder(_key_share(LedgerAccount._meta.db_table, account.pk)):
        assert _under_lock_timeout(lambda: ledger_accounts_lock(account_ids=[account.pk])) == {account.pk: account}
    users = get_user_model()
    with Holder(_key_share(users._meta.db_table, user.pk)):
        # The work notifier's lock (tasks.services.queue_notify): the same statement it runs.
        locked = _under_lock_timeout(lambda: list(users.objects.select_for_update(no_key=True)
                                                  .filter(pk=user.pk).values_list("pk", flat=True)))
    assert locked == [user.pk]


def test_the_locks_still_serialise_against_each_other():
    project = make_project(overlap=3)
    user = make_worker("serial@example.com")
    account = ledger_account_get(kind=LedgerAccount.Kind.WORKER_PAYABLE, worker_id=user.pk, currency="usd")
    with Holder(lambda: project_pause(project_id=project.pk)):
        with pytest.raises(OperationalError, match="lock timeout"):
            _under_lock_timeout(lambda: project_pause(project_id=project.pk))
    with Holder(lambda: ledger_accounts_lock(account_ids=[account.pk])):
        with pytest.raises(OperationalError, match="lock timeout"):
            _under_lock_timeout(lambda: ledger_accounts_lock(account_ids=[account.pk]))
