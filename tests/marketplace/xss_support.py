"""Stored XSS, by class (issue 31): hostile text in every stored text field, and a check that a page (or a
mail) shows it as text, never as markup. Used by tests/marketplace/test_stored_xss.py; no tests here.

- `poison_every_text_field()` walks the model registry: every CharField, TextField, EmailField, URLField and
  JSONField of every row gets a hostile value (JSON: every string leaf, plus one hostile key per object),
  written with queryset.update(), past every validator, as if any writer had managed to store it. Each
  field gets its own marker `XSS-<n>-Q`, so a page shows which fields it carries (the dashes: no random
  token a page carries, a CSRF token or a TOTP secret, is letters and digits that can spell one).
- `markup_problems(html)` parses a page with html.parser and names what the hostile text would have
  injected: an element or attribute it carries (data-xss), an event handler, a script that is not a file
  from /static/, a javascript: URL, a marker whose `{{ }}` template text was evaluated.
"""

import re
import zlib
from contextlib import contextmanager
from html.parser import HTMLParser
from urllib.parse import unquote

from django.apps import apps
from django.core.validators import validate_email
from django.db import IntegrityError, connection, models, transaction

# Fields left as they are, each with its reason. Everything else is poisoned; a field added tomorrow is
# poisoned by the walk without anyone listing it.
NOT_POISONED = {
    "auth.Group.name": "the roles' names ('ops', 'finance') the code looks up; a hostile group is added instead",
    "auth.Permission.codename": "Django's own, from the models: nobody writes it",
    "contenttypes.ContentType.app_label": "Django's own, from the models: nobody writes it",
    "contenttypes.ContentType.model": "Django's own, from the models: nobody writes it",
    "sessions.Session.session_key": "machine-made key; no page shows sessions (no admin, no view)",
    "sessions.Session.session_data": "machine-made, signed; no page shows sessions",
    "rest_framework_api_key.APIKey.id": "primary key made by the server",
    "tasks.ClientAPIKey.id": "primary key made by the server",
    "marketplace.User.password": "a hash the server makes; the admin shows its algorithm only",
    "workers.Skill.slug": "a SlugField: every writer (API, admin) validates [-a-zA-Z0-9_]; it is in URLs",
    "workers.Quiz.slug": "a SlugField: every writer (API, admin) validates [-a-zA-Z0-9_]; it is in URLs",
    "workers.WorkerProfile.accepted_terms_version": "the service accepts only settings.TERMS_VERSION itself",
    "tasks.Project.currency": "three letters (the API's regex; the ledger's CHECK refuses other codes)",
    "marketplace.OutboxEvent.job": "a job name the code picks from its own registry, never a request's",
}

TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField)  # EmailField, URLField, SlugField too


def payload(n: int) -> str:
    """Hostile text for field n: breaks out of attributes, elements, textareas and titles, carries a script,
    an event handler, a javascript: link and Django template text (which must stay text)."""
    return (f'XSS-{n}-Q{{{{XSS{n}}}}}{{% now "Y" %}}"\'><img src=x onerror=alert({n}) data-xss={n}>'
            f"<script>alert({n})</script></textarea></title></style><svg onload=alert({n}) data-xss={n}>"
            f'<a href="javascript:alert({n})" data-xss={n}>j</a>')


def url_payload(n: int) -> str:
    return f'javascript:alert({n})//XSS-{n}-Q{{{{XSS{n}}}}}"><img src=x onerror=alert({n}) data-xss={n}>'


def email_payload(n: int, pk) -> str:
    # A quoted local part: Django's EmailValidator (and so allauth's signup) accepts it as it is.
    value = f'"XSS-{n}-Q{{{{XSS{n}}}}}\'><img/src=x/onerror=alert({n})/data-xss={n}>{pk}"@example.com'.lower()
    validate_email(value)
    return value


def text_fields():
    """(label, model, field) for every stored text field of every model in the registry, in a fixed order."""
    out = []
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for field in model._meta.concrete_fields:
            if isinstance(field, TEXT_FIELDS) and not field.choices:
                out.append((f"{model._meta.label}.{field.name}", model, field))
    return sorted(out, key=lambda row: row[0])


def _poison_json(value, text: str):
    if isinstance(value, str):
        return text
    if isinstance(value, list):
        # A list of plain values (ids, labels) gets one hostile item more; a list of objects keeps its shape.
        plain = not any(isinstance(item, (dict, list)) for item in value)
        return [_poison_json(item, text) for item in value] + ([text] if plain else [])
    if isinstance(value, dict):
        return {**{key: _poison_json(item, text) for key, item in value.items()}, f"k{text}": text}
    return value


def _value(field, n: int, pk, old):
    if isinstance(field, models.JSONField):
        return _poison_json(old if old is not None else {}, payload(n))
    # Unique per row (some text fields are unique); string keys (API keys' ids) are long: a short checksum.
    suffix = "" if isinstance(field, models.EmailField) else f"#{pk if isinstance(pk, int) else zlib.crc32(str(pk).encode())}"
    if isinstance(field, models.EmailField):
        text = email_payload(n, pk)
    elif isinstance(field, models.URLField):
        text = url_payload(n)
    else:
        text = payload(n)
    limit = field.max_length
    if limit and len(text) + len(suffix) > limit:
        # Cut short, the front still breaks out: the marker, its template text, then the <img onerror>.
        text = text[: limit - len(suffix)] if limit >= MARKER_ROOM else f'"<{pk}'[:limit]
    return text + (suffix if not limit or len(text) + len(suffix) <= limit else "")
    return text


@contextmanager
def _ledger_guards_lifted():
    """The ledger's append-only triggers refuse any UPDATE; its text (memos carry project names and
    finance's adjustment memos) is poisoned in place, inside the test's transaction, guards back after."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending (deferred) trigger events
            for table in LEDGER_TABLES:
                cursor.execute(f"ALTER TABLE payments_{table} DISABLE TRIGGER payments_{table}_append_only")
        else:
            for table in LEDGER_TABLES:
                cursor.execute(f"DROP TRIGGER IF EXISTS payments_{table}_no_update")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                for table in LEDGER_TABLES:
                    cursor.execute(f"ALTER TABLE payments_{table} ENABLE TRIGGER payments_{table}_append_only")
            else:
                for table in LEDGER_TABLES:
                    cursor.execute(f"CREATE TRIGGER payments_{table}_no_update BEFORE UPDATE ON payments_{table} "
                                   "BEGIN SELECT RAISE(ABORT, 'ledger rows are append-only'); END;")


LEDGER_TABLES = ("ledgertransaction",)  # entries hold no text


def poison_every_text_field() -> tuple[dict[str, int], set[str]]:
    with _ledger_guards_lifted():
        numbers, refused = _poison()
    # allauth keeps the address twice (the user's, its EmailAddress row): one hostile address in both, as a
    # signup with that address stores it; otherwise every worker reads as unverified and pages refuse.
    from allauth.account.models import EmailAddress

    for address in EmailAddress.objects.select_related("user"):
        EmailAddress.objects.filter(pk=address.pk).update(email=address.user.email)
    numbers["account.EmailAddress.email"] = numbers["marketplace.User.email"]
    return numbers, refused


def _poison() -> tuple[dict[str, int], set[str]]:
    """Poisons every row. Returns {label: n} for the fields poisoned (n: the field's marker number), and the
    fields whose hostile value the database itself refuses (a CHECK constraint, e.g. ISO currency codes)."""
    numbers, refused = {}, set()
    for n, (label, model, field) in enumerate(text_fields()):
        if label in NOT_POISONED:
            continue
        numbers[label] = n
        for pk, old in model._base_manager.values_list("pk", field.attname):
            try:
                with transaction.atomic():
                    model._base_manager.filter(pk=pk).update(**{field.attname: _value(field, n, pk, old)})
            except IntegrityError as exc:
                if "check constraint" not in str(exc).lower():
                    raise
                refused.add(label)
                del numbers[label]
                break
    return numbers, refused


def rare_rows(*, world_client_id: int, project_id: int, user_id: int):
    """One row of each model (with text, or in the admin) that the world does not write by itself (webhook deliveries and
    attempts, Stripe events, sandbox runs, heartbeats, keys, history), plainly through the ORM: the text is
    overwritten by the poisoning anyway."""
    from allauth.account.models import EmailAddress, EmailConfirmation
    from allauth.mfa.models import Authenticator
    from django.contrib.admin.models import CHANGE, LogEntry
    from django.contrib.contenttypes.models import ContentType
    from django.utils import timezone
    from rest_framework_api_key.models import APIKey

    from marketplace.models import Heartbeat, IdempotencyKey, User
    from payments.models import StripeEvent
    from quality.models import ExplanationScore, ProjectQualityPolicy
    from tasks.models import (
        AnswerReview,
        CompletionRun,
        FixRun,
        Judgment,
        Task,
        WebhookAttempt,
        WebhookDelivery,
        WorkNotification,
    )
    from workers.models import WorkerAppeal

    now = timezone.now()
    delivery = WebhookDelivery.objects.create(client_id=world_client_id, event="task.completed", event_key="k",
                                              event_id="00000000-0000-4000-8000-000000000031", payload={"a": "b"},
                                              url="https://example.com/hook", last_error="e", created_at=now)
    WebhookAttempt.objects.create(delivery=delivery, number=1, url="https://example.com/hook", at=now, error="e",
                                  response_excerpt="r")
    StripeEvent.objects.create(event_id="evt_1", type="account.updated", account="acct_1", payload="{}", error="e",
                               received_at=now)
    task = Task.objects.filter(project_id=project_id).order_by("pk").first()
    CompletionRun.objects.create(task=task, side="a", status="failed", passed=False, failures="f",
                                 runner_version="v", created_at=now)
    judgment = Judgment.objects.order_by("pk").first()
    FixRun.objects.create(judgment=judgment, status="failed", passed=False, failures="f", runner_version="v",
                          created_at=now)
    Heartbeat.objects.create(name="beat", beat_at=now)
    WorkerAppeal.objects.create(worker_id=user_id, flag_id=1, message="m")  # ops read it in the admin
    source, review = Task.objects.filter(project_id=project_id).order_by("pk")[:2]
    AnswerReview.objects.create(source_task=source, review_task=review, judgment_ids=[1, 2])
    ExplanationScore.objects.create(judgment=judgment, task=judgment.task, worker_id=judgment.worker_id, score=0.5,
                                    rank=1, n_reviews=2, computed_at=now)  # its admin is read-only: pages swept
    WorkNotification.objects.create(worker_id=user_id, project_id=project_id, sent_at=now)
    IdempotencyKey.objects.create(principal="p", key="k", method="POST", path="/p", request_hash="h",
                                  status_code=201, content_type="application/json", response_body=b"{}")
    ProjectQualityPolicy.objects.update_or_create(project_id=project_id, defaults={"rules": {"fast": {"level": "x"}},
                                                                                   "updated_at": now})
    APIKey.objects.create_key(name="xss key")
    Authenticator.objects.create(user_id=user_id, type=Authenticator.Type.RECOVERY_CODES, data={"seed": "s"})
    EmailConfirmation.objects.create(email_address=EmailAddress.objects.filter(user_id=user_id).first(), key="k",
                                     sent=now)
    LogEntry.objects.create(user_id=user_id, content_type=ContentType.objects.get_for_model(User),
                            object_id=str(user_id), object_repr="u", action_flag=CHANGE,
                            change_message='[{"changed": {"fields": ["Email"]}}]')


MARKER_ROOM = 20


def too_short_for_the_marker(field) -> bool:
    """Fields this short (currency codes, a country) get a hostile '"<' but cannot carry the field's marker."""
    return bool(getattr(field, "max_length", None)) and field.max_length < MARKER_ROOM


def rows_by_model() -> dict[str, int]:
    return {model._meta.label: model._base_manager.count() for _, model, _ in text_fields()}


URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background"}
# Addresses are stored lower-case. Not letters and digits only: a page's CSRF token (64 random letters and
# digits) once spelled "xSs3Q" and read as field 3's marker followed by evaluated template text.
MARKER = re.compile(r"XSS-(\d+)-Q", re.IGNORECASE)


class _Scan(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.text: list[str] = []
        self.attribute_values: list[str] = []
        self.markers: set[int] = set()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attrs:
            if name == "data-xss":
                self.problems.append(f"stored text became a <{tag}> element or attribute: {self.get_starttag_text()}")
            elif name.startswith("on"):
                self.problems.append(f"event handler attribute on <{tag}>: {self.get_starttag_text()}")
            elif name == "style":
                self.problems.append(f"inline style (the CSP forbids it) on <{tag}>: {self.get_starttag_text()}")
            if value is None:
                continue
            self.attribute_values.append(value)
            squeezed = re.sub(r"[\s\x00-\x20]", "", value).lower()
            if name in URL_ATTRIBUTES and squeezed.startswith(("javascript:", "vbscript:", "data:text/html")):
                self.problems.append(f"a script URL in {name} of <{tag}>: {value[:80]}")
        if tag == "script":
            src = attributes.get("src")
            if src is None and attributes.get("type") != "application/json":
                self.problems.append(f"an inline script: {self.get_starttag_text()}")
            if src is not None and not (src.startswith("/") and not src.startswith("//")):
                self.problems.append(f"a script from another origin: {src}")
        if tag == "style":
            self.problems.append("a <style> block (the CSP allows stylesheets from this origin only)")
        if tag in {"iframe", "object", "embed", "base", "frame"}:
            self.problems.append(f"a <{tag}> element: {self.get_starttag_text()}")

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.text.append(data)

    def handle_comment(self, data):
        if MARKER.search(data):
            self.problems.append("stored text inside an HTML comment")


def _template_problems(chunks: list[str], where: str) -> tuple[list[str], set[int]]:
    problems, seen = [], set()
    for chunk in chunks:
        for match in MARKER.finditer(chunk):
            n = match.group(1)
            seen.add(int(n))
            rest = chunk[match.end():]
            literal = f"{{{{XSS{n}}}}}"
            # The literal template text follows the marker, unless the page cut the value short right there.
            if rest and not literal.lower().startswith(rest[: len(literal)].lower()) and not rest.startswith(("…", "...")):
                problems.append(f"{where}: field {n}'s {{{{ }}}} text did not come through as text: {rest[:40]!r}")
    return problems, seen


def markup_problems(html: str) -> tuple[list[str], set[int]]:
    """What stored hostile text did to the page, and which field markers the page shows."""
    scan = _Scan()
    scan.feed(html)
    scan.close()
    text_problems, seen = _template_problems(["".join(scan.text)], "text")
    # Links carry stored text URL-encoded (a changelist filter): decoded, it must still be the literal text.
    attribute_problems, seen_in_attributes = _template_problems([unquote(v) for v in scan.attribute_values],
                                                                "attribute")
    return scan.problems + text_problems + attribute_problems, seen | seen_in_attributes


def mail_problems(message) -> tuple[list[str], set[int]]:
    """A mail: plain text (its hostile text cannot be markup there); an HTML part, if one is ever added, is
    checked like a page; the subject stays one line; template text stays text."""
    problems = []
    if "\n" in message.subject or "\r" in message.subject:
        problems.append(f"the subject has a line break: {message.subject!r}")
    seen = set()
    for content, mimetype in getattr(message, "alternatives", []):
        if mimetype == "text/html":
            found, markers = markup_problems(content)
            problems += found
            seen |= markers
    if getattr(message, "content_subtype", "plain") == "html":
        found, markers = markup_problems(message.body)
        problems += found
        seen |= markers
    found, markers = _template_problems([message.subject, message.body], "mail")
    return problems + found, seen | markers
