"""Clients (task sources) and their API keys, callback URL and webhook secret."""

import secrets

from django.db import transaction

from marketplace.errors import NotFound, ValidationFailed
from tasks.models import Client, ClientAPIKey


def client_create(*, name: str) -> Client:
    """Create a client organization (ops only: admin or `manage.py create_client_key`)."""
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("A client needs a name.", fields={"name": ["must not be blank"]})
    if Client.objects.filter(name=name).exists():
        raise ValidationFailed(f"A client named {name!r} exists.", fields={"name": ["already exists"]})
    return Client.objects.create(name=name)


@transaction.atomic
def client_api_key_create(*, client: Client, name: str = "default") -> tuple[ClientAPIKey, str]:
    """A new API key for the client. Returns (row, plain key); only the hash is stored, so the plain key
    must be shown to the person now and never again."""
    return ClientAPIKey.objects.create_key(client=client, name=(name or "default")[:50])


@transaction.atomic
def client_api_key_revoke(*, key_id: str) -> None:
    """Revoke a key (irreversible); the next request with it is answered 401. Idempotent."""
    updated = ClientAPIKey.objects.filter(pk=key_id).update(revoked=True)
    if not updated:
        raise NotFound("No such API key.")


@transaction.atomic
def client_webhook_secret_rotate(*, client_id: int) -> str:
    """Replace the client's webhook signing secret; returns the new secret (shown once). Deliveries
    signed from now on use it."""
    secret = "whsec_" + secrets.token_hex(24)
    Client.objects.filter(pk=client_id).update(webhook_secret=secret)
    return secret


@transaction.atomic
def client_callback_set(*, client_id: int, callback_url: str) -> tuple[Client, str | None]:
    """Set (or clear, with "") the client's callback URL. The URL must be http(s) and, unless
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS, resolve only to public addresses (checked again before every
    delivery, since DNS can change). Returns (client, new secret or None): registering a URL where
    none was set issues a fresh secret, so the client gets it in the same answer."""
    from tasks.services.webhooks import callback_url_check

    client = Client.objects.select_for_update().get(pk=client_id)
    url = (callback_url or "").strip()
    if url:
        callback_url_check(url, field="callback_url")
    new_secret = None
    if url and not client.callback_url:
        new_secret = "whsec_" + secrets.token_hex(24)
        client.webhook_secret = new_secret
    client.callback_url = url
    client.save(update_fields=["callback_url", "webhook_secret"])
    return client, new_secret
