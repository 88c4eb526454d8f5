"""Name what a database constraint refused, for the 409 a client gets when a constraint (not a service's
own check) caught a conflict: which model, which fields, which constraint.

The database says which constraint and which columns (PostgreSQL: the error's diagnostics; SQLite: the
message, "UNIQUE constraint failed: workers_quiz.skill_id"); the models say what those are called in the
API. Nothing from the row's values is echoed back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from django.apps import apps
from django.db import IntegrityError, models


@dataclass
class Refusal:
    code: str
    message: str
    fields: dict = field(default_factory=dict)
    constraint: str = ""


@cache
def _tables() -> dict[str, type[models.Model]]:
    return {m._meta.db_table: m for m in apps.get_models(include_auto_created=True)}


@cache
def _named_constraints() -> dict[str, tuple[type[models.Model], models.BaseConstraint]]:
    found = {}
    for model in apps.get_models(include_auto_created=True):
        for constraint in model._meta.constraints:
            found[constraint.name] = (model, constraint)
    return found


def _field_names(model, columns: list[str]) -> list[str]:
    by_column = {f.column: f.name for f in model._meta.concrete_fields}
    return [by_column.get(c, c) for c in columns]


def _already_exists(model, names: list[str], constraint: str) -> Refusal:
    label = model._meta.verbose_name if model is not None else "row"
    what = " and ".join(names) or "these values"
    return Refusal(
        code="already_exists",
        message=f"A {label} with this {what} already exists; nothing was changed.",
        fields={name: ["already exists"] for name in names},
        constraint=constraint,
    )


def _check_failed(name: str) -> Refusal:
    model, constraint = _named_constraints().get(name, (None, None))
    label = model._meta.verbose_name if model is not None else "row"
    fields = {}
    if constraint is not None and getattr(constraint, "condition", None) is not None:
        # The fields the rule is about, from the Q object's lookups ("n_active__lte" -> "n_active").
        def walk(q):
            for child in q.children:
                if isinstance(child, models.Q):
                    yield from walk(child)
                else:
                    yield str(child[0]).split("__", 1)[0]
        fields = {name_: [f"breaks the rule {name}"] for name_ in dict.fromkeys(walk(constraint.condition))}
    return Refusal(code="constraint_violated",
                   message=f"The change would break the {label} rule {name}; nothing was changed.",
                   fields=fields, constraint=name)


def describe(exc: IntegrityError) -> Refusal:
    cause = exc.__cause__
    diag = getattr(cause, "diag", None)
    if diag is not None:  # PostgreSQL (psycopg)
        name = diag.constraint_name or ""
        sqlstate = getattr(cause, "sqlstate", "") or ""
        model = _tables().get(diag.table_name or "")
        if sqlstate == "23505":  # unique_violation
            named = _named_constraints().get(name)
            if named is not None and getattr(named[1], "fields", None):
                return _already_exists(named[0], list(named[1].fields), name)
            columns = re.match(r"Key \((.+?)\)=", diag.message_detail or "")
            names = _field_names(model, [c.strip() for c in columns.group(1).split(",")]) if columns and model else []
            return _already_exists(model, names, name)
        if sqlstate == "23514":  # check_violation
            return _check_failed(name)
        if sqlstate == "23503":  # foreign_key_violation
            detail = diag.message_detail or ""
            if "still referenced" in detail:
                return Refusal("in_use", "Other rows still refer to this one; nothing was changed.", constraint=name)
            columns = re.match(r"Key \((.+?)\)=", detail)
            names = _field_names(model, [columns.group(1)]) if columns and model else []
            return Refusal("related_not_found", "A referenced row does not exist; nothing was changed.",
                           {n: ["does not exist"] for n in names}, name)
        return Refusal("conflict", f"The database refused the change ({name or diag.message_primary}); "
                                   "nothing was changed.", constraint=name)
    text = str(exc)  # SQLite
    unique = re.match(r"UNIQUE constraint failed: (.+)", text)
    if unique:
        pairs = [item.strip().split(".", 1) for item in unique.group(1).split(",")]
        model = _tables().get(pairs[0][0]) if pairs and len(pairs[0]) == 2 else None
        columns = [p[1] for p in pairs if len(p) == 2]
        names = _field_names(model, columns) if model else columns
        for cname, (cmodel, constraint) in _named_constraints().items():
            if cmodel is model and list(getattr(constraint, "fields", ())) == names:
                return _already_exists(model, names, cname)
        return _already_exists(model, names, unique.group(1))
    check = re.match(r"CHECK constraint failed: (.+)", text)
    if check:
        return _check_failed(check.group(1).strip())
    if "FOREIGN KEY constraint failed" in text:
        return Refusal("related_not_found", "A referenced row does not exist or is still referenced; "
                                            "nothing was changed.")
    return Refusal("conflict", f"The database refused the change ({text.splitlines()[0][:200]}); "
                               "nothing was changed.")
