"""Planted worker behaviours: how a simulated freelancer answers and how long they take.

Pure code (no I/O): given a behaviour, the planted truth and a random generator, choose an answer and
the seconds spent. Careful and average raters are honest by construction; the others are what the
quality rules exist to catch.
"""

import random
from dataclasses import dataclass
from enum import StrEnum


class Behaviour(StrEnum):
    CAREFUL = "careful"  # reads both completions, right ~92% of the time
    AVERAGE = "average"  # right ~75% of the time
    SPAMMER = "spammer"  # clicks at random
    ALWAYS_A = "always_a"  # always answers "a"
    FAST = "fast"  # answers in a couple of seconds, barely better than chance

    @property
    def honest(self) -> bool:
        return self in (Behaviour.CAREFUL, Behaviour.AVERAGE)


@dataclass(frozen=True)
class Profile:
    accuracy: float | None  # None: the answer does not depend on the truth
    seconds: tuple[float, float]  # simulated time spent per judgment (uniform range)


PROFILES = {
    Behaviour.CAREFUL: Profile(accuracy=0.92, seconds=(45.0, 110.0)),
    Behaviour.AVERAGE: Profile(accuracy=0.75, seconds=(30.0, 80.0)),
    Behaviour.SPAMMER: Profile(accuracy=None, seconds=(8.0, 20.0)),
    Behaviour.ALWAYS_A: Profile(accuracy=None, seconds=(10.0, 25.0)),
    Behaviour.FAST: Profile(accuracy=0.6, seconds=(1.0, 3.0)),
}

REASONS = {
    "off_by_one": "The other one is off by one at a boundary.",
    "infinite_loop": "The other one can loop forever.",
    "wrong_variable": "The other one uses the wrong variable.",
    "wrong_output": "The other one returns the wrong result.",
    "missing_edge_case": "The other one misses an edge case.",
    "flipped_condition": "The other one tests the opposite condition.",
    "missing_return": "The other one never returns its result.",
}


def choose_answer(behaviour: Behaviour, *, truth: str, bug: str, rng: random.Random) -> dict:
    """The pairwise answer {choice, reason} this behaviour gives for a task whose correct side is truth."""
    if behaviour is Behaviour.ALWAYS_A:
        return {"choice": "a", "reason": "Looks fine."}
    profile = PROFILES[behaviour]
    if profile.accuracy is None:
        return {"choice": rng.choice("ab"), "reason": "ok"}
    right = rng.random() < profile.accuracy
    choice = truth if right else ("b" if truth == "a" else "a")
    return {"choice": choice, "reason": REASONS.get(bug, "The other one is wrong.") if right else "Seems better."}


def seconds_spent(behaviour: Behaviour, rng: random.Random) -> float:
    low, high = PROFILES[behaviour].seconds
    return round(rng.uniform(low, high), 1)


def assign_behaviours(*, n_workers: int, spammer_share: float, always_a_share: float, fast_share: float,
                      rng: random.Random) -> list[Behaviour]:
    """One behaviour per worker. Bad shares are rounded, but a positive share of a group of at least
    1/n still yields one worker; the honest rest is split between careful and average (careful first).
    The list is shuffled so behaviour does not follow signup order."""
    shares = {Behaviour.SPAMMER: spammer_share, Behaviour.ALWAYS_A: always_a_share, Behaviour.FAST: fast_share}
    if any(not 0 <= s <= 1 for s in shares.values()) or sum(shares.values()) > 1:
        raise ValueError("shares must be between 0 and 1 and sum to at most 1")
    counts = {b: (max(1, round(s * n_workers)) if s > 0 else 0) for b, s in shares.items()}
    while sum(counts.values()) > n_workers:  # rounding up small shares may overshoot tiny crowds
        largest = max(counts, key=counts.get)
        counts[largest] -= 1
    honest = n_workers - sum(counts.values())
    counts[Behaviour.CAREFUL] = (honest + 1) // 2
    counts[Behaviour.AVERAGE] = honest // 2
    out = [b for b, c in counts.items() for _ in range(c)]
    rng.shuffle(out)
    return out


def quiz_answers(questions: list[dict], key_for: dict[str, list[str]], *, fail: bool, rng: random.Random) -> dict:
    """Answers for a drawn attempt. key_for maps a question id (or its fingerprint) to the correct
    options' fingerprints (see fingerprint()): labels are shuffled per attempt, so the simulated worker
    recognises the right option by its content, as a person would.
    fail=True answers every question wrongly (a worker who did not prepare)."""
    answers = {}
    for q in questions:
        labels = [o["label"] for o in q["options"]]
        key = key_for.get(str(q.get("id")), key_for.get(question_fingerprint(q), []))
        correct = {o["label"] for o in q["options"] if fingerprint(o) in key}
        if q.get("kind") == "multiple":
            chosen = sorted(set(labels) - correct) if fail else sorted(correct)
            answers[str(q["id"])] = chosen or labels[:1]
        else:
            wrong = [lab for lab in labels if lab not in correct]
            pick = (rng.choice(wrong) if wrong else labels[0]) if fail else (sorted(correct) or labels)[0]
            answers[str(q["id"])] = pick
    return answers


def fingerprint(option: dict) -> str:
    return f"{option.get('text', '').strip()}\x00{option.get('code', '').strip()}"


def question_fingerprint(question: dict) -> str:
    return f"{question.get('prompt', '').strip()}\x00{question.get('code', '').strip()}"
