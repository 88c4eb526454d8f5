"""Issue 13 row 1, end to end, as reproduced against `make run`: an ops user points the superuser's email
address at a mailbox they own in the admin, asks for a password reset for that address, follows the mailed
link, sets a password and signs in as user 1. Each step that must fail is checked, and the chain as a whole:
the attacker never holds a session for the superuser."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from tests.admin_support import admin_client
from tests.conftest import AUTH, PASSWORD

pytestmark = pytest.mark.django_db
ATTACKER_MAIL = "mallory@attacker.example"


def test_ops_cannot_take_over_the_superuser_through_an_email_address():
    from marketplace.models import User

    root = User.objects.create_superuser(email="admin@example.com", password=PASSWORD)
    address = EmailAddress.objects.create(user=root, email=root.email, verified=True, primary=True)
    ops = admin_client("ops-mallory@example.com", groups=("ops",))

    # 1. Point the superuser's address at the attacker's mailbox, or add one beside it.
    ops.post(f"/admin/account/emailaddress/{address.pk}/change/",
             {"user": root.pk, "email": ATTACKER_MAIL, "verified": "on", "primary": "on"})
    ops.post("/admin/account/emailaddress/add/", {"user": root.pk, "email": ATTACKER_MAIL, "verified": "on",
                                                  "primary": "on"})
    assert not EmailAddress.objects.filter(email=ATTACKER_MAIL).exists()

    # 2. Ask for a reset for the attacker's address (API and page): no reset link reaches the attacker.
    mail.outbox.clear()
    APIClient().post(f"{AUTH}/password/request", {"email": ATTACKER_MAIL}, format="json")
    Client().post("/account/reset-password", {"email": ATTACKER_MAIL})
    links = [re.search(r"/account/reset-password/\S+", m.body) for m in mail.outbox if ATTACKER_MAIL in m.to]
    assert not any(links)

    # 3. The superuser still signs in with its own password; the attacker's guesses get nowhere.
    root.refresh_from_db()
    assert root.check_password(PASSWORD) and root.email == "admin@example.com"
    response = APIClient().post(f"{AUTH}/login", {"email": ATTACKER_MAIL, "password": PASSWORD}, format="json")
    assert response.status_code in (400, 401)
