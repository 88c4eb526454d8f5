"""Label schemas, task data and answers per task type: valid ones normalise, invalid ones name the path."""

import pytest

from marketplace.errors import ValidationFailed
from tasks.label_schemas import answers_equal, validate_answer, validate_label_schema, validate_task_data


def fails(fn, *args, path: str, **kwargs):
    with pytest.raises(ValidationFailed) as info:
        fn(*args, **kwargs)
    assert path in info.value.fields, info.value.fields
    return info.value


# --- schemas -------------------------------------------------------------------------------------

def test_unknown_task_type():
    fails(validate_label_schema, "essay", {}, path="task_type")
    fails(validate_task_data, "essay", {}, path="task_type")


def test_pairwise_schema_defaults_and_limits():
    assert validate_label_schema("pairwise", None) == {"allow_tie": True, "strength_scale": 3, "require_reason": False}
    assert validate_label_schema("pairwise", {"allow_tie": False, "strength_scale": 5, "require_reason": True}) == {
        "allow_tie": False, "strength_scale": 5, "require_reason": True}
    fails(validate_label_schema, "pairwise", {"strength_scale": 1}, path="label_schema.strength_scale")
    fails(validate_label_schema, "pairwise", {"strength_scale": True}, path="label_schema.strength_scale")
    fails(validate_label_schema, "pairwise", {"allow_tie": "yes"}, path="label_schema.allow_tie")
    fails(validate_label_schema, "pairwise", {"allow_ties": True}, path="label_schema.allow_ties")
    fails(validate_label_schema, "pairwise", ["a"], path="label_schema")


def test_ranking_schema():
    assert validate_label_schema("ranking", {}) == {}
    fails(validate_label_schema, "ranking", {"k": 3}, path="label_schema.k")


def test_flags_schema():
    assert validate_label_schema("flags", {"taxonomy": ["off_by_one", "none"]}) == {"taxonomy": ["off_by_one", "none"]}
    fails(validate_label_schema, "flags", {}, path="label_schema.taxonomy")
    fails(validate_label_schema, "flags", {"taxonomy": []}, path="label_schema.taxonomy")
    fails(validate_label_schema, "flags", {"taxonomy": ["ok", "ok"]}, path="label_schema.taxonomy.1")
    fails(validate_label_schema, "flags", {"taxonomy": ["Bad Flag"]}, path="label_schema.taxonomy.0")


def test_rating_schema():
    assert validate_label_schema("rating", {"min": 1, "max": 5, "labels": {1: "poor", "5": "great"}}) == {
        "min": 1, "max": 5, "labels": {"1": "poor", "5": "great"}}
    fails(validate_label_schema, "rating", {"min": 1}, path="label_schema.max")
    fails(validate_label_schema, "rating", {"min": 5, "max": 1}, path="label_schema.max")
    fails(validate_label_schema, "rating", {"min": 1.5, "max": 5}, path="label_schema.min")
    fails(validate_label_schema, "rating", {"min": 1, "max": 5, "labels": {"9": "x"}}, path="label_schema.labels.9")


def test_text_schema():
    assert validate_label_schema("text", {}) == {"min_length": 1, "max_length": 5000}
    assert validate_label_schema("text", {"min_length": 20, "max_length": 400}) == {"min_length": 20, "max_length": 400}
    fails(validate_label_schema, "text", {"min_length": 50, "max_length": 10}, path="label_schema.max_length")
    fails(validate_label_schema, "text", {"min_length": -1}, path="label_schema.min_length")


# --- task data -----------------------------------------------------------------------------------

PAIR = {"prompt": "Reverse a list", "language": "python", "response_a": "xs[::-1]", "response_b": "xs.reverse()"}


def test_task_data_per_type():
    validate_task_data("pairwise", dict(PAIR, source="lab-7"))  # extra keys are the client's metadata
    validate_task_data("ranking", {"prompt": "p", "language": "javascript", "responses": ["a", "b", "c"]})
    validate_task_data("flags", {"code": "for i in range(n+1): a[i]", "language": "python"})
    validate_task_data("rating", {"content": "def f(): pass"})
    validate_task_data("text", {"code": "x = 1", "language": "python", "question": "What does it do?"})


def test_task_data_invalid_names_the_field():
    fails(validate_task_data, "pairwise", {k: v for k, v in PAIR.items() if k != "response_b"},
          path="data.response_b")
    fails(validate_task_data, "pairwise", dict(PAIR, language="Python 3"), path="data.language")
    fails(validate_task_data, "pairwise", dict(PAIR, prompt="   "), path="data.prompt")
    fails(validate_task_data, "pairwise", "not an object", path="data")
    fails(validate_task_data, "ranking", {"prompt": "p", "language": "go", "responses": ["only one"]},
          path="data.responses")
    fails(validate_task_data, "ranking", {"prompt": "p", "language": "go", "responses": ["a", 3]},
          path="data.responses.1")
    fails(validate_task_data, "flags", {"code": 12, "language": "python"}, path="data.code")
    fails(validate_task_data, "rating", {"language": "python"}, path="data.content")
    fails(validate_task_data, "text", {"code": "x", "language": "python", "question": 5}, path="data.question")


# --- answers -------------------------------------------------------------------------------------

def test_pairwise_answers():
    schema = validate_label_schema("pairwise", {})
    assert validate_answer("pairwise", schema, {"choice": "a", "strength": 3, "reason": " cleaner "}) == {
        "choice": "a", "strength": 3, "reason": "cleaner"}
    assert validate_answer("pairwise", schema, {"choice": "tie"}) == {"choice": "tie"}
    fails(validate_answer, "pairwise", schema, {"choice": "c"}, path="answer.choice")
    fails(validate_answer, "pairwise", schema, {"choice": "a", "strength": 4}, path="answer.strength")
    fails(validate_answer, "pairwise", schema, {"choice": "a", "strength": 0}, path="answer.strength")
    fails(validate_answer, "pairwise", schema, {"choice": "a", "colour": "red"}, path="answer.colour")
    fails(validate_answer, "pairwise", schema, "a", path="answer")
    strict = validate_label_schema("pairwise", {"allow_tie": False, "require_reason": True})
    fails(validate_answer, "pairwise", strict, {"choice": "tie", "reason": "same"}, path="answer.choice")
    fails(validate_answer, "pairwise", strict, {"choice": "a"}, path="answer.reason")
    fails(validate_answer, "pairwise", strict, {"choice": "a", "reason": "  "}, path="answer.reason")
    fails(validate_answer, "pairwise", schema, {"choice": "x"}, path="gold.choice", prefix="gold")


def test_ranking_answers():
    data = {"prompt": "p", "language": "python", "responses": ["a", "b", "c"]}
    assert validate_answer("ranking", {}, {"order": [2, 0, 1]}, data=data) == {"order": [2, 0, 1]}
    fails(validate_answer, "ranking", {}, {"order": [0, 1]}, path="answer.order", data=data)
    fails(validate_answer, "ranking", {}, {"order": [0, 0, 1]}, path="answer.order", data=data)
    fails(validate_answer, "ranking", {}, {"order": [0, 1, 3]}, path="answer.order", data=data)
    fails(validate_answer, "ranking", {}, {"order": ["0", "1"]}, path="answer.order")
    fails(validate_answer, "ranking", {}, {"order": []}, path="answer.order")


def test_flags_answers():
    schema = validate_label_schema("flags", {"taxonomy": ["off_by_one", "infinite_loop", "style"]})
    assert validate_answer("flags", schema, {"flags": ["style", "off_by_one"]}) == {"flags": ["off_by_one", "style"]}
    assert validate_answer("flags", schema, {"flags": []}) == {"flags": []}
    fails(validate_answer, "flags", schema, {"flags": ["typo"]}, path="answer.flags.0")
    fails(validate_answer, "flags", schema, {"flags": ["style", "style"]}, path="answer.flags.1")
    fails(validate_answer, "flags", schema, {"flags": "style"}, path="answer.flags")


def test_flags_none_stands_alone():
    """A taxonomy's "none" (no problem) with a problem beside it says two opposite things: refused, the
    field named (issue 30). Alone it is an answer like any other."""
    schema = validate_label_schema("flags", {"taxonomy": ["off_by_one", "style", "none"]})
    assert validate_answer("flags", schema, {"flags": ["none"]}) == {"flags": ["none"]}
    error = fails(validate_answer, "flags", schema, {"flags": ["none", "off_by_one"]}, path="answer.flags")
    assert "none" in " ".join(error.fields["answer.flags"])
    fails(validate_answer, "flags", schema, {"flags": ["style", "off_by_one", "none"]}, path="answer.flags")


def test_rating_answers():
    schema = validate_label_schema("rating", {"min": 1, "max": 5})
    assert validate_answer("rating", schema, {"score": 5}) == {"score": 5}
    fails(validate_answer, "rating", schema, {"score": 6}, path="answer.score")
    fails(validate_answer, "rating", schema, {"score": 2.5}, path="answer.score")
    fails(validate_answer, "rating", schema, {"score": True}, path="answer.score")


def test_text_answers():
    schema = validate_label_schema("text", {"min_length": 5, "max_length": 20})
    assert validate_answer("text", schema, {"text": "  it sums a list "}) == {"text": "it sums a list"}
    fails(validate_answer, "text", schema, {"text": "abc   "}, path="answer.text")
    fails(validate_answer, "text", schema, {"text": "x" * 21}, path="answer.text")
    fails(validate_answer, "text", schema, {}, path="answer.text")


def test_answers_equal():
    assert answers_equal("pairwise", {"choice": "a", "strength": 1}, {"choice": "a", "strength": 3})
    assert not answers_equal("pairwise", {"choice": "a"}, {"choice": "b"})
    assert not answers_equal("pairwise", {}, {})
    assert answers_equal("ranking", {"order": [1, 0]}, {"order": [1, 0]})
    assert not answers_equal("ranking", {"order": [1, 0]}, {"order": [0, 1]})
    assert answers_equal("flags", {"flags": ["a", "b"]}, {"flags": ["b", "a"]})
    assert not answers_equal("flags", {"flags": ["a"]}, {"flags": []})
    assert answers_equal("rating", {"score": 3}, {"score": 3})
    assert not answers_equal("rating", {"score": 3}, {"score": 4})
    assert answers_equal("text", {"text": "Sums  the List"}, {"text": "sums the list"})
    assert not answers_equal("text", {"text": "a"}, {"text": "b"})


def test_nul_characters_are_refused_where_postgresql_would_fail():
    fails(validate_task_data, "pairwise", dict(PAIR, response_a="x\x00"), path="data.response_a")
    fails(validate_task_data, "ranking", {"prompt": "p", "language": "go", "responses": ["a", "b\x00"]},
          path="data.responses.1")
    fails(validate_answer, "pairwise", {}, {"choice": "a", "reason": "\x00"}, path="answer.reason")
    fails(validate_answer, "text", {}, {"text": "ok\x00ok"}, path="answer.text")
    fails(validate_label_schema, "rating", {"min": 1, "max": 3, "labels": {"1": "bad\x00"}}, path="label_schema.labels.1")


FLAGS_CODE = {"code": "def f(xs):\n    i = len(xs)\n    return xs[i]\n", "language": "python"}  # 3 lines


def test_flags_spans_are_checked_against_the_code_and_the_taxonomy():
    """Issue 29: spans point at lines of the task's code; each fault names its path."""
    schema = validate_label_schema("flags", {"taxonomy": ["off_by_one", "style", "none"]})
    answer = {"flags": ["off_by_one"], "spans": [
        {"start_line": 3, "end_line": 3, "category": "style", "comment": "  xs[i] past the end  "},
        {"start_line": 2, "end_line": 3, "category": "off_by_one"}]}
    # Sorted by line, comments stripped; a span's category is a flag of the answer.
    assert validate_answer("flags", schema, answer, data=FLAGS_CODE) == {"flags": ["off_by_one", "style"], "spans": [
        {"start_line": 2, "end_line": 3, "category": "off_by_one"},
        {"start_line": 3, "end_line": 3, "category": "style", "comment": "xs[i] past the end"}]}
    # Old answers (slugs only) are unchanged; an empty list of spans is no spans.
    assert validate_answer("flags", schema, {"flags": ["style"]}, data=FLAGS_CODE) == {"flags": ["style"]}
    assert validate_answer("flags", schema, {"flags": [], "spans": []}, data=FLAGS_CODE) == {"flags": []}

    def span(**kw):
        return {"flags": [], "spans": [{"start_line": 1, "end_line": 1, "category": "style"},
                                       {"start_line": 1, "end_line": 2, "category": "style", **kw}]}

    fails(validate_answer, "flags", schema, span(end_line=4), data=FLAGS_CODE, path="answer.spans.1.end_line")
    fails(validate_answer, "flags", schema, span(start_line=0), data=FLAGS_CODE, path="answer.spans.1.start_line")
    fails(validate_answer, "flags", schema, span(start_line=3), data=FLAGS_CODE, path="answer.spans.1.end_line")
    fails(validate_answer, "flags", schema, span(end_line="2"), data=FLAGS_CODE, path="answer.spans.1.end_line")
    fails(validate_answer, "flags", schema, span(end_line=True), data=FLAGS_CODE, path="answer.spans.1.end_line")
    fails(validate_answer, "flags", schema, span(category="typo"), data=FLAGS_CODE, path="answer.spans.1.category")
    fails(validate_answer, "flags", schema, span(category="none"), data=FLAGS_CODE, path="answer.spans.1.category")
    fails(validate_answer, "flags", schema, span(comment=5), data=FLAGS_CODE, path="answer.spans.1.comment")
    fails(validate_answer, "flags", schema, span(comment="x" * 501), data=FLAGS_CODE, path="answer.spans.1.comment")
    fails(validate_answer, "flags", schema, span(comment="a\x00b"), data=FLAGS_CODE, path="answer.spans.1.comment")
    fails(validate_answer, "flags", schema, span(line=2), data=FLAGS_CODE, path="answer.spans.1.line")
    fails(validate_answer, "flags", schema, span(end_line=1), data=FLAGS_CODE, path="answer.spans.1")  # duplicate
    fails(validate_answer, "flags", schema, {"flags": [], "spans": "1-2"}, data=FLAGS_CODE, path="answer.spans")
    fails(validate_answer, "flags", schema, {"flags": [], "spans": ["1-2"]}, data=FLAGS_CODE, path="answer.spans.0")
    many = [{"start_line": 1, "end_line": 1, "category": "style", "comment": str(i)} for i in range(51)]
    fails(validate_answer, "flags", schema, {"flags": [], "spans": many}, data=FLAGS_CODE, path="answer.spans")
    # "none" says there is no problem: spans pointing at problems beside it are refused.
    fails(validate_answer, "flags", schema, {"flags": ["none"], "spans": [
        {"start_line": 1, "end_line": 1, "category": "style"}]}, data=FLAGS_CODE, path="answer.spans")


def test_code_line_count_matches_the_numbered_page():
    from tasks.label_schemas import code_line_count

    assert code_line_count("a\nb\n") == 2 and code_line_count("a\nb") == 2 and code_line_count("a\r\nb\r\n") == 2
    assert code_line_count("a\n\n") == 2 and code_line_count("") == 0 and code_line_count(None) == 0


def test_a_gold_answer_with_spans_is_checked_against_its_rows_code():
    schema = validate_label_schema("flags", {"taxonomy": ["off_by_one", "none"]})
    fails(validate_answer, "flags", schema, {"flags": [], "spans": [
        {"start_line": 2, "end_line": 9, "category": "off_by_one"}]}, data=FLAGS_CODE, prefix="gold",
        path="gold.spans.0.end_line")
