"""`manage.py outbox_relay`: publish outbox events to the Celery broker (marketplace.outbox). Run one
beside the Celery workers (Procfile.dev, docker-compose); more than one is safe on PostgreSQL."""

import logging
import signal
import threading

from django.core.management.base import BaseCommand

from marketplace.outbox import outbox_drain, outbox_relay_forever


class Command(BaseCommand):
    help = "Publish committed outbox events to the Celery broker (runs until stopped; --once drains and exits)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Publish what is pending, then exit.")
        parser.add_argument("--poll", type=float, default=None,
                            help="Seconds between scans when nothing wakes the relay (default OUTBOX_POLL_SECONDS).")

    def handle(self, *args, once=False, poll=None, **options):
        if once:
            self.stdout.write(f"published {outbox_drain()} events")
            return
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        logging.getLogger(__name__).info("outbox relay started")
        self.stdout.write("outbox relay ready.")
        self.stdout.flush()
        outbox_relay_forever(stop=stop, poll_seconds=poll)
