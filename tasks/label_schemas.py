"""Task types: what a project's label schema, a task's data and a worker's answer look like.

Plain Python on purpose (no serializers): bulk ingest validates 100k rows with these functions, the
queue validates every submission, quality compares answers. Every function raises
`marketplace.errors.ValidationFailed` with `fields` naming the path at fault, e.g.
`{"answer.choice": ["must be one of a, b"]}`, and collects every fault of one object, not just the first.

Shapes (docs/api.md "Task data and answers by task type"):

| task_type | data                                   | label_schema (normalised)                         | answer |
|-----------|----------------------------------------|---------------------------------------------------|--------|
| pairwise  | prompt, language, response_a, response_b | allow_tie (True), strength_scale (3), require_reason (False) | choice a/b/tie, strength?, reason? |
| ranking   | prompt, language, responses [2..20]     | {}                                                | order: permutation of response indexes, best first |
| flags     | code, language, context?                | taxonomy [slugs] (required)                       | flags: subset of taxonomy, no duplicates, "none" alone; spans? [{start_line, end_line, category, comment?}] |
| rating    | content, language?                      | min, max (required), labels? {score: text}        | score: int in [min, max] |
| text      | code, language, question?               | min_length (1), max_length (5000), review? {mode, min_answers, overlap} | text |
| fix       | code, language (python/javascript), tests, question? | {}                                 | code: the edited code, checked by the tests in the sandbox |

Extra keys in task data are kept (clients carry their own metadata); extra keys in a schema or an
answer are refused, because a typo there would silently change what is asked or recorded.
"""

from __future__ import annotations

import re

from marketplace.errors import ValidationFailed
from marketplace.json_limits import has_lone_surrogate

TASK_TYPES = ("pairwise", "ranking", "flags", "rating", "text", "fix")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_+#.-]{0,49}$")
MAX_TEXT = 100_000  # characters in one data field: a long source file, not a data dump
MAX_RESPONSES = 20
MAX_TAXONOMY = 100
MAX_STRENGTH_SCALE = 10
NO_PROBLEM_FLAG = "none"  # a flags taxonomy's slug for "no problem": never together with another flag
TEXT_MAX_LENGTH_CEILING = 20_000
MAX_SPANS = 50  # line-anchored flags in one answer: more is a dump, not a judgment
MAX_SPAN_COMMENT = 500
# PostgreSQL text and jsonb cannot hold NUL, and a lone UTF-16 surrogate cannot be encoded as UTF-8 (stored
# on SQLite, it breaks every later rendering of the row): refusing both here turns a 500 into a 400 for
# callers that do not come through the API's parser (which refuses them already).
NUL = "\x00"
NUL_MESSAGE = "must not contain NUL characters or lone UTF-16 surrogates"


def _unstorable(text: str) -> bool:
    return NUL in text or has_lone_surrogate(text)


class _Errors:
    """Collects messages per path; raise_if_any() turns them into one ValidationFailed."""

    __slots__ = ("fields", "what")

    def __init__(self, what: str):
        self.what = what
        self.fields: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.fields.setdefault(path, []).append(message)

    def raise_if_any(self) -> None:
        if self.fields:
            path, messages = next(iter(self.fields.items()))
            raise ValidationFailed(f"Invalid {self.what}: {path}: {messages[0]}", code="invalid", fields=self.fields)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_type(task_type) -> None:
    if task_type not in TASK_TYPES:
        raise ValidationFailed(f"Unknown task type {task_type!r}.",
                               fields={"task_type": [f"must be one of {', '.join(TASK_TYPES)}"]})


def _unknown_keys(errors: _Errors, prefix: str, obj: dict, allowed: tuple[str, ...]) -> None:
    for key in obj:
        if key not in allowed:
            errors.add(f"{prefix}.{key}", f"unknown field (allowed: {', '.join(allowed) or 'none'})")


# --- label schemas -------------------------------------------------------------------------------

def validate_label_schema(task_type: str, schema) -> dict:
    """Check a project's label schema for its task type and return it normalised (defaults filled in)."""
    _check_type(task_type)
    if schema is None:
        schema = {}
    if not isinstance(schema, dict):
        raise ValidationFailed("label_schema must be an object.", fields={"label_schema": ["must be an object"]})
    errors = _Errors("label_schema")
    p = "label_schema"
    out: dict
    if task_type == "pairwise":
        _unknown_keys(errors, p, schema, ("allow_tie", "strength_scale", "require_reason"))
        out = {"allow_tie": True, "strength_scale": 3, "require_reason": False}
        for key in ("allow_tie", "require_reason"):
            if key in schema:
                if not isinstance(schema[key], bool):
                    errors.add(f"{p}.{key}", "must be true or false")
                else:
                    out[key] = schema[key]
        if "strength_scale" in schema:
            scale = schema["strength_scale"]
            if not _is_int(scale) or not 2 <= scale <= MAX_STRENGTH_SCALE:
                errors.add(f"{p}.strength_scale", f"must be an integer from 2 to {MAX_STRENGTH_SCALE}")
            else:
                out["strength_scale"] = scale
    elif task_type == "ranking":
        _unknown_keys(errors, p, schema, ())
        out = {}
    elif task_type == "flags":
        _unknown_keys(errors, p, schema, ("taxonomy",))
        taxonomy = schema.get("taxonomy")
        out = {"taxonomy": []}
        if taxonomy is None:
            errors.add(f"{p}.taxonomy", "is required: a list of flag slugs, e.g. [\"off_by_one\", \"infinite_loop\"]")
        elif not isinstance(taxonomy, list) or not taxonomy:
            errors.add(f"{p}.taxonomy", "must be a non-empty list of flag slugs")
        elif len(taxonomy) > MAX_TAXONOMY:
            errors.add(f"{p}.taxonomy", f"at most {MAX_TAXONOMY} flags")
        else:
            seen = set()
            for i, slug in enumerate(taxonomy):
                if not isinstance(slug, str) or not _SLUG.match(slug):
                    errors.add(f"{p}.taxonomy.{i}", "must be a slug (lowercase letters, digits, _ or -)")
                elif slug in seen:
                    errors.add(f"{p}.taxonomy.{i}", f"duplicate flag {slug!r}")
                else:
                    seen.add(slug)
            out["taxonomy"] = list(taxonomy)
    elif task_type == "rating":
        _unknown_keys(errors, p, schema, ("min", "max", "labels"))
        lo, hi = schema.get("min"), schema.get("max")
        out = {"min": lo, "max": hi}
        for key, value in (("min", lo), ("max", hi)):
            if value is None:
                errors.add(f"{p}.{key}", "is required (an integer)")
            elif not _is_int(value):
                errors.add(f"{p}.{key}", "must be an integer")
        if _is_int(lo) and _is_int(hi):
            if lo >= hi:
                errors.add(f"{p}.max", "must be greater than min")
            elif hi - lo > 100:
                errors.add(f"{p}.max", "a scale has at most 101 points")
        labels = schema.get("labels")
        if labels is not None:
            if not isinstance(labels, dict):
                errors.add(f"{p}.labels", "must be an object mapping a score to its label, e.g. {\"1\": \"poor\"}")
            else:
                norm = {}
                for key, text in labels.items():
                    try:
                        score = int(key)
                    except (TypeError, ValueError):
                        errors.add(f"{p}.labels.{key}", "key must be an integer score")
                        continue
                    if _is_int(lo) and _is_int(hi) and not lo <= score <= hi:
                        errors.add(f"{p}.labels.{key}", f"score outside {lo}..{hi}")
                    elif not isinstance(text, str) or not text.strip() or _unstorable(text) or len(text) > 200:
                        errors.add(f"{p}.labels.{key}", "must be a non-empty string (at most 200 characters)")
                    else:
                        norm[str(score)] = text.strip()
                out["labels"] = norm
    elif task_type == "fix":
        _unknown_keys(errors, p, schema, ())
        out = {}
    else:  # text
        _unknown_keys(errors, p, schema, ("min_length", "max_length", "review"))
        out = {"min_length": 1, "max_length": 5000}
        if "review" in schema:
            review = _review_schema(errors, schema["review"], f"{p}.review")
            if review is not None:
                out["review"] = review
        for key in ("min_length", "max_length"):
            if key in schema:
                value = schema[key]
                if not _is_int(value) or not 0 <= value <= TEXT_MAX_LENGTH_CEILING:
                    errors.add(f"{p}.{key}", f"must be an integer from 0 to {TEXT_MAX_LENGTH_CEILING}")
                else:
                    out[key] = value
        if "max_length" not in errors.fields and "min_length" not in errors.fields:
            if out["max_length"] < max(out["min_length"], 1):
                errors.add(f"{p}.max_length", "must be at least min_length and at least 1")
    errors.raise_if_any()
    return out


REVIEW_MAX_ANSWERS = 20  # a ranking task holds 2..20 responses


def _review_schema(errors: _Errors, review, p: str) -> dict | None:
    """A text project's peer review: {"mode": "ranking", "min_answers": 2..20, "overlap": 1..50}. When a
    task completes with at least min_answers approved answers, a ranking task over them is made for
    `overlap` other workers (tasks.services.reviews)."""
    if not isinstance(review, dict):
        errors.add(p, 'must be an object like {"mode": "ranking", "min_answers": 3}')
        return None
    _unknown_keys(errors, p, review, ("mode", "min_answers", "overlap"))
    out = {"mode": "ranking", "min_answers": 2, "overlap": 3}
    mode = review.get("mode", "ranking")
    if mode != "ranking":
        errors.add(f"{p}.mode", 'must be "ranking" (pairwise review is not supported)')
    for key, lo, hi in (("min_answers", 2, REVIEW_MAX_ANSWERS), ("overlap", 1, 50)):
        if key in review:
            value = review[key]
            if not _is_int(value) or not lo <= value <= hi:
                errors.add(f"{p}.{key}", f"must be an integer from {lo} to {hi}")
            else:
                out[key] = value
    return out


# --- task data -----------------------------------------------------------------------------------

def _text(errors: _Errors, data: dict, key: str, *, required: bool = True, prefix: str = "data") -> None:
    value = data.get(key)
    if value is None:
        if required:
            errors.add(f"{prefix}.{key}", "is required")
    elif not isinstance(value, str):
        errors.add(f"{prefix}.{key}", "must be a string")
    elif required and not value.strip():
        errors.add(f"{prefix}.{key}", "must not be blank")
    elif len(value) > MAX_TEXT:
        errors.add(f"{prefix}.{key}", f"at most {MAX_TEXT} characters")
    elif _unstorable(value):
        errors.add(f"{prefix}.{key}", NUL_MESSAGE)


def _language(errors: _Errors, data: dict, *, required: bool, prefix: str = "data") -> None:
    value = data.get("language")
    if value is None:
        if required:
            errors.add(f"{prefix}.language", "is required (a slug such as python or javascript)")
    elif not isinstance(value, str) or not _SLUG.match(value):
        errors.add(f"{prefix}.language", "must be a lowercase slug such as python or javascript")


EXECUTABLE_LANGUAGES = ("python", "javascript")  # what the sandbox runs (sandbox.runner.LANGUAGES)
MAX_CASES = 100


def _tests(errors: _Errors, data: dict, *, prefix: str) -> None:
    """data.tests: {"test": source} (asserts or a test function and its call, appended to the code) or
    {"cases": [{"stdin", "stdout"}, ...]}; the task's language must be one the sandbox runs."""
    p = f"{prefix}.tests"
    tests = data["tests"]
    if data.get("language") not in EXECUTABLE_LANGUAGES:
        errors.add(f"{prefix}.language", f"must be one of {', '.join(EXECUTABLE_LANGUAGES)} for a task with tests")
    if not isinstance(tests, dict) or len(tests) != 1 or not tests.keys() <= {"test", "cases"}:
        errors.add(p, 'must be {"test": "<source>"} or {"cases": [{"stdin": "...", "stdout": "..."}]}')
        return
    if "test" in tests:
        _text(errors, tests, "test", prefix=p)
        return
    cases = tests["cases"]
    if not isinstance(cases, list) or not 1 <= len(cases) <= MAX_CASES:
        errors.add(f"{p}.cases", f"must be a list of 1 to {MAX_CASES} cases")
        return
    for i, case in enumerate(cases):
        if not isinstance(case, dict) or set(case) != {"stdin", "stdout"}:
            errors.add(f"{p}.cases.{i}", 'must be {"stdin": "...", "stdout": "..."}')
            continue
        for key in ("stdin", "stdout"):
            if not isinstance(case[key], str):
                errors.add(f"{p}.cases.{i}.{key}", "must be a string")
            elif len(case[key]) > MAX_TEXT or _unstorable(case[key]):
                errors.add(f"{p}.cases.{i}.{key}", f"at most {MAX_TEXT} characters, no NUL")


def validate_task_data(task_type: str, data, *, prefix: str = "data") -> None:
    """Check one task's data for the task type. Extra keys are allowed and kept."""
    _check_type(task_type)
    if not isinstance(data, dict):
        raise ValidationFailed("data must be an object.", fields={prefix: ["must be an object"]})
    errors = _Errors(prefix)
    if task_type == "pairwise":
        _text(errors, data, "prompt", prefix=prefix)
        _language(errors, data, required=True, prefix=prefix)
        _text(errors, data, "response_a", prefix=prefix)
        _text(errors, data, "response_b", prefix=prefix)
        if "tests" in data:
            _tests(errors, data, prefix=prefix)
    elif task_type == "ranking":
        _text(errors, data, "prompt", prefix=prefix)
        _language(errors, data, required=True, prefix=prefix)
        responses = data.get("responses")
        if not isinstance(responses, list):
            errors.add(f"{prefix}.responses", "is required: a list of 2 or more strings")
        elif not 2 <= len(responses) <= MAX_RESPONSES:
            errors.add(f"{prefix}.responses", f"must hold 2 to {MAX_RESPONSES} responses")
        else:
            for i, response in enumerate(responses):
                if not isinstance(response, str) or not response.strip():
                    errors.add(f"{prefix}.responses.{i}", "must be a non-blank string")
                elif len(response) > MAX_TEXT:
                    errors.add(f"{prefix}.responses.{i}", f"at most {MAX_TEXT} characters")
                elif _unstorable(response):
                    errors.add(f"{prefix}.responses.{i}", NUL_MESSAGE)
    elif task_type == "flags":
        _text(errors, data, "code", prefix=prefix)
        _language(errors, data, required=True, prefix=prefix)
        _text(errors, data, "context", required=False, prefix=prefix)
    elif task_type == "rating":
        _text(errors, data, "content", prefix=prefix)
        _language(errors, data, required=False, prefix=prefix)
    elif task_type == "fix":
        _text(errors, data, "code", prefix=prefix)
        _language(errors, data, required=True, prefix=prefix)
        _text(errors, data, "question", required=False, prefix=prefix)
        if "tests" not in data:
            errors.add(f"{prefix}.tests", 'is required: {"test": "<source>"} or {"cases": [...]}')
        else:
            _tests(errors, data, prefix=prefix)
    else:
        _text(errors, data, "code", prefix=prefix)
        _language(errors, data, required=True, prefix=prefix)
        _text(errors, data, "question", required=False, prefix=prefix)
    errors.raise_if_any()


# --- answers -------------------------------------------------------------------------------------

def code_line_count(code) -> int:
    """How many lines the code has, as the task page numbers them: a final newline ends the last line
    rather than starting an empty one. 0 for anything that is not a non-empty string."""
    if not isinstance(code, str) or not code:
        return 0
    return code.count("\n") + (0 if code.endswith("\n") else 1)


def _spans(errors: _Errors, prefix: str, spans, taxonomy: list, n_lines: int | None) -> list[dict]:
    """answer.spans: line-anchored flags, each {start_line, end_line, category, comment?}. Lines are 1-based
    and inclusive, within the task's code (n_lines; unknown without the task's data: only >= 1 is checked).
    Returned sorted (start, end, category) so equal answers are equal JSON; comments stripped, blank dropped."""
    p = f"{prefix}.spans"
    if not isinstance(spans, list):
        errors.add(p, "must be a list of {start_line, end_line, category, comment?}")
        return []
    if len(spans) > MAX_SPANS:
        errors.add(p, f"at most {MAX_SPANS} spans")
        return []
    categories = [slug for slug in taxonomy if slug != NO_PROBLEM_FLAG]
    out, seen = [], set()
    for i, span in enumerate(spans):
        sp = f"{p}.{i}"
        if not isinstance(span, dict):
            errors.add(sp, "must be an object {start_line, end_line, category, comment?}")
            continue
        _unknown_keys(errors, sp, span, ("start_line", "end_line", "category", "comment"))
        ok = True
        lines = {}
        for key in ("start_line", "end_line"):
            value = span.get(key)
            if not _is_int(value):
                errors.add(f"{sp}.{key}", "is required: a line number (1 is the first line)")
                ok = False
            elif value < 1 or (n_lines is not None and value > n_lines):
                where = f"1 to {n_lines}" if n_lines is not None else "at least 1"
                errors.add(f"{sp}.{key}", f"must be a line of the code: {where} (got {value})")
                ok = False
            lines[key] = value
        if ok and lines["start_line"] > lines["end_line"]:
            errors.add(f"{sp}.end_line", f"must be at least start_line ({lines['start_line']})")
            ok = False
        category = span.get("category")
        if not isinstance(category, str) or category not in categories:
            errors.add(f"{sp}.category", f"must be one of {', '.join(categories)}")
            ok = False
        comment = span.get("comment")
        if comment is not None:
            if not isinstance(comment, str):
                errors.add(f"{sp}.comment", "must be a string")
                ok = False
            elif len(comment) > MAX_SPAN_COMMENT:
                errors.add(f"{sp}.comment", f"at most {MAX_SPAN_COMMENT} characters")
                ok = False
            elif _unstorable(comment):
                errors.add(f"{sp}.comment", NUL_MESSAGE)
                ok = False
        if not ok:
            continue
        key = (lines["start_line"], lines["end_line"], category)
        if key in seen:
            errors.add(sp, f"duplicate span: lines {key[0]}-{key[1]} as {category!r} are given twice")
            continue
        seen.add(key)
        item = {"start_line": key[0], "end_line": key[1], "category": category}
        if comment is not None and comment.strip():
            item["comment"] = comment.strip()
        out.append(item)
    out.sort(key=lambda s: (s["start_line"], s["end_line"], categories.index(s["category"])))
    return out


def validate_answer(task_type: str, schema: dict, answer, *, data: dict | None = None, prefix: str = "answer") -> dict:
    """Check a worker's (or a gold) answer against the project's normalised label schema; return it normalised.

    `data` (the task's data) lets ranking check that `order` is a permutation of the task's responses;
    without it, `order` must be a permutation of range(len(order)). `prefix` names the root in error
    paths ("gold" for a gold answer at ingest)."""
    _check_type(task_type)
    if not isinstance(answer, dict):
        raise ValidationFailed(f"{prefix} must be an object.", fields={prefix: ["must be an object"]})
    schema = schema or {}
    errors = _Errors(prefix)
    out: dict = {}
    if task_type == "pairwise":
        _unknown_keys(errors, prefix, answer, ("choice", "strength", "reason"))
        allow_tie = schema.get("allow_tie", True)
        choices = ("a", "b", "tie") if allow_tie else ("a", "b")
        choice = answer.get("choice")
        if choice not in choices:
            errors.add(f"{prefix}.choice", f"must be one of {', '.join(choices)}")
        else:
            out["choice"] = choice
        strength = answer.get("strength")
        if strength is not None:
            scale = schema.get("strength_scale", 3)
            if not _is_int(strength) or not 1 <= strength <= scale:
                errors.add(f"{prefix}.strength", f"must be an integer from 1 to {scale}")
            else:
                out["strength"] = strength
        reason = answer.get("reason")
        if reason is not None and not isinstance(reason, str):
            errors.add(f"{prefix}.reason", "must be a string")
        elif reason is not None and len(reason) > MAX_TEXT:
            errors.add(f"{prefix}.reason", f"at most {MAX_TEXT} characters")
        elif reason is not None and _unstorable(reason):
            errors.add(f"{prefix}.reason", NUL_MESSAGE)
        elif schema.get("require_reason") and not (reason or "").strip():
            errors.add(f"{prefix}.reason", "is required for this project")
        elif reason is not None and reason.strip():
            out["reason"] = reason.strip()
    elif task_type == "ranking":
        _unknown_keys(errors, prefix, answer, ("order",))
        order = answer.get("order")
        n = None
        if isinstance(data, dict) and isinstance(data.get("responses"), list):
            n = len(data["responses"])
        if not isinstance(order, list) or not all(_is_int(i) for i in order):
            errors.add(f"{prefix}.order", "is required: a list of response indexes, best first")
        else:
            expected = n if n is not None else len(order)
            if expected < 2:
                errors.add(f"{prefix}.order", "must rank at least 2 responses")
            elif len(order) != expected or sorted(order) != list(range(expected)):
                errors.add(f"{prefix}.order", f"must list each response index 0..{expected - 1} exactly once")
            else:
                out["order"] = list(order)
    elif task_type == "flags":
        _unknown_keys(errors, prefix, answer, ("flags", "spans"))
        flags = answer.get("flags")
        taxonomy = schema.get("taxonomy") or []
        spans = []
        if answer.get("spans") is not None:
            n_lines = code_line_count(data.get("code")) if isinstance(data, dict) else None
            spans = _spans(errors, prefix, answer["spans"], taxonomy, n_lines or None)
        if not isinstance(flags, list):
            errors.add(f"{prefix}.flags", "is required: a list of flag slugs (empty = no bug)")
        else:
            seen = set()
            for i, flag in enumerate(flags):
                if not isinstance(flag, str) or flag not in taxonomy:
                    errors.add(f"{prefix}.flags.{i}", f"must be one of {', '.join(taxonomy)}")
                elif flag in seen:
                    errors.add(f"{prefix}.flags.{i}", f"duplicate flag {flag!r}")
                else:
                    seen.add(flag)
            # A taxonomy's "none" says the code has no problem: with a problem beside it the answer says
            # two opposite things (and would be scored as a third category). Refused, not quietly fixed.
            if NO_PROBLEM_FLAG in seen and len(seen) > 1:
                errors.add(f"{prefix}.flags", f"{NO_PROBLEM_FLAG!r} (no problem) cannot be given together with "
                                              "other flags")
            elif NO_PROBLEM_FLAG in seen and spans:
                errors.add(f"{prefix}.spans", f"{NO_PROBLEM_FLAG!r} (no problem) cannot be given with spans that "
                                              "point at problems")
            # A span's category is a flag of the answer: flags holds every category the spans name (a span
            # says "this problem is here", which says "this problem is in the code").
            seen.update(span["category"] for span in spans)
            # Taxonomy order, so equal answers are equal JSON.
            out["flags"] = [flag for flag in taxonomy if flag in seen]
            if spans:
                out["spans"] = spans
    elif task_type == "rating":
        _unknown_keys(errors, prefix, answer, ("score",))
        score = answer.get("score")
        lo, hi = schema.get("min"), schema.get("max")
        if not _is_int(score):
            errors.add(f"{prefix}.score", "is required: an integer")
        elif _is_int(lo) and _is_int(hi) and not lo <= score <= hi:
            errors.add(f"{prefix}.score", f"must be from {lo} to {hi}")
        else:
            out["score"] = score
    elif task_type == "fix":
        _unknown_keys(errors, prefix, answer, ("code",))
        code = answer.get("code")
        if not isinstance(code, str) or not code.strip():
            errors.add(f"{prefix}.code", "is required: the edited code, a non-blank string")
        elif len(code) > MAX_TEXT:
            errors.add(f"{prefix}.code", f"at most {MAX_TEXT} characters")
        elif _unstorable(code):
            errors.add(f"{prefix}.code", NUL_MESSAGE)
        else:
            out["code"] = code  # kept as written: whitespace is code
    else:
        _unknown_keys(errors, prefix, answer, ("text",))
        text = answer.get("text")
        lo, hi = schema.get("min_length", 1), schema.get("max_length", 5000)
        if not isinstance(text, str):
            errors.add(f"{prefix}.text", "is required: a string")
        else:
            text = text.strip()
            if _unstorable(text):
                errors.add(f"{prefix}.text", NUL_MESSAGE)
            elif not lo <= len(text) <= hi:
                errors.add(f"{prefix}.text", f"must be {lo} to {hi} characters (got {len(text)})")
            else:
                out["text"] = text
    errors.raise_if_any()
    return out


def answers_equal(task_type: str, a: dict, b: dict) -> bool:
    """Do two (normalised) answers say the same thing? Used for gold checks and agreement.

    pairwise compares the choice only (strength and reason are nuance, not the label); ranking the full
    order; flags the set (spans are where, not what: quality measures their agreement line by line); rating the score; text the whitespace- and case-insensitive text."""
    _check_type(task_type)
    if not isinstance(a, dict) or not isinstance(b, dict):
        return False
    if task_type == "pairwise":
        return a.get("choice") is not None and a.get("choice") == b.get("choice")
    if task_type == "ranking":
        return isinstance(a.get("order"), list) and list(a["order"]) == list(b.get("order") or [None])
    if task_type == "flags":
        fa, fb = a.get("flags"), b.get("flags")
        return isinstance(fa, list) and isinstance(fb, list) and set(fa) == set(fb)
    if task_type == "rating":
        return _is_int(a.get("score")) and a.get("score") == b.get("score")
    if task_type == "fix":
        return isinstance(a.get("code"), str) and a.get("code") == b.get("code")
    ta, tb = a.get("text"), b.get("text")
    if not isinstance(ta, str) or not isinstance(tb, str):
        return False
    return " ".join(ta.split()).casefold() == " ".join(tb.split()).casefold()
