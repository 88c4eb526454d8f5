"""Demo data for the workers app: skills, the Python and JavaScript quizzes, and a "Python raters" pool.
Idempotent: questions are matched on (quiz, prompt, code), so running it again changes nothing. It tolerates
what users added: a copy of a demo question (docs/workers.md's authoring example makes one) is left alone,
and the oldest match is the one refreshed (no MultipleObjectsReturned, issue 32 item 1)."""

from django.db import transaction

from workers.demo_questions import JAVASCRIPT, PYTHON
from workers.models import Pool, Question, Quiz, Skill

QUIZ_SETTINGS = {"pass_mark": 0.75, "questions_per_attempt": 8, "time_limit_seconds": 900,
                 "cooldown_seconds": 86400, "max_failed_attempts": 3, "validity_days": 365, "is_published": True}


def _quiz(skill: Skill, title: str, description: str, bank) -> Quiz:
    quiz, _ = Quiz.objects.get_or_create(slug=skill.slug, defaults={
        "skill": skill, "title": title, "description": description, **QUIZ_SETTINGS})
    for kind, prompt, code, options, correct, weight in bank:
        fields = {"kind": kind, "weight": weight, "correct": sorted(correct),
                  "options": [{"key": key, "text": text, "code": snippet} for key, text, snippet in options]}
        existing = Question.objects.filter(quiz=quiz, prompt=prompt, code=code).order_by("pk").first()
        if existing is None:
            Question.objects.create(quiz=quiz, prompt=prompt, code=code, **fields)
        else:
            Question.objects.filter(pk=existing.pk).update(**fields)
    return quiz


@transaction.atomic
def seed() -> list[str]:
    python, _ = Skill.objects.get_or_create(slug="python", defaults={"name": "Python"})
    javascript, _ = Skill.objects.get_or_create(slug="javascript", defaults={"name": "JavaScript"})
    quizzes = [
        _quiz(python, "Python code judgment", "Read short Python snippets: outputs, off-by-ones, safer idioms.",
              PYTHON),
        _quiz(javascript, "JavaScript code judgment",
              "Read short JavaScript snippets: coercion, scoping, async pitfalls.", JAVASCRIPT),
    ]
    pool, _ = Pool.objects.get_or_create(name="Python raters", defaults={
        "description": "Workers qualified in Python; add members by rule from the admin or the API."})
    pool.required_skills.add(python)
    lines = []
    for quiz in quizzes:
        lines.append(f"Quiz {quiz.slug}: {quiz.questions.filter(is_active=True).count()} questions, "
                     f"{quiz.questions_per_attempt} drawn, pass mark {quiz.pass_mark:.0%}, "
                     f"{quiz.time_limit_seconds // 60} min (POST /api/v1/quizzes/{quiz.slug}/attempts/)")
    lines.append(f"Pool '{pool.name}' (id {pool.id}) requires python")
    return lines
