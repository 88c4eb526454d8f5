"""Demo data, created idempotently by `manage.py seed_demo` (run by `make run`)."""

from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.db import transaction

from marketplace.models import FINANCE_GROUP, OPS_GROUP, User

DEMO_PASSWORD = "demo-password-123"
DEMO_STAFF = [
    ("admin@example.com", True, ()),
    ("ops@example.com", False, (OPS_GROUP,)),
    ("finance@example.com", False, (FINANCE_GROUP,)),
    ("finance2@example.com", False, (FINANCE_GROUP,)),
]


@transaction.atomic
def seed_staff() -> list[str]:
    lines = []
    for email, superuser, groups in DEMO_STAFF:
        user, created = User.objects.get_or_create(email=email, defaults={"is_staff": True, "is_superuser": superuser})
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        # Without a verified primary address allauth would ask staff to verify before logging in.
        EmailAddress.objects.update_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
        for name in groups:
            user.groups.add(Group.objects.get_or_create(name=name)[0])
        role = "superuser" if superuser else ", ".join(groups)
        lines.append(f"Login ({role:<9}) {email} / {DEMO_PASSWORD}")
    return lines
