"""The workers' web app against its budgets (issue 21), measured against the API in the same run:

1. Server time: the task page (GET /work/tasks/{id}/, rendering with highlighted code included) is at most
   1.5x a claim through the API (POST /api/v1/assignments/claim/); also the keystroke path (an htmx submit
   that stores the judgment and renders the next task in place) against the API's submit + claim.
2. First load: each page's HTML plus the CSS, JavaScript, fonts and images it loads is at most 150 KB.

    .venv/bin/python -m bench.web_pages                    # 20,000 tasks per type, 41 repeats
    .venv/bin/python -m bench.web_pages --tasks 2000 --repeat 21

Data (PostgreSQL, a throwaway database on BENCH_DATABASE_URL's server, default
postgres://postgres@127.0.0.1:5432/postgres, dropped at the end): one project of each of the five task types
with --tasks tasks each (through tasks_ingest), a 3-question quiz, ready workers. Production settings
(DEBUG off: cached templates, the middleware stack as deployed); requests through Django's test client, so
the figures are server time without the network. Each repeat alternates the two sides; median and p90.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import secrets
import statistics
import sys
import time
import warnings
from pathlib import Path
from urllib.parse import urlparse

from bench.throwaway_db import recreate_db

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "bench_web_pages"
TIME_BUDGET = 1.5
BYTES_BUDGET = 150 * 1024


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def summary(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.9) - 1]


def seed(n_tasks: int):
    from tasks.services.ingest import rows_from_objects, tasks_ingest
    from tests.webapp.browser.world import TYPES, python_quiz, typed_projects

    start = time.perf_counter()
    projects = typed_projects(n_tasks=2, client_name="Bench web client")
    for name, project in projects.items():
        rows = ({"external_id": f"bulk-{i}", "data": {**TYPES[name].data, "n": i}} for i in range(n_tasks))
        tasks_ingest(project_id=project.pk, items=rows_from_objects(rows))
    python_quiz()
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    print(f"seeded {len(projects)} projects x {n_tasks} tasks in {time.perf_counter() - start:.0f}s", flush=True)
    return projects


class Worker:
    """One ready worker, signed in twice: a session cookie for the pages, a session token for the API."""

    def __init__(self, email: str):
        from django.test import Client
        from rest_framework.test import APIClient

        from tests.conftest import login
        from tests.workers.factories import ready_worker

        self.user = ready_worker(email)
        self.page = Client()
        self.page.force_login(self.user)
        self.api = APIClient()
        self.api.credentials(HTTP_X_SESSION_TOKEN=login(APIClient(), email))


def release_all(user) -> None:
    from tasks.models import Assignment
    from tasks.services.queue import assignment_release

    for pk in Assignment.objects.filter(worker=user, status="live").values_list("pk", flat=True):
        assignment_release(user=user, assignment_id=pk)


def server_time(projects, repeat: int) -> list[tuple[str, float, float, float, float]]:
    """(what, page median, page p90, API median, API p90) per task type and for the keystroke path."""
    from tasks.services.queue import assignment_claim
    from tests.webapp.browser.world import TYPES

    rows = []
    for name, project in projects.items():
        api_worker, page_worker = Worker(f"api-{name}@bench.example"), Worker(f"page-{name}@bench.example")
        api_times, page_times = [], []
        for i in range(repeat + 2):  # the first two warm up connections, templates, plans
            claimed = {}

            def api_claim(project=project, claimed=claimed, api_worker=api_worker):
                response = api_worker.api.post("/api/v1/assignments/claim/", {"project": project.pk}, format="json")
                assert response.status_code == 201, response.content
                claimed["id"] = response.json()["id"]

            own = assignment_claim(user=page_worker.user, project_id=project.pk)
            url = f"/work/tasks/{own.assignment_id}/"

            def page(url=url, page_worker=page_worker):
                response = page_worker.page.get(url)
                assert response.status_code == 200, response.content[:500]

            first, second = (api_claim, page) if i % 2 else (page, api_claim)
            t_first, t_second = timed(first), timed(second)
            t_api, t_page = (t_first, t_second) if i % 2 else (t_second, t_first)
            if i >= 2:
                api_times.append(t_api)
                page_times.append(t_page)
            release_all(api_worker.user)
            release_all(page_worker.user)
        rows.append((f"task page, {name}", *summary(page_times), *summary(api_times)))

    # The keystroke path: submit + the next task rendered in place (htmx) vs the API's submit + claim.
    project = projects["rating"]
    answer = TYPES["rating"].answer
    api_worker, page_worker = Worker("api-keys@bench.example"), Worker("page-keys@bench.example")
    api_times, page_times = [], []
    current = assignment_claim(user=page_worker.user, project_id=project.pk).assignment_id
    for i in range(repeat + 2):
        api_current = assignment_claim(user=api_worker.user, project_id=project.pk).assignment_id

        def api_path(api_current=api_current):
            response = api_worker.api.post(f"/api/v1/assignments/{api_current}/submit/", {"answer": answer},
                                           format="json")
            assert response.status_code == 200, response.content
            response = api_worker.api.post("/api/v1/assignments/claim/", {"project": project.pk}, format="json")
            assert response.status_code == 201, response.content

        result = {}

        def page_path(current=current, result=result):
            response = page_worker.page.post(f"/work/tasks/{current}/submit", {"score": str(answer["score"])},
                                             HTTP_HX_REQUEST="true")
            assert response.status_code == 200 and "HX-Push-Url" in response.headers, response.content[:500]
            result["next"] = int(re.search(r"/work/tasks/(\d+)/", response.headers["HX-Push-Url"]).group(1))

        t_api, t_page = timed(api_path), timed(page_path)
        current = result["next"]
        release_all(api_worker.user)
        if i >= 2:
            api_times.append(t_api)
            page_times.append(t_page)
    rows.append(("submit + next task (htmx) vs API submit + claim", *summary(page_times), *summary(api_times)))
    return rows


ASSET = re.compile(r"""<(?:link[^>]+rel=["']?(?:stylesheet|preload|icon)[^>]*href|script[^>]+src|img[^>]+src)=["']([^"']+)""")
CSS_URL = re.compile(r"""url\(\s*["']?([^"')]+)["']?\s*\)|@import\s+["']([^"']+)["']""")


def static_bytes(url: str, seen: set) -> int:
    """Bytes of a static file and of what it loads in turn (a stylesheet's fonts, images, imports)."""
    from django.conf import settings
    from django.contrib.staticfiles import finders

    if url in seen or url.startswith("data:") or not url.startswith(settings.STATIC_URL):
        return 0
    seen.add(url)
    path = finders.find(url[len(settings.STATIC_URL):].split("?")[0])
    assert path, f"{url} is not a static file"
    body = Path(path).read_bytes()
    total = len(body)
    if url.endswith(".css"):
        base = url.rsplit("/", 1)[0] + "/"
        for m in CSS_URL.finditer(body.decode("utf-8", "replace")):
            ref = m.group(1) or m.group(2)
            total += static_bytes(ref if ref.startswith("/") else base + ref, seen)
    return total


def first_load(client, path: str) -> tuple[int, int, int, int]:
    """(HTML bytes, asset bytes, total, total gzipped) of a page's first load with an empty cache."""
    response = client.get(path)
    assert response.status_code in (200, 409), (path, response.status_code)
    html = response.content
    seen: set = set()
    assets = sum(static_bytes(m.group(1), seen) for m in ASSET.finditer(html.decode()))
    zipped = len(gzip.compress(html))
    from django.contrib.staticfiles import finders

    for url in seen:
        from django.conf import settings

        zipped += len(gzip.compress(Path(finders.find(url[len(settings.STATIC_URL):])).read_bytes()))
    return len(html), assets, len(html) + assets, zipped


def page_bytes(projects) -> list[tuple[str, int, int, int, int]]:
    from django.test import Client

    from tasks.services.queue import assignment_claim
    from workers.models import QuizAttempt
    from workers.services.quizzes import quiz_attempt_start

    visitor = Client()
    rows = [(p, *first_load(visitor, p)) for p in ("/accounts/login/", "/accounts/signup/", "/account/reset-password")]
    w = Worker("bytes@bench.example")
    from django.conf import settings

    settings.QUEUE_MAX_LIVE_CLAIMS = 10
    tasks = {name: assignment_claim(user=w.user, project_id=p.pk).assignment_id for name, p in projects.items()}
    attempt = quiz_attempt_start(worker_id=w.user.pk, quiz_slug="python")
    pages = ["/start/", "/profile/", "/quizzes/", f"/quizzes/attempts/{attempt.pk}/", "/work/",
             f"/work/projects/{projects['pairwise'].pk}/", "/earnings/", "/standing/"]
    pages += [f"/work/tasks/{pk}/" for pk in tasks.values()]
    rows += [(p, *first_load(w.page, p)) for p in pages]
    names = {f"/work/tasks/{pk}/": f"/work/tasks/{{id}}/ ({name})" for name, pk in tasks.items()}
    names[f"/quizzes/attempts/{attempt.pk}/"] = "/quizzes/attempts/{id}/"
    names[f"/work/projects/{projects['pairwise'].pk}/"] = "/work/projects/{id}/"
    assert QuizAttempt.objects.filter(pk=attempt.pk).exists()
    return [(names.get(p, p), *rest) for p, *rest in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=20_000, help="tasks per task type")
    parser.add_argument("--repeat", type=int, default=41)
    args = parser.parse_args()

    server_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    db_url = urlparse(server_url)._replace(path=f"/{DB_NAME}").geturl()
    os.environ.update({
        "DATABASE_URL": db_url, "DEBUG": "0", "LOG_LEVEL": "WARNING", "ALLOWED_HOSTS": "*",
        "SECRET_KEY": secrets.token_urlsafe(50), "STRIPE_WEBHOOK_SECRET": f"whsec_{secrets.token_hex(24)}",
        "SECURE_SSL_REDIRECT": "0", "SESSION_COOKIE_SECURE": "0", "CSRF_COOKIE_SECURE": "0",
        "ACCOUNT_RATE_LIMITS_OFF": "1", "DJANGO_SETTINGS_MODULE": "marketplace.settings",
        "VAR_DIR": "/tmp/bench-web-pages-var", "LOCAL_ENV_FILE": "", "METRICS_DB_INSTRUMENTATION": "0",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"})
    sys.path.insert(0, str(ROOT))
    warnings.filterwarnings("ignore", "No directory at")  # whitenoise: the bench collects no static files
    recreate_db(server_url, DB_NAME)
    import django

    django.setup()
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client's environment (no real mail), nothing else
    try:
        call_command("migrate", verbosity=0)
        projects = seed(args.tasks)
        times = server_time(projects, args.repeat)
        sizes = page_bytes(projects)
    finally:
        from django.db import connections

        connections.close_all()
        recreate_db(server_url, DB_NAME, drop_only=True)

    ok = True
    print(f"\nServer time, ms (median / p90 over {args.repeat}; baseline: the API in the same run; "
          f"budget {TIME_BUDGET}x)")
    print(f"| {'page':<52} | {'page':>13} | {'API (baseline)':>14} | {'ratio':>5} |")
    print(f"|{'-' * 54}|{'-' * 15}:|{'-' * 16}:|{'-' * 6}:|")
    for what, med, p90, api_med, api_p90 in times:
        ratio = med / api_med
        ok &= ratio <= TIME_BUDGET
        print(f"| {what:<52} | {med:5.1f} / {p90:5.1f} | {api_med:6.1f} / {api_p90:5.1f} | {ratio:5.2f} |")
    print(f"\nFirst load, KB (HTML + CSS + JS + fonts + images it loads, uncompressed; budget "
          f"{BYTES_BUDGET // 1024} KB)")
    print(f"| {'page':<36} | {'HTML':>6} | {'assets':>6} | {'total':>6} | {'gzip':>6} |")
    print(f"|{'-' * 38}|{'-' * 7}:|{'-' * 7}:|{'-' * 7}:|{'-' * 7}:|")
    for path, html, assets, total, zipped in sizes:
        ok &= total <= BYTES_BUDGET
        print(f"| {path:<36} | {html / 1024:6.1f} | {assets / 1024:6.1f} | {total / 1024:6.1f} | "
              f"{zipped / 1024:6.1f} |")
    print("\nwithin budget" if ok else "\nOVER BUDGET")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
