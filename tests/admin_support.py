"""Django test clients logged into the admin as ops, finance, and a plain staff user (no role)."""

from django.test import Client

from tests.conftest import make_user


def admin_client(email: str, *, groups: tuple[str, ...] = (), staff: bool = True, superuser: bool = False) -> Client:
    user = make_user(email, groups=groups)
    if staff != user.is_staff or superuser:
        user.is_staff, user.is_superuser = staff, superuser
        user.save(update_fields=["is_staff", "is_superuser"])
    client = Client()
    client.force_login(user)
    client.user = user
    return client


def admin_clients() -> dict[str, Client]:
    return {"ops": admin_client("ops-adm@example.com", groups=("ops",)),
            "finance": admin_client("fin-adm@example.com", groups=("finance",)),
            "staff": admin_client("staff-adm@example.com")}
