"""Staff roles as Django groups. The groups are created by migration marketplace 0002; their model
permissions are (re)synced after every migrate, because permissions for models added by later
migrations only exist once those have run.

What each role may see in the admin is bounded by what its API shows (docs/admin.md, "Who sees what";
tests/marketplace/test_admin_staff_matrix.py holds every admin model to it)."""

from django.contrib.auth.models import Group, Permission

from marketplace.models import FINANCE_GROUP, OPS_GROUP

# "app" or "app.model" -> actions ("add", "change", "delete", "view") the role gets on those models.
ROLE_PERMISSIONS = {
    OPS_GROUP: {
        "workers": {"add", "change", "delete", "view"},
        "tasks": {"add", "change", "delete", "view"},
        "quality": {"add", "change", "delete", "view"},
        "payments": {"view"},
        "marketplace": {"view"},
        "account.emailaddress": {"view"},
    },
    # Finance's API is payout batches, ledger adjustments and reconciliation: nothing about quizzes, tasks,
    # judgments or quality, so the admin shows them none of it either (issue 13 row 14).
    FINANCE_GROUP: {
        "payments": {"add", "change", "view"},
        "marketplace.heartbeat": {"view"},
    },
}
# Account security: users, addresses, groups, permissions, MFA, sessions, API keys, the admin log. No role
# ever gets a write permission here, whatever ROLE_PERMISSIONS says: a role that could change an account
# row could take over any account, the superuser's included (issue 13 row 1). The admin enforces the same
# (marketplace.admin.SuperuserWritesOnly).
SECURITY_APPS = {"auth", "account", "mfa", "sessions", "rest_framework_api_key", "admin", "contenttypes",
                 "headless", "usersessions"}
SECURITY_MODELS = {("marketplace", "user")}


def is_security_model(app_label: str, model: str) -> bool:
    return app_label in SECURITY_APPS or (app_label, model) in SECURITY_MODELS


def role_permissions(group_name: str) -> list[Permission]:
    wanted = []
    for target, actions in ROLE_PERMISSIONS[group_name].items():
        app_label, _, model = target.partition(".")
        perms = Permission.objects.filter(content_type__app_label=app_label).select_related("content_type")
        if model:
            perms = perms.filter(content_type__model=model)
        for perm in perms:
            action = perm.codename.split("_", 1)[0]
            if action not in actions:
                continue
            if action != "view" and is_security_model(app_label, perm.content_type.model):
                continue
            wanted.append(perm)
    return wanted


def sync_role_permissions(**kwargs) -> None:
    """Idempotent: gives each role exactly the permissions ROLE_PERMISSIONS names (minus any write on an
    account-security model). Ledger entries are append-only, so nobody gets delete on payments."""
    for group_name in ROLE_PERMISSIONS:
        group, _ = Group.objects.get_or_create(name=group_name)
        group.permissions.set(role_permissions(group_name))
