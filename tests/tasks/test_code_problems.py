"""Code problems with tests (HumanEval's JSONL) -> pairwise tasks of the canonical solution against
sandbox-verified mutants: every mutation operator, the import of real HumanEval problems end to end (with
the execution job and auto-gold), hostile JSONL, and an idempotent re-import. Tests that run code skip
only when bwrap is absent (as tests/sandbox do)."""

import ast
import gzip
import io
import json
import shutil

import pytest
from django.core.management import CommandError, call_command

from marketplace.errors import ValidationFailed
from tasks.jobs.execution import run_project_tests
from tasks.models import CompletionRun, Project, Task
from tasks.mutations import OPERATORS, mutants
from tasks.services import code_problems as cp
from tests.tasks.client_support import make_project

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap (bwrap) is not installed")

PROMPT = 'def count_below(xs, limit):\n    """How many items of xs are below limit, counted with a while loop."""\n'
SOLUTION = ("    n = 0\n    i = 0\n    while i < len(xs):\n        if xs[i] < limit:\n            n += 1\n"
            "        i += 1\n    return n\n")
TEST = ("def check(candidate):\n    assert candidate([1, 5, 2, 8], 5) == 2\n    assert candidate([], 3) == 0\n"
        "    assert candidate([3, 3], 3) == 0\n    assert candidate([0, 1, 2], 9) == 3\n")
SMALL = cp.CodeProblem(task_id="small/0", prompt=PROMPT, canonical_solution=SOLUTION, test=TEST,
                       entry_point="count_below", line=1)
FOR_LOOPS = ("def total(xs):\n    s = 0\n    for k in range(1, len(xs)):\n        s += xs[k]\n"
             "    for x in xs:\n        s += x\n    return s + xs[0:2][0]\n")


def problem_line(**overrides) -> str:
    row = {"task_id": SMALL.task_id, "prompt": PROMPT, "canonical_solution": SOLUTION, "test": TEST,
           "entry_point": "count_below", **overrides}
    return json.dumps(row)


@pytest.fixture
def pairwise(db):
    from tasks.services.clients import client_create

    return make_project(client_create(name="Code Lab"), gold_share=0.2)


# --- the operators -----------------------------------------------------------------------------------

@pytest.mark.parametrize("operator", OPERATORS)
def test_every_operator_plants_mutants_that_parse_differ_and_stay_in_the_solution(operator):
    program = SMALL.program
    first = PROMPT.count("\n") + 1
    found = list(mutants(program, operator=operator, first_line=first))
    assert found, f"{operator} found no site in the small function"
    original = ast.dump(ast.parse(program))
    for m in found:
        assert m.operator == operator
        assert ast.dump(ast.parse(m.source)) != original
        assert m.source.startswith(PROMPT)  # the signature and docstring are the problem's: never mutated
        assert m.line >= first
    assert len({m.source for m in found}) == len(found)


def test_the_loop_rewrites_keep_the_layout_and_drop_the_increment():
    found = {m.description: m.source for m in mutants(FOR_LOOPS, operator="infinite_loop")}
    by_range = next(s for d, s in found.items() if "range()" in d)
    assert "    k = 1\n    while k < len(xs):\n        s += xs[k]\n" in by_range
    by_items = next(s for d, s in found.items() if "for x in xs" in d)
    assert "    i = 0\n    while i < len(xs):\n        x = xs[i]\n        s += x\n" in by_items
    slices = [m.source for m in mutants(FOR_LOOPS, operator="off_by_one") if "slice" in m.description]
    assert any("xs[1:2]" in s for s in slices) and any("xs[0:3]" in s for s in slices)


def test_operators_edit_only_the_site_not_the_layout():
    program = "def f(a, b):\n    # keep me\n    return (a  <  b)\n"
    [flipped] = list(mutants(program, operator="flipped_condition"))
    assert flipped.source == "def f(a, b):\n    # keep me\n    return (a  >=  b)\n"
    [bare] = list(mutants(program, operator="missing_return"))
    assert bare.source == "def f(a, b):\n    # keep me\n    (a  <  b)\n"
    with pytest.raises(KeyError):
        list(mutants(program, operator="no_such_operator"))
    # ast columns are UTF-8 bytes: a site after non-ASCII text on its line is still cut at the right place
    wide = 'def f(s):\n    t = "héllo→"; return s < t\n'
    assert [m.source for m in mutants(wide, operator="off_by_one")] == ['def f(s):\n    t = "héllo→"; return s <= t\n']


@needs_bwrap
def test_each_operator_yields_a_pair_the_sandbox_shows_to_fail_while_the_canonical_passes():
    outcome = cp.code_pairs_build(problem=SMALL, seed=0, tries=6)
    assert not outcome.skipped
    statuses = {p.operator: p.status for p in outcome.pairs}
    assert set(statuses) == set(OPERATORS), statuses
    assert statuses["infinite_loop"] == "timeout"  # ended by the sandbox's limits
    assert all(status != "passed" for status in statuses.values())
    from sandbox.runner import run

    for pair in outcome.pairs:  # the kept mutant really fails: run again at the execution job's limits
        assert pair.mutant != SMALL.program
        assert run("python", pair.mutant, test=SMALL.test_source).status != "passed", pair.description


@needs_bwrap
def test_a_mutant_that_still_passes_the_tests_is_dropped_not_paired():
    # The only off-by-one site: x >= 0 -> x > 0, the same function (abs(0) is 0 either way).
    absolute = cp.CodeProblem(task_id="abs/0", prompt="def absolute(x):\n", canonical_solution="    return x if x >= 0 else -x\n",
                              test="def check(f):\n    assert f(-2) == 2 and f(0) == 0 and f(3) == 3\n",
                              entry_point="absolute")
    outcome = cp.code_pairs_build(problem=absolute, tries=4)
    assert outcome.equivalent >= 1
    assert "off_by_one" not in {p.operator for p in outcome.pairs}
    assert {p.operator for p in outcome.pairs} >= {"flipped_condition", "missing_return"}


@needs_bwrap
def test_an_infinite_loop_pair_needs_a_mutant_that_runs_out_of_time_not_one_that_crashes():
    # for k in d -> while i < len(d): k = d[i] raises KeyError at once: wrong, but not an infinite loop.
    values = cp.CodeProblem(task_id="dict/0", prompt="def total(d):\n",
                            canonical_solution="    s = 0\n    for k in d:\n        s += d[k]\n    return s\n",
                            test="def check(f):\n    assert f({'a': 1, 'b': 2}) == 3\n", entry_point="total")
    assert any("while" in m.source for m in mutants(values.program, operator="infinite_loop"))
    outcome = cp.code_pairs_build(problem=values)
    assert "infinite_loop" not in {p.operator for p in outcome.pairs}
    assert outcome.pairs  # the other operators still plant their mistakes


@needs_bwrap
def test_a_problem_whose_canonical_solution_fails_is_skipped_and_reported(pairwise):
    broken = cp.CodeProblem(task_id="broken/1", prompt=PROMPT, canonical_solution=SOLUTION.replace("n += 1", "n += 2"),
                            test=TEST, entry_point="count_below", line=2)
    report = cp.code_problems_import(project_id=pairwise.pk, problems=[broken, SMALL], seed=0, tested_share=0)
    assert report.skipped == [{"task_id": "broken/1", "line": 2, "reason": report.skipped[0]["reason"]}]
    assert report.skipped[0]["reason"].startswith("canonical solution failed")
    assert report.imported == 1
    assert not Task.objects.filter(external_id__startswith="broken/1:").exists()
    assert Task.objects.filter(project=pairwise, external_id__startswith="small/0:").count() == report.pairs


# --- HumanEval end to end ----------------------------------------------------------------------------

@needs_bwrap
def test_three_humaneval_problems_import_with_balanced_sides_and_execution_makes_them_gold(pairwise):
    problems = cp.humaneval_problems(limit=3)
    assert [p.task_id for p in problems] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    report = cp.code_problems_import(project_id=pairwise.pk, problems=problems, seed=3, tested_share=1.0)
    tasks = list(Task.objects.filter(project=pairwise).order_by("external_id"))
    assert report.created == len(tasks) == report.pairs >= 3
    assert report.imported == 3 and not report.skipped
    by_id = {p.task_id: p for p in problems}
    programs = {p.task_id: p.program for p in problems}
    canonical_side = {}
    for task in tasks:
        program = programs[task.data["problem"]]
        assert task.external_id.split(":")[1] in OPERATORS
        assert program in (task.data["response_a"], task.data["response_b"])
        assert task.data["response_a"] != task.data["response_b"]
        canonical_side[task.pk] = "a" if task.data["response_a"] == program else "b"
        assert task.data["tests"] == by_id[task.data["problem"]].tests
        assert not task.is_gold
    on_a = sum(side == "a" for side in canonical_side.values())
    assert on_a == report.canonical_on_a and abs(on_a - (len(tasks) - on_a)) <= 1  # balanced

    assert run_project_tests(pairwise.pk) == len(tasks)  # the sandbox queue's job, run directly
    for task in Task.objects.filter(project=pairwise):
        runs = {r.side: r for r in CompletionRun.objects.filter(task=task)}
        assert set(runs) == {"a", "b"}
        assert [side for side, r in runs.items() if r.passed] == [canonical_side[task.pk]]
        assert task.is_gold and task.gold_source == "execution"
        assert task.gold == {"choice": canonical_side[task.pk]}


@needs_bwrap
def test_a_reimport_creates_nothing_runs_nothing_and_keeps_the_external_ids(pairwise):
    problems = cp.humaneval_problems(limit=2)
    first = cp.code_problems_import(project_id=pairwise.pk, problems=problems, tested_share=0.5)
    ids = sorted(Task.objects.filter(project=pairwise).values_list("external_id", flat=True))
    assert first.created == len(ids) > 0
    assert first.with_tests == round(0.5 * first.pairs)
    again = cp.code_problems_import(project_id=pairwise.pk, problems=problems, tested_share=0.5, seed=99)
    assert (again.created, again.already_imported, again.sandbox_runs, again.pairs) == (0, 2, 0, 0)
    assert sorted(Task.objects.filter(project=pairwise).values_list("external_id", flat=True)) == ids


@needs_bwrap
def test_the_demo_command_makes_the_humaneval_project_once(db, capsys):
    call_command("import_code_problems", "--demo", "--problems", "2")
    project = Project.objects.get(name=cp.DEMO_PROJECT, client__name=cp.DEMO_CLIENT)
    n = project.tasks.count()
    assert n > 0 and "2 imported" in capsys.readouterr().out
    call_command("import_code_problems", "--demo", "--problems", "2")
    assert "2 already imported" in capsys.readouterr().out
    assert project.tasks.count() == n and Project.objects.filter(name=cp.DEMO_PROJECT).count() == 1


# --- hostile JSONL -----------------------------------------------------------------------------------

def read(text: str, **kw):
    return cp.problems_read(io.BytesIO(text.encode()), **kw)


def test_a_good_file_reads():
    [problem] = read(problem_line() + "\n\n")
    assert problem == SMALL


@pytest.mark.parametrize("line, expected", [
    ("{not json", "line 2: line: "),
    ("[1, 2]", "line 2: line: must be a JSON object"),
    (problem_line(task_id="x", entry_point=None), "line 2: entry_point: must be a non-empty string"),
    (json.dumps({"task_id": "x", "prompt": "p", "test": "t", "entry_point": "f"}), "line 2: canonical_solution: is required"),
    (problem_line(task_id="x", entry_point="not a name"), "line 2: entry_point: must be a Python identifier"),
    (problem_line(task_id="x", entry_point="class"), "line 2: entry_point: must be a Python identifier"),
    (problem_line(task_id=""), "line 2: task_id: is required"),
    (problem_line(task_id="y" * 201), "line 2: task_id: at most 200 characters"),
    (problem_line(task_id="x", prompt="a\u0000b"), "line 2: prompt: NUL characters are not allowed"),
    (problem_line(task_id="x", test=7), "line 2: test: must be a non-empty string"),
    (problem_line(), "line 2: task_id: 'small/0' already on line 1"),
    ('{"task_id": "x", "prompt": "\\ud800"}', "line 2: "),  # a lone surrogate: refused by the JSON limits
])
def test_a_bad_line_is_an_error_naming_the_line(line, expected):
    with pytest.raises(ValidationFailed) as caught:
        read(problem_line() + "\n" + line + "\n")
    assert any(msg.startswith(expected) for msg in caught.value.fields["lines"]), caught.value.fields


def test_a_huge_line_is_refused_by_its_number_and_empty_files_are_errors():
    with pytest.raises(ValidationFailed) as caught:
        read(problem_line() + "\n" + problem_line(task_id="big", prompt="x" * 5000) + "\n", max_line_bytes=4096)
    assert caught.value.fields["lines"] == ["line 2: line: line longer than 4096 bytes"]
    with pytest.raises(ValidationFailed, match="no problems"):
        read("\n \n")


def test_every_bad_line_is_named_and_nothing_runs(tmp_path, pairwise):
    path = tmp_path / "problems.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.write(problem_line() + "\n{oops\n" + problem_line(task_id="z", prompt="") + "\n")
    with pytest.raises(CommandError) as caught:
        call_command("import_code_problems", str(path), "--project", str(pairwise.pk))
    message = str(caught.value)
    assert "2 invalid line(s)" in message and "line 2: line:" in message and "line 3: prompt:" in message
    assert not Task.objects.filter(project=pairwise).exists()


def test_the_command_refuses_a_missing_project_a_non_pairwise_one_and_bad_options(tmp_path, pairwise):
    from tasks.services.projects import project_create

    path = tmp_path / "p.jsonl"
    path.write_text(problem_line() + "\n")
    with pytest.raises(CommandError, match="No project with id 999999"):
        call_command("import_code_problems", str(path), "--project", "999999")
    with pytest.raises(CommandError, match="FILE or --demo"):
        call_command("import_code_problems")
    with pytest.raises(CommandError, match="--tested-share"):
        call_command("import_code_problems", str(path), "--project", str(pairwise.pk), "--tested-share", "2")
    text = project_create(client=pairwise.client, name="Explain", task_type="text", instructions="i",
                          data_use_statement="d", reward_cents=1)
    with pytest.raises(CommandError, match="must be a pairwise project"):
        call_command("import_code_problems", str(path), "--project", str(text.pk))


# --- the simulator's dataset (simulate --dataset humaneval) ------------------------------------------

@needs_bwrap
def test_the_simulators_humaneval_items_plant_truth_and_only_gold_uploads_the_tests():
    from simulation import dataset

    pairs = dataset.pairs_for(dataset="humaneval", problems=2, seed=7)
    assert {p.bug for p in pairs} <= set(OPERATORS) and len(pairs) >= 2
    assert all(p.correct == "a" and p.tests and p.completions["a"] != p.completions["b"] for p in pairs)
    regular, gold = dataset.build_tasks(n_tasks=6, n_gold=3, seed=7, prefix="he", pairs=pairs)
    by_id = {p.id: p for p in pairs}
    for task in regular + gold:
        pair = by_id[task.item_id]
        assert task.data[f"response_{task.truth}"] == pair.correct_code
        assert ("tests" in task.data) == task.is_gold
    assert {t.truth for t in regular} == {"a", "b"}


def test_the_default_day_keeps_the_bundled_items_and_unknown_datasets_are_refused():
    from simulation import dataset
    from simulation.config import SimulationConfig

    assert dataset.pairs_for(dataset="bundled", problems=1, seed=7) == dataset.load_pairs()
    assert SimulationConfig().dataset == "bundled"
    with pytest.raises(ValueError, match="--dataset must be one of bundled, humaneval"):
        SimulationConfig(dataset="mbpp").validate()
    regular, gold = dataset.build_tasks(n_tasks=5, n_gold=2, seed=7, prefix="b")
    assert not any("tests" in t.data for t in regular + gold)
