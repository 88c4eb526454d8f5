"""The role x endpoint expectation table: for every operation under /api/v1/, what each role gets.

Each entry names the ids it targets (always objects owned by worker A, client 1, or a staff fixture, so the
"other owner" roles prove they get 404) and a body that is valid for the owner (so the owner's 2xx is real
and the wrong roles' 401/403/404 cannot come from a bad body). A new operation in the schema without an
entry here fails test_every_schema_operation_has_an_expectation.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils import timezone

from tests.e2e.matrix_world import World

SESSION_ROLES = ("worker_a", "worker_b", "ops", "finance", "finance2")
CLIENT_ROLES = ("client1", "client2")


@dataclass(frozen=True)
class Op:
    expect: dict  # role -> status code (int) or allowed codes (tuple)
    params: Callable[[World], dict] = field(default=lambda w: {})
    body: Callable[[World], object] | None = None
    query: dict | None = None


def session(default: int | tuple = 403, **codes) -> dict:
    """A session-token endpoint: anonymous and clients (no X-Session-Token) get 401."""
    out = {"anon": 401, "client1": 401, "client2": 401}
    out.update({role: codes.get(role, default) for role in SESSION_ROLES})
    return out


def anyone(code: int | tuple) -> dict:
    """Any signed-in person (workers and staff alike)."""
    return session(default=code)


def own_worker(code: int | tuple) -> dict:
    """An endpoint on worker A's object: A gets `code`; every other signed-in person gets 404."""
    return session(default=404, worker_a=code)


def ops_only(code: int | tuple) -> dict:
    return session(ops=code)


def finance_only(code: int | tuple, **codes) -> dict:
    return session(finance=codes.get("finance", code), finance2=codes.get("finance2", code))


def client(owner: int | tuple, other: int | tuple = 404) -> dict:
    """A client (Api-Key) endpoint: people and anonymous get 401; client 2 on client 1's object gets `other`."""
    out = {role: 401 for role in ("anon", *SESSION_ROLES)}
    out.update(client1=owner, client2=other)
    return out


def _p(name: str, key: str = "id") -> Callable[[World], dict]:
    return lambda w: {key: w.ids[name]}


def _project(name: str = "project") -> Callable[[World], dict]:
    return _p(name, "project_id")


def _quiz_answers(w: World) -> dict:
    from tests.workers.quizkit import answers_for

    return {"answers": answers_for(w.ids["worker_a_attempt"], right=True)}


QUESTION = {"kind": "single", "prompt": "Which line is off by one?", "code": "for i in range(1, n):",
            "options": [{"key": "q-one", "text": "range(1, n)"}, {"key": "q-two", "text": "nothing"}],
            "correct": ["q-one"], "weight": 1, "explanation": "It skips 0."}
QUIZ = {"slug": "go", "skill": "go", "title": "Go basics", "pass_mark": 0.5, "questions_per_attempt": 2,
        "time_limit_seconds": 600, "cooldown_seconds": 60, "max_failed_attempts": 3, "validity_days": 365,
        "is_published": False}
PROJECT = {"name": "new", "task_type": "rating", "label_schema": {"min": 1, "max": 5}, "instructions": "Rate.",
           "data_use_statement": "Training data.", "reward_cents": 5}
ROWS = [{"external_id": "new-1", "data": {"prompt": "p", "language": "python", "response_a": "a", "response_b": "b"}}]

V1 = "/api/v1"
EXPECT: dict[tuple[str, str], Op] = {
    # Worker queue (X-Session-Token): A's live assignment; anyone else gets 404.
    ("GET", f"{V1}/assignments/"): Op(anyone(200)),
    ("POST", f"{V1}/assignments/claim/"): Op(session(403, worker_a=201, worker_b=201),
                                            body=lambda w: {"project": w.ids["project"]}),
    ("POST", f"{V1}/assignments/{{id}}/submit/"): Op(own_worker(200), _p("worker_a_live_assignment"),
                                                    body=lambda w: {"answer": {"choice": "b"}, "seconds_spent": 30}),
    ("POST", f"{V1}/assignments/{{id}}/release/"): Op(own_worker(200), _p("worker_a_live_assignment")),
    ("GET", f"{V1}/work/projects/"): Op(anyone(200)),
    # Worker profile, earnings, payout account.
    ("GET", f"{V1}/me/"): Op(anyone(200)),
    ("PATCH", f"{V1}/me/"): Op(anyone(200), body=lambda w: {"timezone": "Asia/Kolkata"}),
    ("GET", f"{V1}/me/earnings/"): Op(anyone(200)),
    ("GET", f"{V1}/payout-account/"): Op(anyone(200)),
    ("POST", f"{V1}/payout-account/"): Op(session((200, 201), worker_a=200, worker_b=200)),
    # Quizzes: reading and taking for any signed-in person, authoring for ops.
    ("GET", f"{V1}/quizzes/"): Op(anyone(200)),
    ("POST", f"{V1}/quizzes/"): Op(ops_only(201), body=lambda w: QUIZ),
    ("GET", f"{V1}/quizzes/{{slug}}/"): Op(ops_only(200), lambda w: {"slug": "sql"}),
    ("PUT", f"{V1}/quizzes/{{slug}}/"): Op(ops_only(200), lambda w: {"slug": "sql"},
                                          body=lambda w: dict(QUIZ, slug="sql", skill="sql")),
    ("PATCH", f"{V1}/quizzes/{{slug}}/"): Op(ops_only(200), lambda w: {"slug": "sql"},
                                            body=lambda w: {"title": "SQL, revised"}),
    ("DELETE", f"{V1}/quizzes/{{slug}}/"): Op(ops_only(204), lambda w: {"slug": "sql"}),
    ("POST", f"{V1}/quizzes/{{slug}}/attempts/"): Op(anyone(201), lambda w: {"slug": "sql"}),
    ("GET", f"{V1}/quizzes/{{slug}}/questions/"): Op(ops_only(200), lambda w: {"slug": "sql"}),
    ("POST", f"{V1}/quizzes/{{slug}}/questions/"): Op(ops_only(201), lambda w: {"slug": "sql"},
                                                     body=lambda w: QUESTION),
    ("GET", f"{V1}/quiz-questions/{{id}}/"): Op(ops_only(200), _p("question")),
    ("PUT", f"{V1}/quiz-questions/{{id}}/"): Op(ops_only(200), _p("question"), body=lambda w: QUESTION),
    ("PATCH", f"{V1}/quiz-questions/{{id}}/"): Op(ops_only(200), _p("question"), body=lambda w: {"weight": 3}),
    ("DELETE", f"{V1}/quiz-questions/{{id}}/"): Op(ops_only(204), _p("question")),
    ("GET", f"{V1}/quiz-attempts/{{id}}/"): Op(own_worker(200), _p("worker_a_attempt")),
    ("POST", f"{V1}/quiz-attempts/{{id}}/submit/"): Op(own_worker(200), _p("worker_a_attempt"), body=_quiz_answers),
    # Ops: pools, worker standing, flags.
    ("GET", f"{V1}/pools/"): Op(ops_only(200)),
    ("POST", f"{V1}/pools/"): Op(ops_only(201), body=lambda w: {"name": "matrix new", "required_skills": ["python"]}),
    ("GET", f"{V1}/pools/{{id}}/"): Op(ops_only(200), _p("pool")),
    ("PUT", f"{V1}/pools/{{id}}/"): Op(ops_only(200), _p("pool"), body=lambda w: {"name": "matrix renamed"}),
    ("PATCH", f"{V1}/pools/{{id}}/"): Op(ops_only(200), _p("pool"), body=lambda w: {"capacity": 10}),
    ("DELETE", f"{V1}/pools/{{id}}/"): Op(ops_only(204), _p("empty_pool")),
    ("GET", f"{V1}/pools/{{id}}/members/"): Op(ops_only(200), _p("pool")),
    ("POST", f"{V1}/pools/{{id}}/members/"): Op(ops_only(200), _p("pool"),
                                               body=lambda w: {"worker_ids": [w.users["worker_c"].pk]}),
    ("DELETE", f"{V1}/pools/{{id}}/members/"): Op(ops_only(200), _p("pool"),
                                                 body=lambda w: {"worker_ids": [w.users["worker_a"].pk]}),
    ("POST", f"{V1}/workers/{{id}}/suspend/"): Op(ops_only(200), lambda w: {"id": w.users["worker_c"].pk},
                                                 body=lambda w: {"reason": "matrix"}),
    ("POST", f"{V1}/workers/{{id}}/reinstate/"): Op(ops_only(200), lambda w: {"id": w.users["worker_c"].pk},
                                                   body=lambda w: {"reason": "matrix"}),
    ("GET", f"{V1}/workers/{{id}}/standing/"): Op(ops_only(200), lambda w: {"id": w.users["worker_a"].pk}),
    ("GET", f"{V1}/flags/"): Op(ops_only(200), query={"status": "open"}),
    ("GET", f"{V1}/flags/{{id}}/"): Op(ops_only(200), _p("flag")),
    ("POST", f"{V1}/flags/{{id}}/resolve/"): Op(ops_only(200), _p("flag"),
                                               body=lambda w: {"decision": "dismiss", "note": "matrix"}),
    # Finance: batches (draft created by `finance`, approved batch approved by `finance2`), ledger, Stripe.
    ("GET", f"{V1}/payout-batches/"): Op(finance_only(200)),
    ("POST", f"{V1}/payout-batches/"): Op(finance_only(201), body=lambda w: {
        "cutoff": timezone.now().isoformat(), "minimum_cents": 1}),
    ("GET", f"{V1}/payout-batches/{{batch_id}}/"): Op(finance_only(200), _p("draft_batch", "batch_id")),
    ("POST", f"{V1}/payout-batches/{{batch_id}}/approve/"): Op(finance_only(200, finance=403),
                                                              _p("draft_batch", "batch_id")),
    ("POST", f"{V1}/payout-batches/{{batch_id}}/execute/"): Op(finance_only(202), _p("approved_batch", "batch_id")),
    ("GET", f"{V1}/payout-batches/{{batch_id}}/export.csv"): Op(finance_only(200), _p("approved_batch", "batch_id")),
    ("POST", f"{V1}/ledger-adjustments/"): Op(finance_only(201), body=lambda w: {
        "worker": w.users["worker_a"].pk, "kind": "bonus", "amount_cents": 100, "memo": "matrix",
        "reference": "matrix-adjustment"}),
    ("GET", f"{V1}/ledger-adjustments/"): Op(finance_only(200)),
    ("GET", f"{V1}/ledger-adjustments/{{adjustment_id}}/"): Op(finance_only(200),
                                                              _p("pending_adjustment", "adjustment_id")),
    ("POST", f"{V1}/ledger-adjustments/{{adjustment_id}}/approve/"): Op(finance_only(200, finance=403),
                                                                      _p("pending_adjustment", "adjustment_id")),
    ("POST", f"{V1}/ledger-adjustments/{{adjustment_id}}/reject/"): Op(finance_only(200),
                                                                     _p("pending_adjustment", "adjustment_id")),
    ("GET", f"{V1}/reconciliation/"): Op(finance_only(200)),
    # Clients (Api-Key): client 1's objects; client 2 gets 404 for them.
    ("GET", f"{V1}/client/"): Op(client(200, 200)),
    ("PATCH", f"{V1}/client/"): Op(client(200, 200), body=lambda w: {"callback_url": ""}),
    ("POST", f"{V1}/client/webhook-secret/"): Op(client(200, 200)),
    ("GET", f"{V1}/client/webhook-deliveries/"): Op(client(200, 200)),
    ("GET", f"{V1}/projects/"): Op(client(200, 200)),
    ("POST", f"{V1}/projects/"): Op(client(201, 201), body=lambda w: PROJECT),
    ("GET", f"{V1}/projects/{{project_id}}/"): Op(client(200), _project()),
    ("PATCH", f"{V1}/projects/{{project_id}}/"): Op(client(200), _project(), body=lambda w: {"deadline": None}),
    ("POST", f"{V1}/projects/{{project_id}}/pause/"): Op(client(200), _project()),
    ("POST", f"{V1}/projects/{{project_id}}/resume/"): Op(client(200), _project("paused_project")),
    ("POST", f"{V1}/projects/{{project_id}}/tasks/"): Op(client(201), _project(), body=lambda w: ROWS),
    ("GET", f"{V1}/projects/{{project_id}}/results/"): Op(client(200), _project()),
    ("GET", f"{V1}/projects/{{project_id}}/agreement/"): Op(client(200), _project()),
    ("GET", f"{V1}/projects/{{project_id}}/export/preferences.jsonl"): Op(client(200), _project()),
    ("GET", f"{V1}/projects/{{project_id}}/export/preferences/summary/"): Op(client(200), _project()),
    ("GET", f"{V1}/projects/{{project_id}}/export/results.csv"): Op(client(200), _project()),
}
