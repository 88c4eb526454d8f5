"""Where one payout line's time goes: payout_line_send run in this process over the lines of a real batch
(no Celery, no rate limit), against an in-process fake Stripe server, on a throwaway PostgreSQL database.

    .venv/bin/python -m bench.payouts_profile 200

Prints the SQL statements of one line, wall and CPU ms per line (the CPU includes the fake server's threads),
and the top of a cProfile by own time. Database: BENCH_DATABASE_URL's server, created and dropped here.
"""

import cProfile
import os
import pstats
import sys
import time
from urllib.parse import urlparse

import bench.payouts as bp

DB_NAME = "bench_payouts_profile"


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    server_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    bp.DB_NAME = DB_NAME
    sys.path.insert(0, str(bp.ROOT))
    from payments.fakestripe import FakeStripeServer

    server = FakeStripeServer("127.0.0.1", 0).start()
    os.environ.update({
        "DATABASE_URL": urlparse(server_url)._replace(path=f"/{DB_NAME}").geturl(),
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"), "DEBUG": "1",
        "STRIPE_API_BASE": server.url, "STRIPE_SECRET_KEY": "sk_test_bench", "PAYMENTS_STRIPE_RATE_LIMIT": "0",
        "LOG_LEVEL": "WARNING", "DJANGO_SETTINGS_MODULE": "marketplace.settings"})
    bp._recreate_db(server_url)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from payments.models import PayoutBatch, PayoutLine
    from payments.services import payout_batch_approve, payout_batch_create
    from payments.services.payout_lines import payout_line_send

    try:
        call_command("migrate", verbosity=0)
        fin1, fin2 = bp.seed(n, server)
        batch = payout_batch_create(actor_id=fin1, cutoff=timezone.now(), minimum_cents=1)
        payout_batch_approve(batch_id=batch.pk, actor_id=fin2)
        PayoutBatch.objects.filter(pk=batch.pk).update(status=PayoutBatch.Status.EXECUTING)  # no dispatch job
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        ids = list(PayoutLine.objects.filter(batch=batch).order_by("pk").values_list("pk", flat=True))
        with CaptureQueriesContext(connection) as queries:
            payout_line_send(line_id=ids[0])
        print(f"{len(queries.captured_queries)} statements for one line:")
        for query in queries.captured_queries:
            print(f"  {query['time']}  {query['sql'][:140]}")
        profile = cProfile.Profile()
        wall, cpu = time.perf_counter(), time.process_time()
        profile.enable()
        for line_id in ids[1:]:
            payout_line_send(line_id=line_id)
        profile.disable()
        wall, cpu, count = time.perf_counter() - wall, time.process_time() - cpu, len(ids) - 1
        print(f"{count} lines: {wall / count * 1000:.1f} ms wall, {cpu / count * 1000:.1f} ms CPU per line; "
              f"batch {PayoutBatch.objects.get(pk=batch.pk).status}; load {os.getloadavg()[0]:.1f}")
        pstats.Stats(profile).sort_stats("tottime").print_stats(20)
    finally:
        connections.close_all()
        bp._recreate_db(server_url, drop_only=True)
        server.stop()


if __name__ == "__main__":
    main()
