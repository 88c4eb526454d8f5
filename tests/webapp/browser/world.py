"""What the browser tests work on, built through the services (never through the browser): a client with
one project of each task type (a real task and a gold task in each), and a short Python quiz.

Each type also says how a person answers its task by keyboard, and the answer that must be stored."""

from dataclasses import dataclass, field

from tasks.models import Project
from tasks.services.clients import client_create
from tasks.services.ingest import rows_from_objects, tasks_ingest
from tasks.services.projects import project_create
from workers.models import Question, Quiz, Skill
from workers.services.quizzes import question_validate

REWARD_CENTS = 30


@dataclass
class TaskType:
    name: str
    schema: dict
    data: dict
    answer: dict  # what the keyboard answer below stores (and the gold task's answer)
    gold: bool = True
    extra: dict = field(default_factory=dict)


TYPES = {
    "pairwise": TaskType("pairwise", {}, {
        "prompt": "Sort a list of numbers in place.", "language": "python",
        "response_a": "def sort_in_place(xs):\n    xs.sort()\n    return xs\n",
        "response_b": "def sort_in_place(xs):\n    return sorted(xs)\n"}, {"choice": "a"}),
    "ranking": TaskType("ranking", {}, {
        "prompt": "Reverse a string.", "language": "python",
        "responses": ["s[::-1]", "''.join(reversed(s))", "s.reverse()"]}, {"order": [1, 0, 2]}),
    "flags": TaskType("flags", {"taxonomy": ["off_by_one", "infinite_loop", "style"]}, {
        "code": "for i in range(len(xs) + 1):\n    print(xs[i])\n", "language": "python"},
        {"flags": ["off_by_one", "style"]}),
    "rating": TaskType("rating", {"min": 1, "max": 5, "labels": {"1": "useless", "5": "excellent"}}, {
        "content": "def add(a, b):\n    return a + b\n", "language": "python"}, {"score": 4}),
    "text": TaskType("text", {"min_length": 5, "max_length": 200}, {
        "code": "def f(x):\n    return x * 2\n", "language": "python", "question": "What does f do?"},
        {"text": "It doubles x."}, gold=False),
}


def typed_projects(*, n_tasks: int = 2, lease_seconds: int = 900, client_name: str = "Browser test client",
                   with_gold: bool = True) -> dict[str, Project]:
    """One active project per task type, each with n_tasks tasks (one of them gold where the type has gold)."""
    Skill.objects.get_or_create(slug="python", defaults={"name": "Python"})
    client = client_create(name=client_name)
    projects = {}
    for name, kind in TYPES.items():
        project = project_create(
            client=client, name=f"Judge {name} code", task_type=name, label_schema=kind.schema,
            instructions=f"Read the code and give your {name} judgment.",
            data_use_statement="Your judgments train and evaluate a code model.", reward_cents=REWARD_CENTS,
            overlap=1, required_qualifications=["python"], lease_seconds=lease_seconds,
            gold_share=0.5 if kind.gold and with_gold else 0.0)
        rows = [{"external_id": f"{name}-{i}", "data": {**kind.data, "prompt_id": i}} for i in range(n_tasks)]
        if kind.gold and with_gold:
            rows[0]["gold"] = kind.answer
        tasks_ingest(project_id=project.pk, items=rows_from_objects(rows))
        projects[name] = project
    return projects


# (kind, prompt, code, options as (key, text, code), correct keys)
QUIZ_QUESTIONS = [
    ("single", "What does this print?", "print(len([1, 2, 3][1:]))",
     [("one", "1", ""), ("two", "2", ""), ("three", "3", "")], ["two"]),
    ("multiple", "Which of these are falsy in Python?", "",
     [("zero", "0", ""), ("empty", "an empty list", ""), ("text", "the string 'False'", "")], ["zero", "empty"]),
    ("pick_better", "Which is the safer way to read a file?", "",
     [("with", "", "with open(p) as f:\n    data = f.read()"), ("bare", "", "data = open(p).read()")], ["with"]),
]


def python_quiz(skill_slug: str = "python") -> Quiz:
    """A published three-question quiz for the skill (python by default); questions are checked by
    question_validate, as the ops API and the admin do."""
    skill, _ = Skill.objects.get_or_create(slug=skill_slug, defaults={"name": skill_slug.title()})
    quiz = Quiz.objects.create(skill=skill, slug=skill_slug, title=f"{skill.name} code judgment",
                               description="Three short questions about reading Python.", pass_mark=0.6,
                               questions_per_attempt=len(QUIZ_QUESTIONS), time_limit_seconds=600,
                               cooldown_seconds=3600, validity_days=365, is_published=True)
    for kind, prompt, code, options, correct in QUIZ_QUESTIONS:
        clean, keys = question_validate(kind=kind, correct=correct,
                                        options=[{"key": k, "text": t, "code": c} for k, t, c in options])
        Question.objects.create(quiz=quiz, kind=kind, prompt=prompt, code=code, options=clean, correct=keys)
    return quiz


def correct_labels(attempt) -> dict[int, list[str]]:
    """Per question of an attempt, the per-attempt labels (a, b, ...) of its correct options: what a person
    who knows the answers clicks. Read from the attempt's draw and the answer keys (the test knows them)."""
    import string

    correct = dict(Question.objects.filter(id__in=[d["question"] for d in attempt.drawn])
                   .values_list("id", "correct"))
    return {d["question"]: [string.ascii_lowercase[d["options"].index(key)] for key in correct[d["question"]]]
            for d in attempt.drawn}
