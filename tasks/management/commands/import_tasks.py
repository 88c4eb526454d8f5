"""manage.py import_tasks PROJECT FILE: bulk ingest from a file, same rules as the upload endpoint."""

import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from marketplace.errors import ValidationFailed
from tasks.models import Project
from tasks.services.ingest import tasks_ingest
from tasks.services.ingest_parsing import iter_json_array, iter_jsonl


class _CountingReader:
    """Wraps a binary file and reports bytes read (for the progress bar)."""

    def __init__(self, raw, on_read):
        self.raw = raw
        self.on_read = on_read

    def read(self, n=-1):
        chunk = self.raw.read(n)
        self.on_read(len(chunk))
        return chunk


class Command(BaseCommand):
    help = ("Import tasks into a project from a JSONL file (.jsonl/.ndjson) or a JSON array (.json); '-' reads "
            "stdin. All or nothing; known external_ids count as duplicates.")

    def add_arguments(self, parser):
        parser.add_argument("project", type=int, help="Project id.")
        parser.add_argument("file", help="Path, or - for stdin.")
        parser.add_argument("--format", choices=["jsonl", "json"], help="Default: from the file extension.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (for scripts and logs).")

    def handle(self, *args, project, file, format=None, no_progress=False, **options):
        if not Project.objects.filter(pk=project).exists():
            raise CommandError(f"No project with id {project}.")
        fmt = format or ("json" if file.endswith(".json") else "jsonl")
        try:
            raw = sys.stdin.buffer if file == "-" else open(file, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc}") from exc
        total = os.fstat(raw.fileno()).st_size if file != "-" else None
        max_line = int(getattr(settings, "TASKS_INGEST_MAX_LINE_BYTES", 1 << 20))
        try:
            if no_progress:
                report = self._run(project, raw, fmt, max_line, lambda n: None)
            else:
                from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

                with Progress(TextColumn("[bold]import[/]"), BarColumn(), DownloadColumn(),
                              TextColumn("{task.fields[rows]} rows"), TimeRemainingColumn(),
                              console=None) as progress:
                    bar = progress.add_task("import", total=total, rows=0)
                    report = self._run(project, _CountingReader(raw, lambda n: progress.advance(bar, n)), fmt,
                                       max_line, lambda rows: progress.update(bar, rows=rows))
        except ValidationFailed as exc:
            lines = exc.extra.get("lines") or []
            detail = "\n".join(f"  line {e['line']}: " + "; ".join(f"{p}: {m[0]}" for p, m in e["errors"].items())
                               for e in lines)
            raise CommandError(f"{exc.message}\n{detail}\nNothing was stored.") from exc
        finally:
            if file != "-":
                raw.close()
        self.stdout.write(f"project {project}: created {report.created}, duplicates {report.duplicates}")

    def _run(self, project_id, stream, fmt, max_line, on_rows):
        reader = iter_json_array if fmt == "json" else iter_jsonl
        return tasks_ingest(project_id=project_id, items=reader(stream, max_line_bytes=max_line), progress=on_rows)
