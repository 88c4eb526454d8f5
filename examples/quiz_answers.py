"""Answers a drawn quiz attempt correctly, for the demo where you play ops and the worker at once.

    python3 examples/quiz_answers.py "$ATTEMPT" "$KEY"   -> {"answers": {"<question id>": "b", ...}}

ATTEMPT is the worker's attempt (POST /api/v1/quizzes/python/attempts/): options relabelled a, b, c in a
shuffled order, no answer keys. KEY is what ops see (GET /api/v1/quizzes/python/questions/): each
question's options with their keys and the correct keys. A worker never sees KEY; the demo script
recognises the right options by their text and code, as a person who knows the answer would.
Standard library only.
"""

import json
import sys


def fingerprint(option: dict) -> tuple[str, str]:
    return option.get("text", "").strip(), option.get("code", "").strip()


def answers(attempt: dict, key: dict | list) -> dict:
    questions = key["results"] if isinstance(key, dict) else key
    right = {q["id"]: {fingerprint(o) for o in q["options"] if o["key"] in q["correct"]} for q in questions}
    chosen = {}
    for question in attempt["questions"]:
        labels = [o["label"] for o in question["options"] if fingerprint(o) in right.get(question["id"], set())]
        chosen[str(question["id"])] = labels if question["kind"] == "multiple" else labels[0]
    return {"answers": chosen}


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print(json.dumps(answers(json.loads(sys.argv[1]), json.loads(sys.argv[2]))))
