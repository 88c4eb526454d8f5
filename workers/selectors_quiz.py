"""Reads about quizzes as a worker sees them: no answer keys, options under per-attempt labels."""

from django.utils import timezone

from workers.models import Qualification, Question, Quiz, QuizAttempt
from workers.services.quizzes import LABELS, quiz_attempt_retry_after, quiz_start_blocker


def quiz_list_for_worker(*, user) -> list[dict]:
    """Published quizzes, each with the worker's own standing: qualification, open attempt, and why
    they may not start now (cooldown, cap) if so."""
    quals = {q.skill_id: q for q in Qualification.objects.filter(worker=user)}
    open_ids = dict(QuizAttempt.objects.filter(worker=user, status=QuizAttempt.Status.OPEN,
                                               deadline__gt=timezone.now()).values_list("quiz_id", "id"))
    rows = []
    for quiz in Quiz.objects.filter(is_published=True).select_related("skill"):
        q = quals.get(quiz.skill_id)
        blocker = quiz_start_blocker(worker_id=user.id, quiz=quiz)
        rows.append({
            "quiz": quiz,
            "qualification": {"score": q.score, "granted_at": q.granted_at, "expires_at": q.expires_at} if q else None,
            "failed_attempts": QuizAttempt.objects.filter(worker=user, quiz=quiz, passed=False).count(),
            "open_attempt": open_ids.get(quiz.id),
            "can_start": blocker is None and quiz.id not in open_ids,
            "blocker": blocker,
        })
    return rows


def quiz_attempt_for_worker(*, attempt: QuizAttempt) -> dict:
    """The attempt with its drawn questions in the drawn order; options relabelled a, b, c, ... in the
    shuffled order. Built field by field from an allow-list, so a key field can never slip through."""
    questions = {q.id: q for q in Question.objects.filter(id__in=[d["question"] for d in attempt.drawn])}
    shown = []
    for drawn in attempt.drawn:
        question = questions.get(drawn["question"])
        if question is None:
            continue
        by_key = {o["key"]: o for o in question.options}
        shown.append({
            "id": question.id, "kind": question.kind, "prompt": question.prompt, "code": question.code,
            "weight": question.weight,
            "options": [{"label": LABELS[i], "text": by_key[k]["text"], "code": by_key[k]["code"]}
                        for i, k in enumerate(drawn["options"]) if k in by_key],
        })
    return {
        "id": attempt.id, "quiz": attempt.quiz.slug, "status": attempt.status, "started_at": attempt.started_at,
        "deadline": attempt.deadline, "submitted_at": attempt.submitted_at, "score": attempt.score,
        "passed": attempt.passed, "retry_after": quiz_attempt_retry_after(attempt), "questions": shown,
    }
