"""Rules every page of the web app keeps: no inline script (the CSP forbids it), the CSP header itself, one
layout that works on a phone, and every user-facing string in templates through the translation tags."""

import re
from pathlib import Path

import pytest

from tests.webapp.support import browser, task_url, typed_project, worker
from tests.workers.quizkit import make_quiz

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
# The web app's templates, and the account pages the mails link to (they share its layout).
TEMPLATES = [ROOT / "webapp" / "templates", ROOT / "marketplace" / "templates" / "marketplace"]


def _pages(client, project) -> dict[str, str]:
    task = task_url(client.post(f"/work/projects/{project.pk}/claim"))
    quiz = client.post("/quizzes/python/start")["Location"]
    paths = ["/start/", "/profile/", "/work/", f"/work/projects/{project.pk}/", task, "/quizzes/", quiz,
             "/earnings/", "/standing/"]
    out = {}
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        out[path] = response
    anonymous = browser()
    for path in ("/accounts/login/", "/accounts/signup/", "/accounts/confirm-email/", "/account/reset-password"):
        out[path] = anonymous.get(path)
    return out


def test_no_page_carries_inline_script_or_event_handlers_and_each_has_the_csp_and_a_phone_viewport():
    make_quiz("python")
    ada = worker()
    project = typed_project("flags")
    for path, response in _pages(browser(ada), project).items():
        html = response.content.decode()
        assert response.status_code == 200, path
        for script in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in script, (path, script)
        assert all(not body.strip() for body in re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.S)), path
        assert not re.search(r"\son[a-z]+\s*=", html), path
        assert "javascript:" not in html, path
        assert "script-src 'self'" in response["Content-Security-Policy"], path
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html, path


def test_template_text_goes_through_the_translation_tags():
    """Text between tags in the web app's templates is inside {% translate %} / {% blocktranslate %}: a
    rough check, line by line, for words outside any template tag or variable."""
    offenders = []
    for path in [p for folder in TEMPLATES for p in folder.rglob("*.html") if not p.name.startswith("console_")]:
        text = re.sub(r"{%\s*block main_class\s*%}\w*{%\s*endblock\s*%}", "", path.read_text())
        text = re.sub(r"{%\s*blocktranslate.*?{%\s*endblocktranslate\s*%}", "", text, flags=re.S)
        text = re.sub(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", "", text, flags=re.S)
        # {# #} is a one-line comment in Django: one that spans lines is shown on the page, so it is left in
        # (its words then count as untranslated text) rather than stripped.
        text = re.sub(r"{#[^\n]*?#}", "", text)
        text = re.sub(r"{%.*?%}|{{.*?}}", "", text, flags=re.S)
        text = re.sub(r"<[^>]*>", " ", text)
        for word in re.findall(r"[A-Za-z]{3,}", text):
            offenders.append((path.name, word))
    assert not offenders, offenders[:20]
