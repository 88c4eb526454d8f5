"""manage.py create_client_key "<client name>": create the client if needed and print a new API key once."""

from django.core.management.base import BaseCommand

from tasks.models import Client
from tasks.services.clients import client_api_key_create


class Command(BaseCommand):
    help = "Create an API key for a client (created if missing). The key is printed once; only its hash is stored."

    def add_arguments(self, parser):
        parser.add_argument("client", help="Client (organization) name.")
        parser.add_argument("--key-name", default="default", help="A label for the key (50 characters).")

    def handle(self, *args, client, key_name, **options):
        row, created = Client.objects.get_or_create(name=client.strip())
        key_row, key = client_api_key_create(client=row, name=key_name)
        if created:
            self.stderr.write(f"created client {row.name!r} (id {row.pk})")
        self.stderr.write(f"key {key_row.prefix}… for {row.name!r}; store it now, it is not shown again:")
        self.stdout.write(key)
