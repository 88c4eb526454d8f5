"""Builders for the web app's page tests (no tests here): a signed-in browser, projects of each task type."""

import re

from django.test import Client

from tasks.models import Task
from tests.tasks.test_queue_factories import make_project, make_worker

# One task of each type: its data, its project's label schema, and a form post that answers it.
TYPES = {
    "pairwise": ({"prompt": "Sort a list", "language": "python", "response_a": "sorted(x)", "response_b": "x.sort()"},
                 {}, {"choice": "a"}, {"choice": "a"}),
    "ranking": ({"prompt": "Reverse a string", "language": "python", "responses": ["s[::-1]", "''.join(reversed(s))",
                                                                                   "reverse(s)"]},
                {}, {"order": ["2", "0", "1"]}, {"order": [2, 0, 1]}),
    "flags": ({"code": "for i in range(len(xs) + 1):\n    print(xs[i])", "language": "python"},
              {"taxonomy": ["off_by_one", "infinite_loop", "style"]}, {"flags": ["style", "off_by_one"]},
              {"flags": ["off_by_one", "style"]}),
    "rating": ({"content": "def add(a, b):\n    return a + b", "language": "python"},
               {"min": 1, "max": 5, "labels": {"1": "useless", "5": "excellent"}}, {"score": "4"}, {"score": 4}),
    "text": ({"code": "def f(x):\n    return x * 2", "language": "python", "question": "What does f do?"},
             {"min_length": 5, "max_length": 200}, {"text": "  It doubles x.  "}, {"text": "It doubles x."}),
}


def browser(user=None, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    if user is not None:
        client.force_login(user)
    return client


def typed_project(task_type: str, n_tasks: int = 2, **extra):
    data, schema, _post, _answer = TYPES[task_type]
    project = make_project(task_type=task_type, overlap=1, **extra)
    project.label_schema = schema
    project.save(update_fields=["label_schema"])
    Task.objects.bulk_create([Task(project=project, external_id=f"{task_type}-{i}", data=data, overlap=1)
                              for i in range(n_tasks)])
    return project


def worker(email: str = "ada@example.com"):
    return make_worker(email)


def task_url(response) -> str:
    """The task page a claim or submit led to (a redirect's Location, or htmx's pushed URL)."""
    location = response.headers.get("HX-Push-Url") or response["Location"]
    assert re.fullmatch(r"/work/tasks/\d+/", location), location
    return location


def assignment_id(url: str) -> int:
    return int(re.search(r"/work/tasks/(\d+)/", url).group(1))


def csrf_token(page) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
