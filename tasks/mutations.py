"""Mutation operators: the mistakes coders make, planted in correct Python by AST transforms.

Pure code (no Django, no I/O). Each operator finds its sites with Python's `ast` module and rewrites only
the source text of the site (by the node's position), so a mutant differs from the original by a token
or a line, keeps its comments and layout, and a reader cannot tell the mutant by its formatting.
Whether a mutant is really wrong is for the sandbox to say (tasks.services.code_problems runs each one
against the problem's tests and keeps only those that fail).

| operator          | what it plants                                                                  |
|-------------------|---------------------------------------------------------------------------------|
| off_by_one        | `<` <-> `<=`, `>` <-> `>=`; a range() bound or an integer slice bound +/- 1      |
| infinite_loop     | the forgotten increment: a while loop's update dropped, a `for i in range(a, b)` |
|                   | rewritten as `i = a; while i < b:` without the `i += 1` (the sandbox's CPU and   |
|                   | wall limits end it)                                                             |
| wrong_variable    | one read of a local variable replaced by another local of the same function     |
| flipped_condition | an if/while/conditional/filter test (or a returned comparison) negated          |
| missing_return    | `return expr` becomes the bare statement `expr`: the function returns None      |
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

OPERATORS = ("off_by_one", "infinite_loop", "wrong_variable", "flipped_condition", "missing_return")


@dataclass(frozen=True)
class Mutant:
    operator: str
    source: str
    line: int  # 1-based line of the site in the mutated program
    description: str


class _Source:
    """The program's text with byte offsets per line: ast positions are UTF-8 byte columns."""

    def __init__(self, source: str):
        self.text = source
        self.data = source.encode("utf-8")
        self.starts = [0]
        for i, byte in enumerate(self.data):
            if byte == 0x0A:
                self.starts.append(i + 1)

    def offset(self, line: int, col: int) -> int:
        return self.starts[line - 1] + col

    def span(self, node) -> tuple[int, int]:
        return self.offset(node.lineno, node.col_offset), self.offset(node.end_lineno, node.end_col_offset)

    def segment(self, start: int, end: int) -> str:
        return self.data[start:end].decode("utf-8")

    def of(self, node) -> str:
        return self.segment(*self.span(node))

    def replace(self, edits) -> str:
        """Apply (start, end, text) edits that do not overlap."""
        data = self.data
        for start, end, text in sorted(edits, reverse=True):
            data = data[:start] + text.encode("utf-8") + data[end:]
        return data.decode("utf-8")

    def line_text(self, line: int) -> str:
        end = self.starts[line] - 1 if line < len(self.starts) else len(self.data)
        return self.segment(self.starts[line - 1], end)


# Expressions that bind tighter than a binary operator or `not`: no parentheses needed around them.
_ATOMS = (ast.Name, ast.Constant, ast.Call, ast.Attribute, ast.Subscript, ast.List, ast.Tuple, ast.Dict, ast.Set)
_STRICTNESS = {ast.Lt: "<=", ast.LtE: "<", ast.Gt: ">=", ast.GtE: ">"}
_NEGATION = {ast.Eq: "!=", ast.NotEq: "==", ast.Lt: ">=", ast.GtE: "<", ast.Gt: "<=", ast.LtE: ">",
             ast.In: "not in", ast.NotIn: "in", ast.Is: "is not", ast.IsNot: "is"}
_OP_TEXT = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
            ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not"}


def _op_pattern(op) -> re.Pattern:
    text = _OP_TEXT[type(op)]
    if text[0].isalpha():
        return re.compile(r"\b" + r"\s+".join(text.split()) + r"\b")
    return re.compile(r"(?<![<>=!])" + re.escape(text) + r"(?![<>=])")


def _compare_op_swap(src: _Source, node: ast.Compare, new_op: str) -> tuple[int, int, str] | None:
    """Replace the operator token of a one-operator comparison, leaving the operands' text alone."""
    if len(node.ops) != 1:
        return None
    start = src.offset(node.left.end_lineno, node.left.end_col_offset)
    end = src.offset(node.comparators[0].lineno, node.comparators[0].col_offset)
    middle = src.segment(start, end)
    matches = list(_op_pattern(node.ops[0]).finditer(middle))
    if len(matches) != 1:  # a comment between the operands names the operator too: leave it
        return None
    m = matches[0]
    return start, end, middle[:m.start()] + new_op + middle[m.end():]


def _shift(src: _Source, node: ast.expr, delta: int) -> str:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return str(node.value + delta)
    text = src.of(node)
    if not isinstance(node, _ATOMS):
        text = f"({text})"
    return f"{text} {'+' if delta > 0 else '-'} {abs(delta)}"


def _sites_off_by_one(tree, src):
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _STRICTNESS:
            new = _STRICTNESS[type(node.ops[0])]
            edit = _compare_op_swap(src, node, new)
            if edit:
                yield node, edit, f"{_OP_TEXT[type(node.ops[0])]} became {new}"
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range"
              and 1 <= len(node.args) <= 3 and not node.keywords):
            stop = node.args[0] if len(node.args) == 1 else node.args[1]
            for delta in (-1, 1):
                yield stop, (*src.span(stop), _shift(src, stop, delta)), f"range() stop {src.of(stop)} shifted by {delta:+d}"
            if len(node.args) >= 2:
                start = node.args[0]
                yield start, (*src.span(start), _shift(src, start, 1)), f"range() start {src.of(start)} shifted by +1"
        elif isinstance(node, ast.Slice):
            for bound in (node.lower, node.upper):
                if isinstance(bound, ast.Constant) and type(bound.value) is int:
                    for delta in (-1, 1):
                        yield bound, (*src.span(bound), _shift(src, bound, delta)), f"slice bound {bound.value} shifted by {delta:+d}"


def _loop_names(test) -> set[str]:
    return {n.id for n in ast.walk(test) if isinstance(n, ast.Name)}


def _index_name(tree) -> str:
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return next(name for name in ("i", "j", "k", "idx", "index", "_i") if name not in used)


def _for_as_while(tree, src: _Source, node: ast.For):
    """A for loop rewritten as the while loop a coder writes by hand, without its increment: the edits,
    or None when the loop's layout does not allow a clean rewrite."""
    if not isinstance(node.target, ast.Name) or node.orelse or node.body[0].lineno <= node.lineno \
            or node.iter.end_lineno != node.lineno:
        return None
    line = src.line_text(node.lineno)
    indent = line[:len(line) - len(line.lstrip())]
    if not line.rstrip().endswith(":") or len(indent.encode()) != node.col_offset:
        return None  # a comment after the colon, or another statement before the loop on its line
    header = (src.starts[node.lineno - 1], src.starts[node.lineno - 1] + len(line.rstrip().encode()))
    var, it = node.target.id, node.iter
    if (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range"
            and 1 <= len(it.args) <= 2 and not it.keywords):
        start, stop = ("0", it.args[0]) if len(it.args) == 1 else (src.of(it.args[0]), it.args[1])
        stop_text = src.of(stop) if isinstance(stop, _ATOMS) else f"({src.of(stop)})"
        return [(*header, f"{indent}{var} = {start}\n{indent}while {var} < {stop_text}:")], \
            f"for {var} in range() became a while loop without {var} += 1"
    if isinstance(it, ast.Name):
        first = node.body[0]
        body_line = src.line_text(first.lineno)
        body_indent = body_line[:len(body_line) - len(body_line.lstrip())]
        if len(body_indent.encode()) != first.col_offset:
            return None
        i = _index_name(tree)
        body_start = src.starts[first.lineno - 1]
        return [(*header, f"{indent}{i} = 0\n{indent}while {i} < len({it.id}):"),
                (body_start, body_start, f"{body_indent}{var} = {it.id}[{i}]\n")], \
            f"for {var} in {it.id} became a while loop over an index without {i} += 1"
    return None


def _sites_infinite_loop(tree, src):
    for node in ast.walk(tree):
        if isinstance(node, ast.While):
            names = _loop_names(node.test)
            for stmt in node.body:
                targets = (stmt.targets if isinstance(stmt, ast.Assign)
                           else [stmt.target] if isinstance(stmt, ast.AugAssign) else [])
                if any(isinstance(t, ast.Name) and t.id in names for t in targets):
                    yield stmt, (*src.span(stmt), "pass"), f"the loop's update {src.of(stmt)!r} dropped"
        elif isinstance(node, ast.For):
            rewrite = _for_as_while(tree, src, node)
            if rewrite:
                yield node, *rewrite


def _function_locals(fn) -> list[str]:
    names = [a.arg for a in (*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs)]
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.append(node.id)
    return list(dict.fromkeys(names))


def _sites_wrong_variable(tree, src):
    calls = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        local = _function_locals(fn)
        for node in ast.walk(fn):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in local \
                    and id(node) not in calls:
                for other in local:
                    if other != node.id:
                        yield node, (*src.span(node), other), f"{node.id} replaced by {other}"


def _negated(src: _Source, test) -> tuple[int, int, str] | None:
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        return _compare_op_swap(src, test, _NEGATION[type(test.ops[0])])
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        start, _ = src.span(test)
        return start, src.offset(test.operand.lineno, test.operand.col_offset), ""
    text = src.of(test)
    return (*src.span(test), f"not {text}" if isinstance(test, _ATOMS) else f"not ({text})")


def _sites_flipped_condition(tree, src):
    for node in ast.walk(tree):
        tests = []
        if isinstance(node, (ast.If, ast.While, ast.IfExp)):
            tests = [node.test]
        elif isinstance(node, ast.comprehension):
            tests = node.ifs
        elif isinstance(node, ast.Return) and isinstance(node.value, ast.Compare):
            tests = [node.value]
        for test in tests:
            edit = _negated(src, test)
            if edit:
                yield test, edit, f"condition {src.of(test)!r} negated"


def _sites_missing_return(tree, src):
    for node in ast.walk(tree):
        if isinstance(node, ast.Return) and node.value is not None and node.value.lineno == node.lineno:
            start, _ = src.span(node)
            keyword_text = re.match(r"return\s*", src.of(node)).group()  # up to the value or its "("
            yield node, (start, start + len(keyword_text), ""), f"return dropped from {src.of(node)!r}"


_SITES: dict[str, Callable] = {
    "off_by_one": _sites_off_by_one,
    "infinite_loop": _sites_infinite_loop,
    "wrong_variable": _sites_wrong_variable,
    "flipped_condition": _sites_flipped_condition,
    "missing_return": _sites_missing_return,
}


def _dump(tree) -> str:
    return ast.dump(tree, include_attributes=False)


def mutants(source: str, *, operator: str, first_line: int = 1) -> Iterator[Mutant]:
    """Every single-site mutant of `source` for one operator, in source order of the sites found by a walk
    of the tree, restricted to sites on or after `first_line` (the solution, not the problem's prompt).
    Each mutant parses and differs from `source` as a tree (not only in layout). Raises SyntaxError when
    `source` itself does not parse, KeyError for an unknown operator."""
    find = _SITES[operator]
    tree = ast.parse(source)
    original = _dump(tree)
    src = _Source(source)
    seen = set()
    for node, edits, description in find(tree, src):
        if node.lineno < first_line:
            continue
        mutated = src.replace(edits if isinstance(edits, list) else [edits])
        if mutated in seen:
            continue
        seen.add(mutated)
        try:
            mutated_tree = ast.parse(mutated)
        except SyntaxError:
            continue
        if _dump(mutated_tree) == original:
            continue
        yield Mutant(operator=operator, source=mutated, line=node.lineno,
                     description=f"line {node.lineno}: {description}")
