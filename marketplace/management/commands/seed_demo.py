"""Idempotent demo data for `make run`: staff logins (admin, ops, finance), then whatever each app
adds through its own `seed_demo` hook (marketplace.demo)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from marketplace import demo


class Command(BaseCommand):
    help = "Create (or refresh) demo accounts and data; safe to run any number of times."

    def handle(self, *args, **options):
        lines = demo.seed()
        base = settings.PUBLIC_BASE_URL  # follows PORT under `make run` (var/local.env)
        self.stdout.write(self.style.SUCCESS("\nLabeling marketplace: embedded demo ready"))
        self.stdout.write(f"  Workers' app  {base}/  (sign up at {base}/accounts/signup/)")
        self.stdout.write(f"  API docs      {base}/api/docs/")
        self.stdout.write(f"  Admin         {base}/admin/")
        self.stdout.write(f"  Health        {base}/healthz")
        self.stdout.write(f"  Mail outbox   {settings.EMAIL_FILE_PATH}/ (verification links for new sign-ups)")
        for line in lines:
            self.stdout.write(f"  {line}")
        self.stdout.write("  Simulate a day (in another terminal, while this runs):")
        self.stdout.write("      .venv/bin/python manage.py simulate --report-dir var/sim")
        self.stdout.write("")
