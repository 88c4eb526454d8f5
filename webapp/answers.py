"""A task page's form fields turned into the answer the queue's submit expects (tasks.label_schemas shapes).

Only shaping here: the label schema's checks run in assignment_submit (validate_answer), exactly as for the
API, and its field errors ("answer.choice", ...) come back to the page. A value that is not what it should be
(a score that is not a number) is passed on as it came, so the schema's own message names it."""

from django.http import QueryDict
from django.utils.translation import gettext as _


def _int_or_raw(value):
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def answer_from_post(task_type: str, post: QueryDict) -> dict:
    if task_type == "pairwise":
        answer = {"choice": post.get("choice")}
        strength = _int_or_raw(post.get("strength"))
        if strength is not None:
            answer["strength"] = strength
        reason = post.get("reason")
        if reason is not None and reason.strip():
            answer["reason"] = reason
        return answer
    if task_type == "ranking":
        return {"order": [_int_or_raw(v) for v in post.getlist("order")]}
    if task_type == "flags":
        answer = {"flags": post.getlist("flags")}
        spans = posted_spans(post)
        if spans:
            answer["spans"] = spans
        return answer
    if task_type == "rating":
        return {"score": _int_or_raw(post.get("score"))}
    if task_type == "fix":
        return {"code": post.get("code", "")}
    return {"text": post.get("text", "")}


def posted_spans(post) -> list[dict]:
    """The flags page's spans (spans.js writes one row of hidden inputs per span: span_start, span_end,
    span_category, span_comment) as the answer's spans. Rows of unequal length (a hand-made POST) are padded
    with None, so the schema's message names the missing field instead of a row being dropped."""
    if not hasattr(post, "getlist"):
        return []
    columns = [post.getlist(name) for name in ("span_start", "span_end", "span_category", "span_comment")]
    spans = []
    for i in range(max(len(c) for c in columns)):
        start, end, category, comment = (c[i] if i < len(c) else None for c in columns)
        span = {"start_line": _int_or_raw(start), "end_line": _int_or_raw(end), "category": category}
        if comment:
            span["comment"] = comment
        spans.append(span)
    return spans


def errors_by_field(fields: dict) -> dict[str, str]:
    """{"answer.choice": ["must be ..."]} -> {"choice": "must be ..."} (also "answer.flags.0" -> "flags")."""
    out: dict[str, list[str]] = {}
    for path, messages in (fields or {}).items():
        parts = path.split(".")
        name = parts[1] if len(parts) > 1 and parts[0] == "answer" else parts[0]
        if name == "spans" and len(parts) > 2 and parts[2].isdigit():  # "answer.spans.2.end_line": say which
            where = _("Span %(n)s, %(field)s:") % {"n": int(parts[2]) + 1, "field": (parts[3:] or ["span"])[0]}
            messages = [f"{where} {m}" for m in messages]
        out.setdefault(name, []).extend(messages)
    return {name: " ".join(messages) for name, messages in out.items()}
