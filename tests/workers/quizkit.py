"""A small quiz for tests, and helpers that answer an attempt right or wrong from the server's key."""

from tests.workers.factories import skill
from workers.models import Question, Quiz, QuizAttempt
from workers.services.quizzes import LABELS

# Author keys that cannot be confused with the per-attempt labels (a, b, c): a leak would show them.
KEYS = ("k-alpha", "k-beta", "k-gamma")


def make_quiz(slug="python", *, n_questions=12, per_attempt=4, pass_mark=0.75, cooldown=3600, cap=2,
              time_limit=600, validity_days=365) -> Quiz:
    quiz = Quiz.objects.create(skill=skill(slug), slug=slug, title=f"{slug} quiz", pass_mark=pass_mark,
                               questions_per_attempt=per_attempt, time_limit_seconds=time_limit,
                               cooldown_seconds=cooldown, max_failed_attempts=cap, validity_days=validity_days)
    for i in range(n_questions):
        kind = ("single", "multiple", "pick_better")[i % 3]
        keys = KEYS[:2] if kind == "pick_better" else KEYS
        correct = [KEYS[0], KEYS[2]] if kind == "multiple" else [keys[i % len(keys)]]
        Question.objects.create(
            quiz=quiz, kind=kind, prompt=f"Question {i}", code=f"print({i})", weight=1 + i % 2,
            options=[{"key": k, "text": f"option {n} of question {i}", "code": ""} for n, k in enumerate(keys)], correct=correct,
            explanation=f"SECRET-EXPLANATION-{i}")
    return quiz


def answers_for(attempt_id: int, *, right: bool) -> dict:
    """The labels a perfect (or a perfectly wrong) worker would send, computed from the server side."""
    attempt = QuizAttempt.objects.get(pk=attempt_id)
    questions = {q.id: q for q in Question.objects.filter(id__in=[d["question"] for d in attempt.drawn])}
    answers = {}
    for drawn in attempt.drawn:
        correct = set(questions[drawn["question"]].correct)
        labels = [LABELS[i] for i, key in enumerate(drawn["options"]) if (key in correct) == right]
        answers[str(drawn["question"])] = labels if questions[drawn["question"]].kind == "multiple" else labels[0]
    return answers
