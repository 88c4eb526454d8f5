"""The transactional outbox (marketplace.outbox): rows of the writer's transaction, published by the relay
once the broker answers, published again when a job never finished, never twice at once by two relays."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from marketplace import outbox
from marketplace.celery import app as celery_app
from marketplace.models import OutboxEvent
from tests.marketplace.fault_support import reset_broker_connections


@pytest.fixture
def published(monkeypatch):
    """Records what the relay publishes instead of sending it (the broker is tested in test_faults)."""
    sent = []

    def send_task(name, args=None, task_id=None, retry=True, **kw):
        sent.append((name, tuple(args or ()), task_id))

    monkeypatch.setattr(celery_app, "send_task", send_task)
    return sent


@pytest.mark.django_db
def test_an_event_exists_only_if_its_transaction_committed():
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        outbox.outbox_enqueue("marketplace.jobs.heartbeat", "rolled-back")
        raise Boom
    assert not OutboxEvent.objects.exists()
    with transaction.atomic():
        outbox.outbox_enqueue_many([("marketplace.jobs.heartbeat", ("a",)), ("marketplace.jobs.heartbeat", ("b",))])
    assert list(OutboxEvent.objects.values_list("args", "sent_at", "publishes")) == [(["a"], None, 0), (["b"], None, 0)]


@pytest.mark.django_db
@pytest.mark.redis
def test_broker_down_holds_events_and_they_go_out_when_it_answers(monkeypatch):
    outbox.outbox_enqueue("marketplace.jobs.heartbeat", "held")
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")  # refuses connections
    reset_broker_connections()
    try:
        with pytest.raises(outbox.BrokerUnavailable):
            outbox.outbox_relay_once()
    finally:
        monkeypatch.undo()
        reset_broker_connections()
    event = OutboxEvent.objects.get()
    assert event.sent_at is None and event.publishes == 0  # held, not lost, not marked
    assert outbox.outbox_relay_once() == 1  # the broker answers again: published
    event.refresh_from_db()
    assert event.sent_at is not None and event.publishes == 1 and event.done_at is None


@pytest.mark.django_db
def test_published_under_its_own_task_id_and_done_only_when_its_job_finished(published, settings):
    outbox.outbox_enqueue("marketplace.jobs.heartbeat", "x")
    event = OutboxEvent.objects.get()
    assert outbox.outbox_drain() == 1 and published == [("marketplace.jobs.heartbeat", ("x",), f"outbox-{event.pk}")]
    assert outbox.outbox_drain() == 0  # sent, in flight: not again before OUTBOX_REDELIVER_SECONDS
    OutboxEvent.objects.filter(pk=event.pk).update(sent_at=timezone.now() - timedelta(seconds=3600))
    assert outbox.outbox_drain() == 1  # sent an hour ago and never finished: lost on the way, published again
    outbox.outbox_job_done(task_id="some-other-task")  # not ours: nothing
    outbox.outbox_job_done(task_id=f"outbox-{event.pk}")
    event.refresh_from_db()
    assert event.done_at is not None and event.publishes == 2
    OutboxEvent.objects.filter(pk=event.pk).update(sent_at=timezone.now() - timedelta(seconds=3600))
    assert outbox.outbox_drain() == 0  # done: never again


@pytest.mark.django_db
def test_a_job_that_never_finishes_is_published_at_most_max_times(published, settings):
    settings.OUTBOX_MAX_PUBLISHES = 3
    outbox.outbox_enqueue("marketplace.jobs.heartbeat", "poison")
    for _ in range(5):
        outbox.outbox_drain()
        OutboxEvent.objects.update(sent_at=timezone.now() - timedelta(seconds=3600))
    assert len(published) == 3
    event = OutboxEvent.objects.get()
    assert event.done_at is not None and event.publishes == 3  # given up (logged), out of the relay's scan


@pytest.mark.django_db
def test_prune_deletes_only_old_finished_events():
    now = timezone.now()
    old = now - timedelta(days=2)
    OutboxEvent.objects.bulk_create([
        OutboxEvent(job="j", args=[1], sent_at=old, done_at=old, publishes=1),  # old, done: pruned
        OutboxEvent(job="j", args=[2], sent_at=old, publishes=1),  # old, never finished: kept
        OutboxEvent(job="j", args=[3], sent_at=now, done_at=now, publishes=1),  # recent: kept
        OutboxEvent(job="j", args=[4]),  # waiting: kept
    ])
    assert outbox.outbox_prune() == 1
    assert sorted(a[0] for a in OutboxEvent.objects.values_list("args", flat=True)) == [2, 3, 4]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_relays_at_once_publish_each_event_once(monkeypatch):
    """FOR UPDATE SKIP LOCKED: two relays (threads with their own connections) share the backlog."""
    from django.db import connection

    sent = []
    lock = threading.Lock()

    def send_task(name, args=None, task_id=None, retry=True, **kw):
        time.sleep(0.001)  # a broker round trip, so the relays overlap
        with lock:
            sent.append(task_id)

    monkeypatch.setattr(celery_app, "send_task", send_task)
    outbox.outbox_enqueue_many([("marketplace.jobs.heartbeat", (i,)) for i in range(300)])
    counts = []

    def relay():
        try:
            counts.append(outbox.outbox_drain(limit=20))
        finally:
            connection.close()

    threads = [threading.Thread(target=relay) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts) == 300 and len(sent) == 300 and len(set(sent)) == 300
    assert not OutboxEvent.objects.filter(sent_at__isnull=True).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_commit_wakes_the_relay_through_notify(published):
    """On PostgreSQL the INSERT carries a NOTIFY: the listening relay wakes at the commit, not at its poll."""
    listener = outbox._Listener()
    listener.wait(0)  # connects and LISTENs
    try:
        woke = []
        waiter = threading.Thread(target=lambda: (listener.wait(30), woke.append(time.monotonic())))
        waiter.start()
        time.sleep(0.3)
        committed = time.monotonic()
        outbox.outbox_enqueue("marketplace.jobs.heartbeat", "wake")  # autocommit: commits now
        waiter.join(timeout=10)
        assert woke and woke[0] - committed < 5  # well before the 30 s timeout
    finally:
        listener.close()


def test_the_redis_cache_fails_soft_when_redis_is_down():
    """With Redis down, cache reads miss and writes are skipped (rate limits fail open), never a 500."""
    from marketplace.cache import ResilientRedisCache

    cache = ResilientRedisCache("redis://127.0.0.1:1/0", {"OPTIONS": {"socket_connect_timeout": 0.5}})
    assert cache.get("k", "default") == "default" and cache.get_many(["k"]) == {}
    cache.set("k", 1)
    # add() answers "added": allauth's counting lock must not turn the outage into a 429 for everyone.
    assert cache.add("k", 1, 5) is True and cache.delete("k") is False and not cache.has_key("k")
    with pytest.raises(ValueError):  # as for a missing key: callers start a new count
        cache.incr("k")


@pytest.mark.redis
def test_the_redis_cache_works_as_usual_when_redis_is_up():
    from django.conf import settings

    from marketplace.cache import ResilientRedisCache

    cache = ResilientRedisCache(settings.REDIS_URL, {"KEY_PREFIX": "outbox-cache-test"})
    cache.set("k", 41, 30)
    assert cache.get("k") == 41 and cache.incr("k") == 42 and cache.add("k", 0) is False
    cache.delete("k")
    assert cache.get("k") is None
