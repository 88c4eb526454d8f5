"""Idempotent demo data for `make run`: staff logins (admin, ops, finance, marketplace.demo), then each
app's own demo data (<app>/demo.py, seed() -> lines to print). It lives in simulation/, which stands above
every app, because it reaches into all of them."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from marketplace import demo as marketplace_demo
from payments import demo as payments_demo
from tasks import demo as tasks_demo
from workers import demo as workers_demo


def seed() -> list[str]:
    lines = marketplace_demo.seed_staff()
    for app_demo in (workers_demo, tasks_demo, payments_demo):
        lines.extend(app_demo.seed())
    return lines


class Command(BaseCommand):
    help = "Create (or refresh) demo accounts and data; safe to run any number of times."

    def add_arguments(self, parser):
        parser.add_argument("--allow-production", action="store_true",
                            help="seed even with DEBUG=0 (docker compose with SEED_DEMO=1): a stack nobody else reaches")

    def handle(self, *args, **options):
        # The demo logins have public passwords (admin@example.com is a superuser): never in production by accident.
        if not settings.DEBUG and not options["allow_production"]:
            raise CommandError("seed_demo refuses to run with DEBUG=0: it creates admin@example.com and other logins "
                               "whose password is public. For a local stack nobody else can reach, pass "
                               "--allow-production (docker compose: SEED_DEMO=1 in .env).")
        lines = seed()
        base = settings.PUBLIC_BASE_URL  # follows PORT under `make run` (var/local.env)
        self.stdout.write(self.style.SUCCESS("\nLabeling marketplace: embedded demo ready"))
        self.stdout.write(f"  Workers' app  {base}/  (sign up at {base}/accounts/signup/)")
        self.stdout.write(f"  API docs      {base}/api/docs/")
        self.stdout.write(f"  Admin         {base}/admin/")
        self.stdout.write(f"  Health        {base}/healthz")
        self.stdout.write(f"  Mail outbox   {settings.EMAIL_FILE_PATH}/ (verification links for new sign-ups)")
        for line in lines:
            self.stdout.write(f"  {line}")
        # The day needs the server on its compressed clock with allauth's limits off (simulate refuses otherwise).
        self.stdout.write("  Simulate a day: start this stack with ACCOUNT_RATE_LIMITS_OFF=1 QUEUE_TIME_SCALE=300 make run,")
        self.stdout.write("  then in another terminal, while it runs:")
        self.stdout.write("      MARKETPLACE_DEV=1 ACCOUNT_RATE_LIMITS_OFF=1 QUEUE_TIME_SCALE=300 .venv/bin/python manage.py simulate "
                          "--report-dir var/sim")
        self.stdout.write("")
