"""Quizzes: the list with the worker's standing in each, an attempt with its countdown, the result with when
a retry is allowed. The quiz services decide everything (workers.services.quizzes): the draw, the deadline,
the grade, the cooldown; the page never sees an answer key (workers.selectors_quiz builds the questions)."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from marketplace.errors import Conflict, Forbidden, NotFound, ValidationFailed
from webapp.highlight import code_html
from webapp.views.base import PageNotFound, worker_page
from workers.models import QuizAttempt
from workers.selectors_quiz import quiz_attempt_for_worker, quiz_list_for_worker
from workers.services.quizzes import quiz_attempt_start, quiz_attempt_submit


@worker_page
def quiz_list(request):
    return render(request, "webapp/quizzes/list.html", {"rows": quiz_list_for_worker(user=request.user)})


@require_POST
@worker_page
def quiz_start(request, slug: str):
    try:
        attempt = quiz_attempt_start(worker_id=request.user.id, quiz_slug=slug)
    except NotFound as exc:
        raise PageNotFound from exc
    except (Forbidden, Conflict) as exc:
        open_id = exc.extra.get("attempt") if isinstance(exc.extra, dict) else None
        if open_id:
            return redirect("webapp:quiz-attempt", pk=open_id)
        if exc.code != "cooldown":  # the list words the cooldown itself, in the reader's timezone
            messages.error(request, exc.message)
        return redirect("webapp:quizzes")
    return redirect("webapp:quiz-attempt", pk=attempt.pk)


def _own_attempt(request, pk: int) -> QuizAttempt:
    attempt = QuizAttempt.objects.select_related("quiz", "quiz__skill").filter(pk=pk, worker=request.user).first()
    if attempt is None:
        raise PageNotFound
    return attempt


def _attempt_page(request, attempt: QuizAttempt, *, status: int = 200, error: str | None = None, chosen=None):
    shown = quiz_attempt_for_worker(attempt=attempt)
    language = attempt.quiz.skill.slug
    chosen = chosen or {}
    for question in shown["questions"]:
        question["code_html"] = code_html(question["code"], language) if question["code"] else None
        picked = chosen.get(str(question["id"]), [])
        for option in question["options"]:
            option["code_html"] = code_html(option["code"], language) if option["code"] else None
            option["checked"] = option["label"] in picked
    is_open = attempt.status == QuizAttempt.Status.OPEN and attempt.deadline > timezone.now()
    return render(request, "webapp/quizzes/attempt.html", {
        "attempt": shown, "quiz": attempt.quiz, "is_open": is_open, "error": error,
        "seconds_left": max(0, int((attempt.deadline - timezone.now()).total_seconds())),
    }, status=status)


@worker_page
def quiz_attempt(request, pk: int):
    return _attempt_page(request, _own_attempt(request, pk))


@require_POST
@worker_page
def quiz_submit(request, pk: int):
    attempt = _own_attempt(request, pk)
    chosen = {str(d["question"]): request.POST.getlist(f"q{d['question']}") for d in attempt.drawn}
    answers = {qid: labels if len(labels) != 1 else labels[0] for qid, labels in chosen.items() if labels}
    try:
        quiz_attempt_submit(worker_id=request.user.id, attempt_id=pk, answers=answers)
    except ValidationFailed as exc:
        return _attempt_page(request, attempt, status=400, error=exc.message, chosen=chosen)
    except Conflict as exc:
        attempt.refresh_from_db()
        return _attempt_page(request, attempt, status=409, error=exc.message)
    return redirect("webapp:quiz-attempt", pk=pk)
