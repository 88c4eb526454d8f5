"""Staff roles in the admin: role x registered model x action, built from admin.site._registry.

Issue 13 rows 1 and 14: ops could edit any EmailAddress (set the superuser's to one they own, reset its
password, sign in as user 1), and finance saw quiz answer keys and gold answers in the admin though no
finance API shows them. The class of bug is "a staff role can do or see more in the admin than it should",
so this file checks every model the admin has registered, for every staff role the project has:

- REVIEWED below says, per model, what each role may do (view/add/change/delete), which admin actions and
  custom admin views it gets, and why (the API that shows the same thing, or the documented admin-only
  reason). A model registered later and not reviewed here fails test_every_registered_model_is_reviewed.
- The ModelAdmin's own answers (has_*_permission, get_actions) must equal the table, and the HTTP pages
  must agree (403 where the table says no).
- No staff role may write any account-security row (users, email addresses, groups, permissions, MFA
  authenticators, API keys, sessions): tried over HTTP against the superuser's and a colleague's rows,
  and against the role's own user row (self-promotion), with the database checked afterwards.
- What each role's API shows bounds what its admin pages show: distinctive strings from the matrix world
  (gold answers, quiz answer keys and explanations, workers' answers and names) must not appear on any
  admin page of a role whose API does not show them.
"""

from dataclasses import dataclass, field

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.test import Client, RequestFactory
from django.urls import reverse

from tests.conftest import PASSWORD, make_user
from tests.e2e.matrix_world import GOLD_MARK, world_fixture  # noqa: F401 - the module-scoped fixture
from tests.workers.quizkit import KEYS

ROLES = {"ops": ("ops",), "finance": ("finance",), "staff": ()}  # every staff role: the groups, and none
STANDARD_VIEWS = {"changelist", "add", "history", "delete", "change"}
V, A, C, D = "view", "add", "change", "delete"
ALL = frozenset({V, A, C, D})


@dataclass(frozen=True)
class Rule:
    why: str
    perms: dict = field(default_factory=dict)  # role -> set of view/add/change/delete (missing: nothing)
    actions: dict = field(default_factory=dict)  # role -> set of admin action names
    views: dict = field(default_factory=dict)  # custom admin url name -> roles that may use it
    security: bool = False  # an account-security model: only a superuser writes, whatever the groups say


def ops(*perms, actions=(), why=""):
    return Rule(why, {"ops": set(perms)}, {"ops": set(actions)})


def ops_all(*actions, why=""):
    return ops(*ALL, actions=("delete_selected", *actions), why=why)


def both_view(why, **kw):
    return Rule(why, {"ops": {V}, "finance": {V}}, **kw)


NOBODY = Rule("account security: superuser only", security=True)
REVIEWED: dict[str, Rule] = {
    # Account security: no staff role writes these. Ops may read users and addresses (the ops API shows
    # workers' emails: pools/<id>/members/, flags/); nobody but a superuser reads groups, authenticators, keys.
    "auth.Group": NOBODY,
    "rest_framework_api_key.APIKey": NOBODY,
    "mfa.Authenticator": NOBODY,
    "account.EmailAddress": Rule("ops read addresses to answer 'no verification mail' (API: worker emails)",
                                 {"ops": {V}}, security=True),
    "marketplace.User": Rule("ops read accounts (API: worker emails in pools/members, flags)", {"ops": {V}},
                             views={"auth_user_password_change": ()}, security=True),
    "marketplace.Heartbeat": both_view("the same facts as the public GET /healthz"),
    # Read-only (the admin refuses add/change/delete): job names and ids, no personal data; ops run the
    # platform (finance's API has nothing of it).
    "marketplace.OutboxEvent": Rule("which jobs wait or never finished (GET /healthz counts them)", {"ops": {V}}),
    # workers/: ops' own tools (API: quizzes with answer keys, pools, members, suspend/reinstate).
    "workers.Skill": ops_all(why="API: quizzes/ (skill of each quiz)"),
    "workers.WorkerProfile": ops_all("add_to_pool", "remove_from_pool", "suspend", "reinstate",
                                     why="API: workers/<id>/standing, suspend, reinstate"),
    "workers.Qualification": ops_all(why="API: pools/<id>/members rule (qualified workers)"),
    "workers.Pool": ops_all("fill_from_required_skills", why="API: pools/"),
    "workers.PoolMembership": ops_all("suspend_memberships", "reinstate_memberships", why="API: pools/<id>/members/"),
    "workers.Quiz": ops_all(why="API: quizzes/<slug>/ (ops)"),
    "workers.Question": ops_all(why="API: quizzes/<slug>/questions/ with answer keys (ops)"),
    "workers.QuizAttempt": ops(V, D, actions=("delete_selected",),
                               why="admin-only: ops clear a stuck attempt; attempts are graded by the service"),
    "workers.WorkerAuditEvent": ops(V, why="audit log of ops' own actions (append-only)"),
    "workers.WorkerAppeal": ops(V, C, actions=("appeals_mark_handled",),
                                why="suspended workers' appeals from the web app: ops read them, mark them answered"),
    # tasks/: ops run projects and clients (docs/admin.md); gold answers are shown to nobody but a superuser.
    "tasks.Project": ops_all(why="admin-only: ops tune pay, overlap, pools (docs/admin.md)"),
    "tasks.Client": ops_all("rotate_webhook_secret", why="admin-only: ops onboard clients"),
    "tasks.ClientAPIKey": ops_all("revoke", why="admin-only: ops issue and revoke client keys"),
    "tasks.Task": ops_all(why="admin-only: ops look at a task a flag points to (gold answer hidden)"),
    "tasks.Assignment": ops(V, why="read-only: counters are kept by the queue services"),
    "tasks.Judgment": ops(V, why="flag review: the worker's answers (docs/admin.md, Quality > Flags)"),
    "tasks.WorkNotification": ops(V, why="read-only"),
    "tasks.WebhookDelivery": ops(V, C, D, actions=("delete_selected", "retry_now"), why="admin-only: ops retry"),
    # quality/: ops only (API: flags/, flags/<id>/resolve/, workers/<id>/standing/).
    "quality.Flag": ops(V, C, D, actions=("delete_selected", "confirm_flags", "dismiss_flags"), why="API: flags/"),
    "quality.WorkerStanding": ops(V, D, actions=("delete_selected",), why="API: workers/<id>/standing/"),
    "quality.ProjectAgreement": ops(V, D, actions=("delete_selected",), why="client API: projects/<id>/agreement/"),
    "quality.TaskConsensus": ops(V, D, actions=("delete_selected",), why="derived; recomputed by the job"),
    "quality.ExplanationScore": ops(V, D, actions=("delete_selected",), why="derived from a review task's rankings"),
    "quality.ProjectQualityPolicy": ops_all(why="admin-only: per-project rule overrides"),
    "quality.QualityAuditEvent": ops(V, why="audit log (append-only)"),
    # payments/: read-only for everybody; finance act through the services (API: payout-batches/...).
    "payments.LedgerAccount": both_view("API: reconciliation/ (finance); ops answer payout questions"),
    "payments.LedgerTransaction": both_view("API: reconciliation/, ledger-adjustments/ (finance)"),
    "payments.LedgerEntry": both_view("API: reconciliation/ (finance)"),
    "payments.EarningsHold": both_view("API: flags/<id>/resolve releases or forfeits holds (ops)"),
    "payments.EarningsClearance": both_view("API: me/earnings/ clearance (the worker); written by the clearing run only"),
    "payments.StripeAccount": both_view("API: payout-batches/ lines (finance)"),
    "payments.PayoutBatch": both_view("API: payout-batches/ (finance); ops may look, not act",
                                      actions={"finance": {"approve", "execute"}},
                                      views={"payments_payoutbatch_csv": ("finance",),
                                             "payments_payoutbatch_approve": ("finance",),
                                             "payments_payoutbatch_execute": ("finance",)}),
    "payments.LedgerAdjustment": both_view("API: ledger-adjustments/ (finance); ops may look, not act",
                                           actions={"finance": {"approve", "reject"}}),
    "payments.StripeEvent": Rule("API: reconciliation/ (finance); finance replay failed events",
                                 {"ops": {V}, "finance": {V, C}}, {"finance": {"replay"}}),
}

# What each role's API never shows it, as distinctive strings from the matrix world. The admin may not show
# them either. Ops' API shows quiz keys (authoring) and workers' answers are theirs to review; no staff API
# shows a gold answer (only the client who uploaded it has it).
WORKER_ANSWERS = ("WORKER_A-ANSWER-SECRET", "WORKER_B-ANSWER-SECRET")
NAMES = ("Alice-Secret-Name", "Bruno-Secret-Name")
FORBIDDEN = {
    "ops": (GOLD_MARK,),
    "finance": (GOLD_MARK, *KEYS, "SECRET-EXPLANATION", *WORKER_ANSWERS, *NAMES),
    "staff": (GOLD_MARK, *KEYS, "SECRET-EXPLANATION", *WORKER_ANSWERS, *NAMES),
}


def _label(model) -> str:
    return model._meta.label


REGISTRY = {_label(m): (m, ma) for m, ma in admin.site._registry.items()}
MODELS = sorted(REGISTRY)


@pytest.fixture(scope="module")
def staff(world, django_db_blocker):
    """One user per staff role (inside the world's transaction), and a superuser."""
    with django_db_blocker.unblock():
        users = {role: make_user(f"matrix-{role}@example.com", groups=groups) for role, groups in ROLES.items()}
        for user in users.values():
            if not user.is_staff:
                user.is_staff = True
                user.save(update_fields=["is_staff"])
        root = make_user("matrix-root@example.com")
        root.is_staff = root.is_superuser = True
        root.save(update_fields=["is_staff", "is_superuser"])
        users["superuser"] = root
    return users


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def _object(model):
    return model._default_manager.order_by("pk").first()


def _url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _custom_views(model_admin) -> set[str]:
    names = set()
    prefix = f"{model_admin.model._meta.app_label}_{model_admin.model._meta.model_name}_"
    for pattern in model_admin.get_urls():
        name = getattr(pattern, "name", None)
        if name and not (name.startswith(prefix) and name[len(prefix):] in STANDARD_VIEWS):
            names.add(name)
    return names


def test_every_registered_model_is_reviewed():
    assert sorted(set(MODELS) - set(REVIEWED)) == [], "admin models nobody reviewed: add them to REVIEWED"
    assert sorted(set(REVIEWED) - set(MODELS)) == [], "REVIEWED lists models the admin no longer registers"
    for label, (model, model_admin) in REGISTRY.items():
        assert set(REVIEWED[label].views) == _custom_views(model_admin), label


def test_every_staff_role_is_in_the_matrix(db):
    """A new group (role) must join ROLES, so the matrix covers it."""
    from marketplace.roles import ROLE_PERMISSIONS

    assert set(Group.objects.values_list("name", flat=True)) == set(ROLE_PERMISSIONS) == {
        r for groups in ROLES.values() for r in groups}


def test_sessions_and_permissions_are_not_in_the_admin():
    """Sessions and permissions have no admin page at all (a staff role could otherwise read session keys,
    which are the API's X-Session-Tokens, or grant itself permissions)."""
    from django.contrib.sessions.models import Session

    assert not admin.site.is_registered(Session)
    assert not admin.site.is_registered(Permission)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("label", MODELS)
def test_model_admin_grants_exactly_the_reviewed_rights(db, world, staff, label, role):
    model, model_admin = REGISTRY[label]
    rule = REVIEWED[label]
    request = _request(staff[role])
    obj = _object(model)
    granted = {name for name, ok in (
        (V, model_admin.has_view_permission(request, obj)), (A, model_admin.has_add_permission(request)),
        (C, model_admin.has_change_permission(request, obj)), (D, model_admin.has_delete_permission(request, obj)),
    ) if ok}
    assert granted == rule.perms.get(role, set()), f"{label} as {role}: {granted}"
    actions = set(model_admin.get_actions(request)) if V in granted else set()
    assert actions == rule.actions.get(role, set()), f"{label} actions as {role}: {actions}"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("label", MODELS)
def test_pages_answer_as_reviewed(db, world, staff, label, role):
    model, model_admin = REGISTRY[label]
    rule = REVIEWED[label]
    allowed = rule.perms.get(role, set())
    client = _client(staff[role])
    obj = _object(model)
    expect = 200 if V in allowed else 403
    assert client.get(_url(model, "changelist")).status_code == expect, (label, role)
    if A not in allowed:
        assert client.get(_url(model, "add")).status_code == 403, (label, role)
    if obj is not None:
        assert client.get(_url(model, "change", obj.pk)).status_code == expect, (label, role)
        if C not in allowed:
            assert client.post(_url(model, "change", obj.pk), {}).status_code == 403, (label, role)
        if D not in allowed:
            assert client.get(_url(model, "delete", obj.pk)).status_code == 403, (label, role)
            assert client.post(_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403, (label, role)
            assert model._default_manager.filter(pk=obj.pk).exists()
        for name, roles in rule.views.items():
            if role not in roles:
                assert client.get(reverse(f"admin:{name}", args=[obj.pk])).status_code == 403, (name, role)
                assert client.post(reverse(f"admin:{name}", args=[obj.pk]), {}).status_code == 403, (name, role)


@pytest.mark.parametrize("role", ROLES)
def test_admin_pages_show_no_more_than_the_roles_api(db, world, staff, role):
    """Every list and every object page the role may open (the first 3 objects of each model), searched
    for what the role's API never shows it."""
    client = _client(staff[role])
    leaks = []
    for label in MODELS:  # every model, not only those REVIEWED grants: a page that opens is a page seen
        model, _ = REGISTRY[label]
        pages = [_url(model, "changelist")]
        pages += [_url(model, "change", pk) for pk in model._default_manager.order_by("pk").values_list(
            "pk", flat=True)[:3]]
        if label in ("tasks.Task", "tasks.Judgment"):  # make sure gold rows are among the pages looked at
            pages += [_url(model, "change", pk) for pk in model._default_manager.filter(is_gold=True).values_list(
                "pk", flat=True)[:2]]
        for page in pages:
            response = client.get(page)
            if response.status_code != 200:
                continue
            text = response.content.decode()
            leaks += [(page, secret) for secret in FORBIDDEN[role] if secret in text]
    assert leaks == []


def test_the_world_holds_the_secrets_the_leak_test_looks_for(db, world, staff):
    """The leak test is only as good as its data: a superuser does see each secret somewhere."""
    from tasks.models import Task

    root = _client(staff["superuser"])
    gold = Task.objects.filter(is_gold=True).first()
    assert GOLD_MARK in root.get(_url(Task, "change", gold.pk)).content.decode()
    ops = _client(staff["ops"])
    from workers.models import Question

    question = Question.objects.order_by("pk").first()
    page = ops.get(_url(Question, "change", question.pk)).content.decode()
    assert KEYS[0] in page and "SECRET-EXPLANATION" in page


# --- Account security: tried over HTTP, database checked --------------------------------------------------


@pytest.fixture
def targets(db, staff):
    """The superuser's rows a staff role might go after: an address, an authenticator, a spare address."""
    from allauth.account.models import EmailAddress
    from allauth.mfa.models import Authenticator

    root = staff["superuser"]
    spare = EmailAddress.objects.create(user=root, email="root-spare@example.com", verified=False, primary=False)
    authenticator = Authenticator.objects.create(user=root, type=Authenticator.Type.RECOVERY_CODES,
                                                 data={"seed": "x", "unused_code_indices": [0]})
    return {"root": root, "email": EmailAddress.objects.get(user=root, primary=True), "spare": spare,
            "authenticator": authenticator, "group": Group.objects.get(name="ops")}


def _state(staff, targets):
    from allauth.account.models import EmailAddress
    from allauth.mfa.models import Authenticator

    users = {role: (u.email, u.is_staff, u.is_superuser, u.is_active, u.password, sorted(
        u.groups.values_list("name", flat=True)), sorted(u.user_permissions.values_list("codename", flat=True)))
        for role, u in ((r, type(u).objects.get(pk=u.pk)) for r, u in staff.items())}
    emails = sorted(EmailAddress.objects.values_list("user_id", "email", "verified", "primary"))
    groups = sorted((g.name, sorted(g.permissions.values_list("pk", flat=True))) for g in Group.objects.all())
    return users, emails, groups, sorted(Authenticator.objects.values_list("pk", "user_id", "type"))


@pytest.mark.parametrize("role", ROLES)
def test_no_staff_role_can_touch_another_account_or_its_own_rights(world, staff, targets, role):
    me = staff[role]
    root = targets["root"]
    client = _client(me)
    before = _state(staff, targets)
    all_perms = list(Permission.objects.values_list("pk", flat=True))
    attempts = [
        # Take the superuser's address (row 1), or add one and make it primary.
        ("post", _url(targets["email"].__class__, "change", targets["email"].pk),
         {"user": root.pk, "email": "attacker@example.com", "verified": "on", "primary": "on"}),
        ("post", _url(targets["email"].__class__, "add"),
         {"user": root.pk, "email": "attacker2@example.com", "verified": "on", "primary": "on"}),
        ("post", _url(targets["email"].__class__, "changelist"),
         {"action": "make_verified", "_selected_action": [targets["spare"].pk]}),
        ("post", _url(targets["email"].__class__, "delete", targets["email"].pk), {"post": "yes"}),
        # The superuser's account: email, password, deletion.
        ("post", _url(root.__class__, "change", root.pk),
         {"email": "attacker@example.com", "is_active": "on", "is_staff": "on", "is_superuser": "on"}),
        ("post", reverse("admin:auth_user_password_change", args=[root.pk]),
         {"password1": "Attacker-pass-123", "password2": "Attacker-pass-123"}),
        ("post", _url(root.__class__, "delete", root.pk), {"post": "yes"}),
        ("post", _url(root.__class__, "changelist"), {"action": "delete_selected", "_selected_action": [root.pk],
                                                      "post": "yes"}),
        # Promote oneself: superuser flag, another group, direct permissions.
        ("post", _url(me.__class__, "change", me.pk),
         {"email": me.email, "is_active": "on", "is_staff": "on", "is_superuser": "on",
          "groups": list(Group.objects.values_list("pk", flat=True)), "user_permissions": all_perms}),
        ("post", _url(me.__class__, "add"),
         {"email": "sock@example.com", "password1": PASSWORD, "password2": PASSWORD}),
        # Groups: give the role every permission, or make a new group.
        ("post", _url(Group, "change", targets["group"].pk), {"name": "ops", "permissions": all_perms}),
        ("post", _url(Group, "add"), {"name": "root-too", "permissions": all_perms}),
        # MFA: remove the superuser's second factor.
        ("post", _url(targets["authenticator"].__class__, "delete", targets["authenticator"].pk), {"post": "yes"}),
        ("post", _url(targets["authenticator"].__class__, "changelist"),
         {"action": "delete_selected", "_selected_action": [targets["authenticator"].pk], "post": "yes"}),
    ]
    from rest_framework_api_key.models import APIKey

    attempts.append(("post", _url(APIKey, "add"), {"name": "mine"}))
    for method, url, data in attempts:
        response = getattr(client, method)(url, data)
        if "action" in data:  # an action the role lacks: the list answers "no action selected", or 403
            assert response.status_code in (200, 302, 403), (url, response.status_code)
        else:
            assert response.status_code == 403, (url, response.status_code)
        assert _state(staff, targets) == before, (role, url)
    assert not APIKey.objects.filter(name="mine").exists()
    assert not Group.objects.filter(name="root-too").exists()


def test_a_superuser_still_can(world, staff, targets):
    """The guards are for staff roles; the superuser keeps the keys (the matrix above is not vacuous)."""
    client = _client(staff["superuser"])
    spare = targets["spare"]
    client.post(_url(spare.__class__, "changelist"), {"action": "make_verified", "_selected_action": [spare.pk]})
    spare.refresh_from_db()
    assert spare.verified
    assert client.get(_url(Group, "add")).status_code == 200
