"""Idempotent demo data for `make run`: staff logins (admin, ops, finance), then whatever each app
adds through its own `seed_demo` hook (marketplace.demo)."""

import os

from django.core.management.base import BaseCommand

from marketplace import demo


class Command(BaseCommand):
    help = "Create (or refresh) demo accounts and data; safe to run any number of times."

    def handle(self, *args, **options):
        lines = demo.seed()
        base = f"http://{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
        self.stdout.write(self.style.SUCCESS("\nLabeling marketplace: embedded demo ready"))
        self.stdout.write(f"  API docs      {base}/api/docs/")
        self.stdout.write(f"  Admin         {base}/admin/")
        self.stdout.write(f"  Health        {base}/healthz")
        self.stdout.write("  Mail outbox   var/mail/ (verification links for new sign-ups)")
        for line in lines:
            self.stdout.write(f"  {line}")
        self.stdout.write("  Simulate a day (in another terminal, while this runs):")
        self.stdout.write("      DEBUG=1 STRIPE_API_BASE=http://127.0.0.1:12111 "
                          ".venv/bin/python manage.py simulate --report-dir var/sim")
        self.stdout.write("")
