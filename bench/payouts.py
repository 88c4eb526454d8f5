"""Payout throughput: one big batch paid through the whole pipeline against the fake Stripe server.

    .venv/bin/python -m bench.payouts --lines 10000 --concurrency 4 --rate-limit 100

Phases, in one run:
  1. baseline: the same number of transfers (capped by --baseline) created directly with the Stripe SDK
     against the fake server from --concurrency threads, no database, no Celery, no rate limit: the ceiling
     of the fake server and the SDK on this machine;
  2. pipeline: --lines workers with balances and payouts enabled; payout_batch_create (reserve), approve,
     execute; real Celery workers (prefork, --concurrency processes) on Redis send one transfer per line
     with our rate limiter (PAYMENTS_STRIPE_RATE_LIMIT, shared through Redis) while the fake server also
     enforces --rate-limit requests/s with 429s (as Stripe does), which the jobs back off from.
Prints transfers/s for both, 429s seen, and duplicates (lines with more than one transfer: must be 0).
A throwaway database is created on BENCH_DATABASE_URL's server (default postgres://postgres@127.0.0.1:5432/
postgres) and dropped at the end; Redis at BENCH_REDIS_URL (default redis://127.0.0.1:6379/14).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

from bench.throwaway_db import recreate_db

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "bench_payouts"


def _recreate_db(server_url: str, drop_only: bool = False) -> None:
    recreate_db(server_url, DB_NAME, drop_only=drop_only)


def baseline(server, n: int, threads: int) -> float:
    """Raw transfer creation: SDK -> fake server, no pipeline. Returns transfers/s."""
    import stripe

    state = server.stripe
    with state.lock:
        state.accounts["acct_baseline"] = {"id": "acct_baseline", "payouts_enabled": True,
                                           "capabilities": {"transfers": "active"}}
    client = stripe.StripeClient("sk_test_bench", base_addresses={"api": server.url}, max_network_retries=0,
                                 http_client=stripe.RequestsClient(timeout=30))
    per_thread = n // threads

    def run(t: int) -> None:
        for i in range(per_thread):
            client.v1.transfers.create(params={"amount": 1, "currency": "usd", "destination": "acct_baseline",
                                               "transfer_group": "baseline", "metadata": {"i": str(i)}},
                                       options={"idempotency_key": f"baseline-{t}-{i}"})

    start = time.perf_counter()
    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return per_thread * threads / (time.perf_counter() - start)


def throttled(server, n: int, threads: int, rate: float) -> tuple[float, int]:
    """The SDK through our rate limiter (payments.stripe_api.stripe_throttle, counted in Redis) against the
    fake server enforcing `rate` with 429s, retrying 429s with backoff: does the limiter sustain the rate?"""
    import random

    import stripe
    from django.core.cache import cache

    from payments.stripe_api import stripe_throttle

    cache.clear()
    server.stripe.configure({"rate_limit": rate})
    with server.stripe.lock:
        server.stripe.stats["rate_limited"] = 0
    client = stripe.StripeClient("sk_test_bench", base_addresses={"api": server.url}, max_network_retries=0,
                                 http_client=stripe.RequestsClient(timeout=30))
    per_thread = n // threads

    def run(t: int) -> None:
        for i in range(per_thread):
            for attempt in range(20):
                stripe_throttle()
                try:
                    client.v1.transfers.create(params={"amount": 1, "currency": "usd", "destination": "acct_baseline",
                                                       "transfer_group": "throttled"},
                                               options={"idempotency_key": f"throttled-{t}-{i}"})
                    break
                except stripe.RateLimitError:
                    time.sleep(min(2.0, 0.05 * 2 ** attempt) * random.uniform(0.5, 1))

    start = time.perf_counter()
    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    server.stripe.configure({"rate_limit": 0})
    return per_thread * threads / elapsed, server.stripe.stats["rate_limited"]


def seed(n_lines: int, server) -> tuple[int, int]:
    """n workers owed 100..(100+n%500) cents each, payouts enabled on both sides. Returns (finance1, finance2)."""
    from django.contrib.auth.models import Group

    from marketplace.models import User
    from payments.lock_objects import ledger_accounts_lock
    from payments.models import LedgerAccount, StripeAccount
    from payments.services.ledger import ledger_account_get, ledger_post_many

    users = User.objects.bulk_create([User(email=f"payee{i}@example.com", password="!") for i in range(n_lines)],
                                     batch_size=2000)
    StripeAccount.objects.bulk_create([StripeAccount(user=u, stripe_id=f"acct_bench{u.pk}", payouts_enabled=True,
                                                     details_submitted=True) for u in users], batch_size=2000)
    funding = ledger_account_get(kind="platform_funding", currency="usd")
    LedgerAccount.objects.bulk_create([LedgerAccount(kind="worker_payable", worker=u, currency="usd") for u in users],
                                      batch_size=2000)
    payable = dict(LedgerAccount.objects.filter(kind="worker_payable").values_list("worker_id", "pk"))
    from django.db import transaction

    with transaction.atomic():
        locked = ledger_accounts_lock(account_ids=[funding.pk, *payable.values()])
        ledger_post_many(locked=locked, postings=[
            {"kind": "bonus", "source_ref": f"bench-seed-{u.pk}", "debit": funding.pk, "credit": payable[u.pk],
             "amount_cents": 100 + u.pk % 500} for u in users])
    with server.stripe.lock:
        for u in users:
            server.stripe.accounts[f"acct_bench{u.pk}"] = {"id": f"acct_bench{u.pk}", "payouts_enabled": True,
                                                           "capabilities": {"transfers": "active"}}
    finance = [User.objects.create_user(email=f"fin{i}@example.com", password="x" * 12) for i in (1, 2)]
    for user in finance:
        user.groups.add(Group.objects.get(name="finance"))
    return finance[0].pk, finance[1].pk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=4, help="Celery worker processes (and baseline threads)")
    parser.add_argument("--rate-limit", type=float, default=100, help="requests/s: ours and the fake server's")
    parser.add_argument("--baseline", type=int, default=3000, help="transfers in the baseline phase")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()

    server_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    parsed = urlparse(server_url)
    db_url = parsed._replace(path=f"/{DB_NAME}").geturl()
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    sys.path.insert(0, str(ROOT))
    from payments.fakestripe import FakeStripeServer

    server = FakeStripeServer("127.0.0.1", 0).start()
    env = {"DATABASE_URL": db_url, "REDIS_URL": redis_url, "CELERY_QUEUE": f"bench-payouts-{os.getpid()}",
           "DEBUG": "1", "STRIPE_API_BASE": server.url, "STRIPE_SECRET_KEY": "sk_test_bench",
           "PAYMENTS_STRIPE_RATE_LIMIT": str(args.rate_limit), "LOG_LEVEL": "WARNING",
           "DJANGO_SETTINGS_MODULE": "marketplace.settings", "PYTHONPATH": str(ROOT)}
    os.environ.update(env)

    print(f"baseline: {args.baseline} transfers, SDK -> fake server, {args.concurrency} threads, no limit ...")
    base_rate = baseline(server, args.baseline, args.concurrency)
    print(f"  baseline        {base_rate:8.1f} transfers/s")

    _recreate_db(server_url)
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    print(f"limiter: {args.baseline} transfers through stripe_throttle at {args.rate_limit:.0f}/s, fake server "
          f"enforcing {args.rate_limit:.0f}/s ...")
    limited_rate, limited_429 = throttled(server, args.baseline, args.concurrency, args.rate_limit)
    print(f"  limiter         {limited_rate:8.1f} transfers/s, {limited_429} answers 429 (retried)")
    from payments.models import PayoutBatch, PayoutLine
    from payments.services import payout_batch_approve, payout_batch_create, payout_batch_execute

    workers = []
    try:
        t0 = time.perf_counter()
        fin1, fin2 = seed(args.lines, server)
        print(f"seeded {args.lines} payees in {time.perf_counter() - t0:.1f}s")
        with server.stripe.lock:
            server.stripe.transfers.clear()
            server.stripe.transfer_order.clear()
            server.stripe.stats.update(requests=0, rate_limited=0, replayed=0)
        server.stripe.configure({"rate_limit": args.rate_limit})
        cache.clear()

        from django.utils import timezone

        t0 = time.perf_counter()
        batch = payout_batch_create(actor_id=fin1, cutoff=timezone.now(), minimum_cents=1)
        create_s = time.perf_counter() - t0
        n = PayoutLine.objects.filter(batch=batch).count()
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")  # plans made on freshly filled tables stay bad (NOTES.md)
        print(f"payout_batch_create: {n} lines reserved in {create_s:.1f}s ({n / create_s:.0f} lines/s)")
        payout_batch_approve(batch_id=batch.pk, actor_id=fin2)

        logdir = Path(tempfile.mkdtemp(prefix="bench-payouts-"))
        cmd = [sys.executable, "-m", "celery", "-A", "marketplace", "worker", "-Q", env["CELERY_QUEUE"], "-c",
               str(args.concurrency), "--pool", "prefork", "-l", "warning", "--without-gossip", "--without-mingle",
               "-n", f"bench-{os.getpid()}@%h"]
        log = open(logdir / "worker.log", "w")  # noqa: SIM115 - closed below
        workers.append(subprocess.Popen(cmd, cwd=ROOT, env={**os.environ}, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True))
        time.sleep(3)  # let the worker connect before the clock starts
        start = time.perf_counter()
        payout_batch_execute(batch_id=batch.pk, actor_id=fin1)  # on_commit outside atomic: enqueued now
        last_report, deadline = start, start + args.timeout
        while time.perf_counter() < deadline:
            time.sleep(1)
            status = PayoutBatch.objects.get(pk=batch.pk).status
            if time.perf_counter() - last_report >= 10:
                done = len(server.stripe.transfer_order)
                print(f"  {time.perf_counter() - start:6.0f}s  {done} transfers  "
                      f"({done / (time.perf_counter() - start):.1f}/s, 429s so far {server.stripe.stats['rate_limited']})")
                last_report = time.perf_counter()
            if status != "executing":
                break
        elapsed = time.perf_counter() - start
        transfers = [server.stripe.transfers[t] for t in server.stripe.transfer_order]
        per_line = Counter(t["metadata"]["payout_line_id"] for t in transfers)
        duplicates = sum(1 for c in per_line.values() if c > 1)
        paid = PayoutLine.objects.filter(batch=batch, status="paid").count()
        print(f"pipeline: batch {PayoutBatch.objects.get(pk=batch.pk).status}, {paid}/{n} lines paid, "
              f"{len(transfers)} transfers in {elapsed:.1f}s")
        target = (f"target: sustain {args.rate_limit:.0f}/s" if args.rate_limit > 0
                  else "no rate limit: the pipeline's own capacity")
        print(f"  pipeline        {len(transfers) / elapsed:8.1f} transfers/s  ({target})")
        print(f"  baseline        {base_rate:8.1f} transfers/s  (SDK -> fake server, no pipeline, no limit)")
        print(f"  limiter alone   {limited_rate:8.1f} transfers/s  (SDK + our limiter, fake server limiting: "
              f"{limited_429} 429s)")
        print(f"  429 answers     {server.stripe.stats['rate_limited']}")
        print(f"  duplicates      {duplicates}  (lines with more than one transfer; must be 0)")
        print(f"  Stripe requests {server.stripe.stats['requests']} for {n} lines")
    finally:
        for proc in workers:
            import signal

            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
        from django.db import connections

        connections.close_all()
        _recreate_db(server_url, drop_only=True)
        server.stop()


if __name__ == "__main__":
    main()
