"""Staff roles as Django groups. The groups are created by migration marketplace 0002; their model
permissions are (re)synced after every migrate, because permissions for models added by later
migrations only exist once those have run."""

from django.contrib.auth.models import Group, Permission

from marketplace.models import FINANCE_GROUP, OPS_GROUP

# app label -> actions ("add", "change", "delete", "view") each role gets on every model of that app.
ROLE_APP_PERMISSIONS = {
    OPS_GROUP: {
        "workers": {"add", "change", "delete", "view"},
        "tasks": {"add", "change", "delete", "view"},
        "quality": {"add", "change", "delete", "view"},
        "payments": {"view"},
        "marketplace": {"view"},
        "account": {"view", "change"},
    },
    FINANCE_GROUP: {
        "payments": {"add", "change", "view"},
        "workers": {"view"},
        "tasks": {"view"},
        "quality": {"view"},
        "marketplace": {"view"},
    },
}


def sync_role_permissions(**kwargs) -> None:
    """Idempotent: gives each role exactly the permissions ROLE_APP_PERMISSIONS names.
    Ledger entries are append-only, so nobody gets delete on payments."""
    for group_name, apps in ROLE_APP_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        wanted = []
        for app_label, actions in apps.items():
            for perm in Permission.objects.filter(content_type__app_label=app_label):
                if perm.codename.split("_", 1)[0] in actions:
                    wanted.append(perm)
        group.permissions.set(wanted)
