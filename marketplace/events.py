"""The few calls that run up the app order (docs/design.md "Apps"), as explicit hooks.

Imports run one way: marketplace < workers < tasks < payments < quality < simulation (held by the
import-linter contract in pyproject.toml). When a lower app must reach a higher one (the submit credits the
worker, a completed task wants its consensus, a suspended worker's live claims go back to the queue), it
calls a hook declared here; the higher app connects its receiver in its AppConfig.ready(). Services call
hooks explicitly, inside their own transaction where the receiver writes: no signals on save().

A hook with no receiver raises HookNotConnected rather than doing nothing: every app is always installed,
so a missing receiver is a broken deployment, and a submit must fail (rolled back, 500) rather than
answer 200 without its credit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured


class HookNotConnected(ImproperlyConfigured):
    pass


class Hook:
    """One upward call. `send` calls every receiver in the order connected and returns their answers;
    `ask` is for a question with exactly one answerer (a read) and returns its answer."""

    def __init__(self, name: str, *, receiver_app: str):
        self.name = name
        self.receiver_app = receiver_app
        self._receivers: list[Callable[..., Any]] = []

    def connect(self, receiver: Callable[..., Any]) -> Callable[..., Any]:
        """Idempotent (ready() may run twice in tests), so a receiver is never called twice per send."""
        if receiver not in self._receivers:
            self._receivers.append(receiver)
        return receiver

    def disconnect(self, receiver: Callable[..., Any]) -> None:
        if receiver in self._receivers:
            self._receivers.remove(receiver)

    @property
    def receivers(self) -> tuple[Callable[..., Any], ...]:
        return tuple(self._receivers)

    def _require(self) -> None:
        if not self._receivers:
            raise HookNotConnected(f"hook {self.name} has no receiver: {self.receiver_app}'s AppConfig.ready() "
                                   "connects it (is the app installed?)")

    def send(self, **kwargs) -> list[Any]:
        self._require()
        return [receiver(**kwargs) for receiver in self._receivers]

    def ask(self, **kwargs) -> Any:
        self._require()
        if len(self._receivers) > 1:
            raise ImproperlyConfigured(f"hook {self.name} is a question with one answerer; "
                                       f"{len(self._receivers)} are connected")
        return self._receivers[0](**kwargs)

    def __repr__(self) -> str:
        return f"<Hook {self.name} -> {self.receiver_app}>"


# workers -> tasks: a worker who may no longer work (suspended, banned, out of a pool) gives their live
# assignments back, in the caller's transaction. send(worker_id=, pool_id=None).
worker_work_stopped = Hook("worker_work_stopped", receiver_app="tasks")

# workers -> quality: the worker's quality standing shown at /api/v1/me/. ask(user=) -> dict | None.
worker_standing = Hook("worker_standing", receiver_app="quality")

# payments -> quality: may these workers' pending credits clear? ask(worker_ids=) -> {worker_id: "evidence" |
# "doubt" | "unproven"} (payments.services.clearance documents the rule; quality.pay_evidence answers it).
worker_pay_verdicts = Hook("worker_pay_verdicts", receiver_app="quality")

# marketplace -> tasks: the client whose API key authenticates a DRF request (the idempotency middleware
# scopes keys by it), ask(request=) -> client id | None; raises on a bad key (an authentication error).
api_key_client = Hook("api_key_client", receiver_app="tasks")

# tasks -> payments: the submit wrote an approved judgment; payments credits it in the submit's transaction
# (a 200 means the credit is committed, docs/queue.md). send(judgment=) with the judgment and its project.
judgment_approved = Hook("judgment_approved", receiver_app="payments")

# tasks -> quality: a task reached its overlap, in the queue's transaction. quality records its consensus
# job in the outbox; that job hands the consensus back through tasks.services.task_consensus_ready, which
# records the task.completed webhook. send(task_id=).
task_completed = Hook("task_completed", receiver_app="quality")
# The same, asked before the fact by the submit (no database access): the jobs every submit records,
# [(job name, args)], completing or not, gold or real (they act on a completed task only). The submit writes
# them in its own counting statement, so a submit that completes a real task runs the same statements and
# writes the same rows as a gold one (docs/queue.md).
# ask(task_id=) -> list[tuple[str, list]].
task_completion_jobs = Hook("task_completion_jobs", receiver_app="quality")

# tasks -> quality, reads: consensus per task for the client's results, ask(task_ids=) -> {task_id: dict};
# the project's agreement, ask(project_id=) -> dict | None (the client's agreement endpoint, the admin);
# the same brought up to date now (a project just completed: project.completed carries it),
# project_agreement_ensure.ask(project_id=) -> dict | None;
# the worker's adaptive gold shares for the claim, ask(worker_id=, project_ids=) -> {project_id: share}.
task_consensus = Hook("task_consensus", receiver_app="quality")
project_agreement = Hook("project_agreement", receiver_app="quality")
project_agreement_ensure = Hook("project_agreement_ensure", receiver_app="quality")
worker_gold_shares = Hook("worker_gold_shares", receiver_app="quality")

# tasks -> payments, a read: how much of these judgments' credits has cleared (left the pending account:
# payable at once, cleared since, or held or reversed by a flag) and how much still waits, per project: the
# projects' effective hourly pay counts cleared pay only (tasks.selectors.pay).
# ask(judgment_ids_by_project={project_id: [judgment ids]}) -> {project_id: {"cleared_cents", "pending_cents"}}
# for every project given (zeros where no credit exists); one ledger query for the lot.
judgment_credits_cleared = Hook("judgment_credits_cleared", receiver_app="payments")

ALL = (api_key_client, worker_work_stopped, worker_standing, worker_pay_verdicts, judgment_approved, task_completed,
       task_completion_jobs, task_consensus, project_agreement, project_agreement_ensure, worker_gold_shares, judgment_credits_cleared)
