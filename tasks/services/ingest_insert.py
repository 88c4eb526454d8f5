"""How validated upload rows reach the tasks table, idempotently by (project, external_id).

- PostgreSQL: rows are streamed with COPY into a temporary table while the upload is read, then one
  `INSERT ... SELECT ... ORDER BY line ON CONFLICT DO NOTHING` moves them (ids follow upload order).
  Python holds no rows; COPY is several times cheaper per row than bound INSERT parameters.
- Elsewhere (SQLite): bounded batches of `INSERT ... VALUES ... ON CONFLICT DO NOTHING RETURNING id`.

Columns come from the Task model: a field added later with a default is filled with that default.
Both run inside the caller's transaction; nothing is visible until it commits.
"""

from __future__ import annotations

import json

import orjson
from django.db import connection
from django.utils import timezone

from marketplace.errors import ValidationFailed
from tasks.models import Project, Task

# Set per row; every other concrete field gets its model default.
PER_ROW = ("external_id", "data", "gold", "is_gold", "overlap", "priority")
TEMP_TABLE = "tasks_ingest_rows"
Row = tuple[str, dict, "dict | None", int]


def _static_fields(project: Project) -> tuple[list, dict]:
    fields = [f for f in Task._meta.concrete_fields if not f.primary_key and f.name not in PER_ROW]
    values = {}
    now = timezone.now()
    for f in fields:
        if f.name == "project":
            values[f.name] = project.pk
        elif f.name == "created_at":
            values[f.name] = f.get_db_prep_save(now, connection)
        else:
            values[f.name] = f.get_db_prep_save(f.get_default(), connection)
    return fields, values


class ValuesInserter:
    """Portable path (SQLite): batched multi-row INSERT with RETURNING to count what was new."""

    def __init__(self, project: Project, batch_size: int):
        self.project = project
        qn = connection.ops.quote_name
        static_fields, self.static = _static_fields(project)
        per_row = [Task._meta.get_field(name) for name in PER_ROW]
        self.fields = per_row + static_fields
        # SQLite caps bound variables per statement.
        self.batch_size = min(batch_size, 32000 // len(self.fields)) if connection.vendor == "sqlite" else batch_size
        columns = ", ".join(qn(f.column) for f in self.fields)
        self.row_sql = "(" + ", ".join(["%s"] * len(self.fields)) + ")"
        self.static_values = [self.static[f.name] for f in static_fields]
        # Identifiers come from the model (quoted); values are bound parameters.
        self.prefix = f"INSERT INTO {qn(Task._meta.db_table)} ({columns}) VALUES "  # noqa: S608
        self.suffix = " ON CONFLICT (project_id, external_id) DO NOTHING RETURNING id"
        self.batch: list[Row] = []
        self.created = 0

    def add(self, row: Row) -> None:
        """Raises ValidationFailed for text PostgreSQL could not store either, so both paths agree."""
        external_id, data, gold, priority = row
        self.batch.append((external_id, _dumps(data, "data"), _dumps(gold, "gold") if gold is not None else None,
                           priority))
        if len(self.batch) >= self.batch_size:
            self._flush()

    def _flush(self) -> None:
        if not self.batch:
            return
        overlap = self.project.overlap
        params: list = []
        # data and gold are JSON text already; SQLite stores JSON as text.
        for external_id, data, gold, priority in self.batch:
            params.extend((external_id, data, gold, gold is not None,
                           Task.GOLD_OVERLAP if gold is not None else overlap, priority))
            params.extend(self.static_values)
        sql = self.prefix + ", ".join([self.row_sql] * len(self.batch)) + self.suffix
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            self.created += len(cursor.fetchall())
        self.batch = []

    def finish(self) -> int:
        self._flush()
        return self.created

    def abort(self) -> None:
        self.batch = []


class CopyInserter:
    """PostgreSQL path: COPY into a temporary table during the read, one INSERT ... SELECT at the end."""

    def __init__(self, project: Project, batch_size: int):
        self.project = project
        qn = connection.ops.quote_name
        self.cursor = connection.cursor()
        raw = self.cursor.cursor  # the psycopg cursor under Django's wrapper
        # data and gold stay text until the INSERT: JSON is parsed once, only for rows that are new.
        raw.execute(f"CREATE TEMP TABLE IF NOT EXISTS {TEMP_TABLE} (line bigint, external_id text, data text, "
                    "gold text, is_gold boolean, overlap integer, priority integer) ON COMMIT DROP")
        raw.execute(f"TRUNCATE {TEMP_TABLE}")
        static_fields, static = _static_fields(project)
        per_row = [Task._meta.get_field(name) for name in PER_ROW]
        columns = ", ".join(qn(f.column) for f in per_row + static_fields)
        # Casts give the bound defaults (NULLs included) the column's type inside a SELECT list.
        per_row_sql = ["r.external_id", "r.data::jsonb", "r.gold::jsonb", "r.is_gold", "r.overlap", "r.priority"]
        selects = ", ".join(per_row_sql + [f"%s::{f.db_type(connection)}" for f in static_fields])
        table = qn(Task._meta.db_table)
        # No ORDER BY: a fresh temporary table is scanned in COPY order, so ids follow the upload, and a
        # sort of the whole upload would spill to disk. NOT EXISTS skips known ids before parsing their
        # JSON (a retried upload costs little); ON CONFLICT still settles races with concurrent uploads.
        self.insert_sql = (f"INSERT INTO {table} ({columns}) "  # noqa: S608 - quoted identifiers
                           f"SELECT {selects} FROM {TEMP_TABLE} r WHERE NOT EXISTS (SELECT 1 FROM {table} t "
                           "WHERE t.project_id = %s AND t.external_id = r.external_id) "
                           "ON CONFLICT (project_id, external_id) DO NOTHING")
        self.insert_params = [static[f.name] for f in static_fields] + [project.pk]
        self._copy_cm = raw.copy(f"COPY {TEMP_TABLE} (line, external_id, data, gold, is_gold, overlap, priority) "
                                 "FROM STDIN")
        self.copy = self._copy_cm.__enter__()
        self.line = 0
        self.dumps = _dumps

    def add(self, row: Row) -> None:
        """Raises ValidationFailed for text PostgreSQL cannot store (NUL, lone surrogates); nothing is
        written for that row."""
        external_id, data, gold, priority = row
        dumps = self.dumps
        data_text = dumps(data, "data")
        gold_text = dumps(gold, "gold") if gold is not None else None
        self.line += 1
        self.copy.write_row((self.line, external_id, data_text, gold_text, gold is not None,
                             self.project.overlap if gold is None else Task.GOLD_OVERLAP, priority))

    def finish(self) -> int:
        self._copy_cm.__exit__(None, None, None)
        try:
            self.cursor.cursor.execute(self.insert_sql, self.insert_params)
            created = self.cursor.cursor.rowcount
            self.cursor.cursor.execute(f"TRUNCATE {TEMP_TABLE}")
            return created
        finally:
            self.cursor.close()

    def abort(self) -> None:
        """End the COPY with an error: the caller's transaction is rolled back anyway."""
        try:
            self._copy_cm.__exit__(RuntimeError, RuntimeError("upload rejected"), None)
        except Exception:  # noqa: BLE001, S110 - psycopg reports the cancelled COPY; the rollback follows
            pass
        finally:
            self.cursor.close()


def _dumps(value, path: str) -> str:
    """JSON text for a jsonb column, or ValidationFailed naming `path` for what jsonb refuses."""
    try:
        text = orjson.dumps(value).decode()
    except TypeError:  # an integer beyond 64 bits (jsonb takes it) or a lone surrogate (it does not)
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationFailed(f"{path}: invalid text", fields={path: ["contains an unpaired surrogate (invalid "
                                                                           "Unicode)"]}) from None
    if "\\u0000" in text and _has_nul(value):  # the cheap test first; a literal backslash-u0000 is fine
        raise ValidationFailed(f"{path}: NUL character", fields={path: ["must not contain NUL characters (\\u0000)"]})
    return text


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def inserter_for(project: Project, batch_size: int):
    if connection.vendor == "postgresql":
        return CopyInserter(project, batch_size)
    if connection.vendor != "sqlite":
        raise NotImplementedError(f"bulk ingest supports PostgreSQL and SQLite, not {connection.vendor}")
    return ValuesInserter(project, batch_size)
