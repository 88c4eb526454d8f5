"""What a task page shows, per task type, built from the worker's own assignment only.

Reads: the task's data, the project (type, label schema, instructions, data-use statement, pay) and the lease.
Never Task.is_gold, Task.gold, n_active/overlap, passed_over_task or anyone else's answer: a gold task and a
real task with the same data render to the same page (tests/webapp/test_work_pages.py holds it).
"""

import math

from django.utils import formats, timezone
from django.utils.translation import gettext as _

# NO_PROBLEM_FLAG: refused beside another flag; the page unticks one for the other
from tasks.label_schemas import MAX_SPAN_COMMENT, NO_PROBLEM_FLAG, code_line_count
from tasks.models import Assignment
from webapp.answers import posted_spans
from webapp.highlight import code_html, diff_html

# Keys 1-9 pick the first nine choices of a rating scale or a flag list; pairwise uses 1/2/3 for a/b/tie,
# and the row of letters under them (q w e ...) for how sure the worker is (up to MAX_STRENGTH_SCALE, 10).
_DIGITS = [str(i) for i in range(1, 10)]
_STRENGTH_KEYS = "qwertyuiop"


def _strength_label(i: int, n: int) -> str:
    if i == 0:
        return _("not sure")
    if i == n - 1:
        return _("very sure")
    return _("fairly sure") if n == 3 else ""


def closed_message(assignment: Assignment, now) -> str | None:
    status = assignment.status
    if status == Assignment.Status.LIVE and assignment.expires_at > now:
        return None
    if status == Assignment.Status.SUBMITTED:
        return _("You already submitted this task (in this tab or another one). It counted once.")
    if status == Assignment.Status.RELEASED:
        return _("This task went back to the queue (you skipped or returned it, or it was taken back). Nothing was saved.")
    if status == Assignment.Status.REQUEUED:
        return _("Quality review set this judgment aside; the task went back to the queue.")
    at = formats.date_format(timezone.localtime(assignment.expires_at), "TIME_FORMAT")
    return _("Your time on this task ran out at %(time)s. The task went back to the queue and nothing was saved.") % {
        "time": at}


def _pairwise(data: dict, schema: dict, posted) -> dict:
    language = data.get("language")
    allow_tie = schema.get("allow_tie", True)
    scale = min(int(schema.get("strength_scale", 3)), len(_STRENGTH_KEYS))
    choices = [("a", _("A is better"), "1"), ("b", _("B is better"), "2")]
    if allow_tie:
        choices.append(("tie", _("About the same"), "3"))
    return {
        "prompt": data.get("prompt", ""),
        "a_html": code_html(data.get("response_a", ""), language, numbered=True),
        "b_html": code_html(data.get("response_b", ""), language, numbered=True),
        "diff_html": diff_html(data.get("response_a", ""), data.get("response_b", "")),
        "choices": [{"value": v, "label": label, "key": key, "checked": posted.get("choice") == v}
                    for v, label, key in choices],
        "strengths": [{"value": str(i + 1), "label": _strength_label(i, scale), "key": _STRENGTH_KEYS[i],
                       "checked": posted.get("strength") == str(i + 1)} for i in range(scale)],
        "strength_keys": " ".join(_STRENGTH_KEYS[:scale].upper()),
        "require_reason": bool(schema.get("require_reason")),
        "reason": posted.get("reason", ""),
    }


def _ranking(data: dict, posted) -> dict:
    responses = data.get("responses") or []
    order = list(range(len(responses)))
    wanted = posted.getlist("order") if hasattr(posted, "getlist") else []
    if sorted(wanted) == sorted(str(i) for i in order):  # keep the worker's order after an error
        order = [int(i) for i in wanted]
    language = data.get("language")
    return {"prompt": data.get("prompt", ""),
            # Each response keeps its letter wherever it moves (its screen-reader name); the position is the
            # list's order, numbered on the page (work.js renumbers it after each move).
            "items": [{"index": i, "letter": _letter(i), "html": code_html(responses[i], language)} for i in order]}


def _letter(i: int) -> str:
    return chr(ord("A") + i) if i < 26 else str(i + 1)


def _flags(data: dict, schema: dict, posted) -> dict:
    chosen = set(posted.getlist("flags")) if hasattr(posted, "getlist") else set()
    taxonomy = schema.get("taxonomy") or []
    flags = [{"value": slug, "label": slug.replace("_", " "), "key": _DIGITS[i] if i < 9 else "",
              "checked": slug in chosen} for i, slug in enumerate(taxonomy)]
    code = data.get("code", "")
    return {
        "has_none": NO_PROBLEM_FLAG in taxonomy, "none": NO_PROBLEM_FLAG,
        # Each line its own element (spans.js selects lines); the server checks every span (label_schemas).
        "code_html": code_html(code, data.get("language"), line_ids=True),
        "n_lines": code_line_count(code),
        "context": data.get("context") or "",
        "flags": flags,
        "categories": [f for f in flags if f["value"] != NO_PROBLEM_FLAG],
        "spans": posted_spans(posted),  # kept after an error, as the ticked flags are
        "max_comment": MAX_SPAN_COMMENT,
    }


def _rating(data: dict, schema: dict, posted) -> dict:
    lo, hi = schema.get("min", 1), schema.get("max", 5)
    labels = schema.get("labels") or {}
    scale = [{"value": str(score), "label": labels.get(str(score), ""), "key": _DIGITS[i] if i < 9 else "",
              "checked": posted.get("score") == str(score)} for i, score in enumerate(range(lo, hi + 1))]
    language = data.get("language")
    return {"content_html": code_html(data.get("content", ""), language) if language else None,
            "content": data.get("content", ""), "scale": scale}


def _text(data: dict, schema: dict, posted) -> dict:
    return {"code_html": code_html(data.get("code", ""), data.get("language"), numbered=True),
            "question": data.get("question") or "", "min_length": schema.get("min_length", 1),
            "max_length": schema.get("max_length", 5000), "text": posted.get("text", "")}


def _fix(data: dict, posted) -> dict:
    return {"code_html": code_html(data.get("code", ""), data.get("language"), numbered=True),
            "question": data.get("question") or "", "code": posted.get("code", data.get("code", ""))}


def task_context(assignment: Assignment, *, notice: str | None = None, errors: dict | None = None,
                 posted=None, error_message: str | None = None) -> dict:
    project, data = assignment.project, assignment.task.data or {}
    schema, posted = project.label_schema or {}, posted if posted is not None else {}
    now = timezone.now()
    closed_text = closed_message(assignment, now)
    kind = project.task_type
    body = {"pairwise": lambda: _pairwise(data, schema, posted), "ranking": lambda: _ranking(data, posted),
            "flags": lambda: _flags(data, schema, posted), "rating": lambda: _rating(data, schema, posted),
            "text": lambda: _text(data, schema, posted), "fix": lambda: _fix(data, posted)}[kind]()
    return {
        "assignment": assignment, "project": project, "task_type": kind, "body": body,
        "closed": closed_text is not None, "closed_message": closed_text,
        # Rounded up: the page's countdown never reaches zero while the server would still take the answer.
        "seconds_left": max(0, math.ceil((assignment.expires_at - now).total_seconds())),
        "notice": notice, "errors": errors or {}, "error_message": error_message,
    }
