"""What a response to a worker must never contain: gold answers, quiz answer keys, another worker's data."""

import json

from tests.e2e.matrix_world import GOLD_MARK, QUIZ_KEYS, WORKER_ROLES, World

# Keys that carry an answer key or a gold answer: never in a worker's response, whatever their value.
FORBIDDEN_KEYS = {"gold", "is_gold", "correct", "answer_key", "explanation"}
# Keys whose integer value is a person: must be the worker themself (or absent).
PERSON_KEYS = {"worker", "worker_id", "user", "user_id", "created_by", "resolved_by", "approved_by"}


def _walk(value, path="$"):
    if isinstance(value, dict):
        for key, item in value.items():
            yield path, key, item
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")


def worker_leaks(world: World, role: str, response) -> list[str]:
    """Every leak in a response to worker `role`, described by where it is; [] when clean."""
    text = response.content.decode("utf-8", "replace")
    me = world.users[role].pk
    others = [r for r in (*WORKER_ROLES, "worker_c") if r != role]
    problems = []
    marks = [GOLD_MARK, *QUIZ_KEYS, "SECRET-EXPLANATION"]
    for other in others:
        marks += [s for s in world.secrets[other]]
    problems += [f"text contains {mark!r}" for mark in marks if mark in text]
    try:
        body = json.loads(text) if text else None
    except ValueError:
        return problems
    other_ids = {world.users[o].pk for o in others}
    for path, key, item in _walk(body):
        if key in FORBIDDEN_KEYS:
            problems.append(f"{path}.{key} present")
        if key == "gold_correct" and isinstance(item, bool):  # per judgment: names a gold task (counts are fine)
            problems.append(f"{path}.{key} is a per-judgment gold verdict")
        if key in PERSON_KEYS and isinstance(item, int) and item != me and item in other_ids:
            problems.append(f"{path}.{key} = another worker's id {item}")
    return problems
