"""Quiz attempts: start (draw and shuffle), submit (grade once), and question authoring checks."""

import random
import secrets
import string
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from marketplace.errors import Conflict, Forbidden, NotFound, ValidationFailed
from workers.models import Qualification, Question, Quiz, QuizAttempt, WorkerProfile

LABELS = string.ascii_lowercase


def question_validate(*, kind: str, options, correct) -> tuple[list[dict], list[str]]:
    """Normalises an authored question's options and answer key; ValidationFailed names the field."""
    if kind not in Question.Kind.values:
        raise ValidationFailed("Unknown question kind.", fields={"kind": [f"One of {', '.join(Question.Kind.values)}."]})
    if not isinstance(options, list) or not 2 <= len(options) <= len(LABELS):
        raise ValidationFailed("Options must be a list of 2 to 26.", fields={"options": ["A list of 2 to 26 options."]})
    clean, keys = [], []
    for i, option in enumerate(options):
        if not isinstance(option, dict) or not isinstance(option.get("key"), str) or not option["key"].strip():
            raise ValidationFailed("Each option needs a key.", fields={f"options[{i}].key": ["A non-empty string."]})
        text, code = option.get("text", ""), option.get("code", "")
        if not isinstance(text, str) or not isinstance(code, str) or not (text.strip() or code.strip()):
            raise ValidationFailed("Each option needs text or code.", fields={f"options[{i}]": ["Give text or code."]})
        if option["key"] in keys:
            raise ValidationFailed("Option keys must be unique.", fields={f"options[{i}].key": ["Duplicate key."]})
        keys.append(option["key"])
        clean.append({"key": option["key"], "text": text, "code": code})
    if kind == Question.Kind.PICK_BETTER and len(clean) != 2:
        raise ValidationFailed("Pick-the-better needs exactly two snippets.", fields={"options": ["Exactly two."]})
    if isinstance(correct, str):
        correct = [correct]
    if not isinstance(correct, list) or not correct or any(k not in keys for k in correct) or len(set(correct)) != len(correct):
        raise ValidationFailed("The answer key must name options.", fields={"correct": [f"Keys among {', '.join(keys)}."]})
    if kind != Question.Kind.MULTIPLE and len(correct) != 1:
        raise ValidationFailed("This kind has exactly one correct option.", fields={"correct": ["Exactly one key."]})
    return clean, sorted(correct)


def _retry_after(quiz: Quiz, last_failed: QuizAttempt | None):
    if last_failed is None:
        return None
    at = last_failed.submitted_at + timedelta(seconds=quiz.cooldown_seconds)
    return at if at > timezone.now() else None


def quiz_attempts_expire(*, worker_id: int, quiz_id: int | None = None) -> int:
    """Closes the worker's open attempts whose deadline (plus grace) has passed, as failed with score 0.
    Conditional update: safe to run concurrently with a submit (only one of them closes the attempt)."""
    limit = timezone.now() - timedelta(seconds=settings.WORKERS_QUIZ_SUBMIT_GRACE_SECONDS)
    rows = QuizAttempt.objects.filter(worker_id=worker_id, status=QuizAttempt.Status.OPEN, deadline__lt=limit)
    if quiz_id is not None:
        rows = rows.filter(quiz_id=quiz_id)
    expired = 0
    for attempt in rows:
        expired += QuizAttempt.objects.filter(pk=attempt.pk, status=QuizAttempt.Status.OPEN).update(
            status=QuizAttempt.Status.EXPIRED, submitted_at=attempt.deadline, score=0.0, passed=False)
    return expired


def quiz_start_blocker(*, worker_id: int, quiz: Quiz) -> dict | None:
    """Why the worker may not start this quiz now ({code, message, retry_after}), or None."""
    failed = QuizAttempt.objects.filter(worker_id=worker_id, quiz=quiz, passed=False)
    if quiz.max_failed_attempts is not None and failed.count() >= quiz.max_failed_attempts:
        return {"code": "attempt_cap_reached", "retry_after": None,
                "message": f"You have used all {quiz.max_failed_attempts} attempts at this quiz; ask support."}
    retry_after = _retry_after(quiz, failed.order_by("-submitted_at").first())
    if retry_after is not None:
        return {"code": "cooldown", "retry_after": retry_after,
                "message": f"You can try again after {retry_after.isoformat()}."}
    return None


def quiz_attempt_start(*, worker_id: int, quiz_slug: str, seed: int | None = None) -> QuizAttempt:
    """Opens an attempt: draws ``questions_per_attempt`` active questions at random (seeded, the seed is
    stored), shuffles their order and each question's options, and starts the clock.

    Forbidden (403) for a suspended or banned worker, during the cooldown after a failure or past the
    cap (``retry_after`` says when, null for the cap); Conflict (409) while another
    attempt is open (also enforced by a partial unique constraint against double starts)."""
    quiz = Quiz.objects.filter(slug=quiz_slug, is_published=True).first()
    if quiz is None:
        raise NotFound("No such quiz.")
    status = WorkerProfile.objects.filter(user_id=worker_id).values_list("status", flat=True).first()
    if status in (WorkerProfile.Status.SUSPENDED, WorkerProfile.Status.BANNED):
        raise Forbidden(f"This account is {status}; quizzes are closed to it.", code=status,
                        extra={"retry_after": None})
    with transaction.atomic():
        quiz_attempts_expire(worker_id=worker_id, quiz_id=quiz.id)
    blocker = quiz_start_blocker(worker_id=worker_id, quiz=quiz)
    if blocker is not None:
        retry_after = blocker["retry_after"].isoformat() if blocker["retry_after"] else None
        raise Forbidden(blocker["message"], code=blocker["code"], extra={"retry_after": retry_after})
    open_attempt = QuizAttempt.objects.filter(worker_id=worker_id, quiz=quiz, status=QuizAttempt.Status.OPEN).first()
    if open_attempt is not None:
        raise Conflict(f"You already have an open attempt ({open_attempt.id}) at the {quiz.slug} quiz; submit it "
                       f"or wait until {open_attempt.deadline.isoformat()}.", code="attempt_open",
                       extra={"attempt": open_attempt.id, "quiz": quiz.slug,
                              "deadline": open_attempt.deadline.isoformat()})
    questions = list(quiz.questions.filter(is_active=True).order_by("id").values_list("id", "options"))
    if not questions:
        raise Conflict(f"The {quiz.slug} quiz has no active questions yet.", code="quiz_empty",
                       extra={"quiz": quiz.slug})
    seed = seed if seed is not None else secrets.randbits(62)
    rng = random.Random(seed)
    picked = rng.sample(questions, min(quiz.questions_per_attempt, len(questions)))
    drawn = []
    for question_id, options in picked:
        keys = [o["key"] for o in options]
        rng.shuffle(keys)
        drawn.append({"question": question_id, "options": keys})
    now = timezone.now()
    try:
        with transaction.atomic():
            return QuizAttempt.objects.create(quiz=quiz, worker_id=worker_id, seed=seed, drawn=drawn, started_at=now,
                                              deadline=now + timedelta(seconds=quiz.time_limit_seconds))
    except IntegrityError:  # a concurrent start won the one-open-attempt constraint
        raise Conflict(f"You already have an open attempt at the {quiz.slug} quiz.", code="attempt_open",
                       extra={"quiz": quiz.slug}) from None


def _answers_normalise(attempt: QuizAttempt, answers) -> dict[int, set[str]]:
    """{"<question id>": "b" | ["a", "c"]} in per-attempt labels -> {question id: {author keys}}."""
    if not isinstance(answers, dict):
        raise ValidationFailed("answers must be an object {question id: label or [labels]}.",
                               fields={"answers": ["An object keyed by question id."]})
    by_question = {str(d["question"]): d["options"] for d in attempt.drawn}
    result = {}
    for qid, given in answers.items():
        field = f"answers.{qid}"
        if str(qid) not in by_question:
            raise ValidationFailed(f"Question {qid} is not part of this attempt.", fields={field: ["Not in this attempt."]})
        labels = [given] if isinstance(given, str) else given
        order = by_question[str(qid)]
        valid = LABELS[: len(order)]
        if not isinstance(labels, list) or any(not isinstance(x, str) or x not in valid for x in labels):
            raise ValidationFailed(f"Answer to question {qid} must use labels {', '.join(valid)}.",
                                   fields={field: [f"Labels among {', '.join(valid)}."]})
        result[int(qid)] = {order[LABELS.index(label)] for label in labels}
    return result


def _grade(attempt: QuizAttempt, chosen: dict[int, set[str]]) -> float:
    """Weighted share of questions answered exactly right (multiple choice: exactly the right set)."""
    ids = [d["question"] for d in attempt.drawn]
    questions = {q.id: q for q in Question.objects.filter(id__in=ids)}
    total = got = 0
    for qid in ids:
        question = questions.get(qid)
        if question is None:  # deleted by an author mid-attempt: not counted either way
            continue
        total += question.weight
        if chosen.get(qid) == set(question.correct):
            got += question.weight
    return round(got / total, 4) if total else 0.0


def quiz_attempt_submit(*, worker_id: int, attempt_id: int, answers) -> QuizAttempt:
    """Grades the attempt once. The attempt is closed by a conditional update (status open -> submitted)
    in the same transaction that grants or renews the Qualification, so two concurrent submits grade
    once: the second finds no open row and gets Conflict. Another worker's attempt is NotFound; a submit
    after deadline + grace closes the attempt as expired and answers Conflict (code ``late``)."""
    attempt = QuizAttempt.objects.select_related("quiz").filter(pk=attempt_id, worker_id=worker_id).first()
    if attempt is None:
        raise NotFound("No such attempt.")
    if attempt.status != QuizAttempt.Status.OPEN:
        raise Conflict(f"Attempt {attempt.pk} is already {attempt.status}.", code="attempt_closed",
                       extra={"attempt": attempt.pk, "status": attempt.status})
    now = timezone.now()
    if now > attempt.deadline + timedelta(seconds=settings.WORKERS_QUIZ_SUBMIT_GRACE_SECONDS):
        quiz_attempts_expire(worker_id=worker_id, quiz_id=attempt.quiz_id)
        raise Conflict(f"The time limit of attempt {attempt.pk} passed at {attempt.deadline.isoformat()}.",
                       code="late", extra={"attempt": attempt.pk, "deadline": attempt.deadline.isoformat()})
    chosen = _answers_normalise(attempt, answers)
    score = _grade(attempt, chosen)
    quiz = attempt.quiz
    passed = score >= quiz.pass_mark
    with transaction.atomic():
        closed = QuizAttempt.objects.filter(pk=attempt.pk, status=QuizAttempt.Status.OPEN).update(
            status=QuizAttempt.Status.SUBMITTED, submitted_at=now, answers=answers, score=score, passed=passed)
        if not closed:  # a concurrent submit or expiry closed it first
            raise Conflict(f"Attempt {attempt.pk} is already closed.", code="attempt_closed",
                           extra={"attempt": attempt.pk})
        if passed:
            expires = now + timedelta(days=quiz.validity_days) if quiz.validity_days else None
            Qualification.objects.update_or_create(
                worker_id=worker_id, skill_id=quiz.skill_id,
                defaults={"score": score, "granted_at": now, "expires_at": expires})
    attempt.refresh_from_db()
    return attempt


def quiz_attempt_retry_after(attempt: QuizAttempt):
    """When the worker may start again after this attempt (None if passed or no cooldown left)."""
    if attempt.passed is not False:
        return None
    return _retry_after(attempt.quiz, attempt)
