"""Bulk ingest of tasks into a project: validated per line, idempotent by external_id, all or nothing.

Rows are written as they are read (ingest_insert: COPY on PostgreSQL, bounded INSERT batches elsewhere),
with ON CONFLICT (project_id, external_id) DO NOTHING, inside one transaction: memory stays bounded by the
reader's chunk and a batch, a retried upload counts every known external_id as a duplicate, and one
invalid line rolls everything back. After the first invalid line nothing more is inserted; the rest is still read and validated (up to
TASKS_INGEST_MAX_ERRORS reported lines) so the client can fix every line in one go.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction

from marketplace.errors import ValidationFailed
from tasks.label_schemas import validate_answer, validate_task_data
from tasks.models import Project
from tasks.services.ingest_insert import inserter_for
from tasks.services.ingest_parsing import ParseError

ROW_KEYS = frozenset({"external_id", "data", "gold", "priority"})


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


@dataclass
class IngestReport:
    created: int = 0
    duplicates: int = 0
    rows: int = 0
    errors: list[dict] = field(default_factory=list)
    invalid: int = 0
    stopped_early: bool = False  # reading stopped at TASKS_INGEST_MAX_ERRORS: more lines may be invalid
    with_tests: int = 0  # valid rows whose data carries tests (data.tests): the sandbox runs them after commit


def row_check(task_type: str, schema: dict, obj) -> tuple[str, dict, dict | None, int]:
    """One upload row -> (external_id, data, normalised gold or None, priority), or ValidationFailed."""
    if not isinstance(obj, dict):
        raise ValidationFailed("row must be an object", fields={"row": ["must be an object {external_id, data, gold}"]})
    fields: dict[str, list[str]] = {}
    unknown = obj.keys() - ROW_KEYS
    if unknown:
        fields["row"] = [f"unknown field(s): {', '.join(sorted(map(str, unknown)))}"]
    external_id = obj.get("external_id")
    if isinstance(external_id, int) and not isinstance(external_id, bool):
        external_id = str(external_id)
    if not isinstance(external_id, str) or not external_id.strip():
        fields["external_id"] = ["is required: a non-empty string"]
    elif len(external_id) > 255:
        fields["external_id"] = ["at most 255 characters"]
    elif "\x00" in external_id:
        fields["external_id"] = ["must not contain NUL characters"]
    priority = obj.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool) or not -1000 <= priority <= 1000:
        fields["priority"] = ["must be an integer from -1000 to 1000"]
    data = obj.get("data")
    try:
        validate_task_data(task_type, data)
    except ValidationFailed as exc:
        fields.update(exc.fields)
    gold = obj.get("gold")
    if gold is not None and "data" not in fields:
        try:
            gold = validate_answer(task_type, schema, gold, data=data, prefix="gold")
        except ValidationFailed as exc:
            fields.update(exc.fields)
    if fields:
        raise ValidationFailed("invalid row", fields=fields)
    return external_id, data, gold, priority


def tasks_ingest(*, project_id: int, items: Iterable[tuple[int, object]],
                 progress: Callable[[int], None] | None = None) -> IngestReport:
    """Validate and store an upload of tasks. Guarantees: all or nothing (any invalid line raises
    ValidationFailed with `lines` and stores nothing); idempotent by external_id (known ones, also
    repeated ones within the upload, are counted as duplicates); gold rows (with a `gold` answer) become
    gold tasks (is_gold, overlap=Task.GOLD_OVERLAP), others get the project's overlap. After commit the
    queue is told that work arrived (tasks.jobs.queue.notify_work_available, an outbox row), and an upload of
    TASKS_INGEST_ANALYZE_ROWS new tasks or more refreshes the planner's statistics of the task table
    (tasks.jobs.queue.analyze_tasks), both recorded in the upload's transaction (the outbox)."""
    batch_size = _setting("TASKS_INGEST_BATCH_SIZE", 1000)
    max_errors = _setting("TASKS_INGEST_MAX_ERRORS", 100)
    max_rows = _setting("TASKS_INGEST_MAX_ROWS", 1_000_000)
    report = IngestReport()
    with transaction.atomic():
        project = Project.objects.get(pk=project_id)
        inserter = inserter_for(project, batch_size)
        task_type, schema = project.task_type, project.label_schema
        try:
            _read(report, items, inserter, task_type, schema, max_rows, max_errors, progress)
        except BaseException:
            inserter.abort()  # end a COPY in flight, so the rollback can run on this connection
            raise
        if report.invalid:
            inserter.abort()
            transaction.set_rollback(True)
            _raise_invalid(report)
        report.created = inserter.finish()
        if report.rows == 0:
            transaction.set_rollback(True)
            raise ValidationFailed("The upload holds no tasks.", code="empty_upload", fields={"body": ["no tasks"]})
        report.duplicates = report.rows - report.created
        if report.created:
            from tasks.services.projects import project_reopen_if_completed

            project_reopen_if_completed(project_id=project.pk)
            _notify_work_available(project.pk)  # in this transaction (the outbox)
            if report.with_tests:
                from marketplace.outbox import outbox_enqueue

                # On the sandbox queue (CELERY_TASK_ROUTES): runs each completion against its task's tests.
                outbox_enqueue("tasks.jobs.execution.run_project_tests", project.pk)
            if report.created >= _setting("TASKS_INGEST_ANALYZE_ROWS", 10_000):
                from marketplace.outbox import outbox_enqueue

                # The planner's statistics follow a bulk upload at once (autovacuum's ANALYZE may come
                # minutes later): until then it takes the new project's tasks for a handful of rows.
                outbox_enqueue("tasks.jobs.queue.analyze_tasks")
    if progress is not None:
        progress(report.rows)
    return report


def _read(report: IngestReport, items, inserter, task_type: str, schema: dict, max_rows: int, max_errors: int,
          progress) -> None:
    """Validate every row; hand valid ones to the inserter until the first invalid one."""
    for number, obj in items:
        report.rows += 1
        if report.rows > max_rows:
            report.errors.append({"line": number, "errors": {"upload": [f"at most {max_rows} tasks per upload"]}})
            report.invalid += 1
            break
        if isinstance(obj, ParseError):
            report.invalid += 1
            report.errors.append({"line": number, "errors": {obj.path or "line": [obj.message]}})
        else:
            try:
                row = row_check(task_type, schema, obj)
            except ValidationFailed as exc:
                report.invalid += 1
                if len(report.errors) < max_errors:
                    entry = {"line": number, "errors": exc.fields}
                    if isinstance(obj, dict) and isinstance(obj.get("external_id"), (str, int)):
                        entry["external_id"] = obj["external_id"]
                    report.errors.append(entry)
            else:
                if not report.invalid:
                    report.with_tests += "tests" in row[1]
                    try:
                        inserter.add(row)
                    except ValidationFailed as exc:  # text the database cannot store
                        report.invalid += 1
                        report.errors.append({"line": number, "external_id": row[0], "errors": exc.fields})
        if report.invalid and len(report.errors) >= max_errors:
            report.stopped_early = True
            break
        if progress is not None and report.rows % 1000 == 0:
            progress(report.rows)


def _raise_invalid(report: IngestReport) -> None:
    lines = report.errors
    shown = [f"line {e['line']}: " + "; ".join(f"{path}: {msgs[0]}" for path, msgs in e["errors"].items())
             for e in lines]
    raise ValidationFailed(
        f"{report.invalid} invalid line(s); nothing was stored. First: {shown[0]}",
        code="invalid_lines", fields={"lines": shown},
        extra={"lines": lines, "invalid_lines": report.invalid, "truncated": report.stopped_early},
    )


def tasks_statistics_refresh() -> None:
    """ANALYZE the task table: the statistics the planner reads (its size, each project's share of it)
    then include the rows just uploaded. A sample of the table (PostgreSQL: 300 x its statistics target
    rows), so the cost does not follow the table's size. Safe to run twice."""
    from tasks.models import Task

    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Task._meta.db_table}")


def _notify_work_available(project_id: int) -> None:
    from marketplace.outbox import outbox_enqueue

    outbox_enqueue("tasks.jobs.queue.notify_work_available", project_id)


def rows_from_objects(objs: Iterable[object]) -> Iterable[tuple[int, object]]:
    """(1-based number, object) for callers holding Python objects (tests, demo data)."""
    return enumerate(objs, start=1)


def dumps_row(row: dict) -> str:
    return json.dumps(row, separators=(",", ":"))
