"""Pay follows evidence (issue 20): credits start pending, clear on the worker's quality evidence or on the
clock, flags hold or reverse them in the ledger, the worker sees why, and finance pays payable money only.
Through every path the ledger stays exactly-once and sums to zero, also under real threads on PostgreSQL."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from payments.models import EarningsClearance, EarningsHold, LedgerAccount, LedgerEntry, LedgerTransaction, PayoutLine
from payments.selectors import platform_funding_balance
from payments.services import earnings_credit_judgment, earnings_hold, earnings_hold_forfeit, earnings_hold_release
from payments.services.clearance import (
    agreement_floor,
    consensus_accuracy,
    earnings_clearance_review,
    pooled_lower_bound,
    worker_pay_verdicts,
)
from payments.services.payout_lines import payout_line_record_paid
from payments.services.payouts import payout_batch_create
from tests.conftest import make_user
from tests.payments.factories import assert_ledger_consistent, connect, make_judgment, make_project

Kind = LedgerAccount.Kind
pytestmark = pytest.mark.django_db


def balance(worker, kind, currency="usd") -> int:
    account = LedgerAccount.objects.filter(worker=worker, kind=kind, currency=currency).first()
    return account.balance_cents if account else 0


def standing(worker, project, *, status="good", gold_n=10, gold_correct=10, loo_n=30, loo_agreement=0.9,
             median_seconds=60.0, gold_share=None, pool_loo_agreement=None, random_log_lr=None):
    """The standing quality's recompute would store (quality.models.WorkerStanding)."""
    from quality.models import WorkerStanding

    WorkerStanding.objects.update_or_create(worker=worker, project=project, defaults={
        "status": status, "gold_n": gold_n, "gold_correct": gold_correct, "loo_n": loo_n,
        "loo_agreement": loo_agreement, "n_judgments": gold_n + loo_n, "median_seconds": median_seconds,
        "gold_share": gold_share, "pool_loo_agreement": pool_loo_agreement, "random_log_lr": random_log_lr,
        "computed_at": timezone.now()})


def submit(worker, project, n=1) -> list[int]:
    ids = []
    for _ in range(n):
        judgment = make_judgment(worker=worker, project=project)
        assert earnings_credit_judgment(judgment_id=judgment.pk) is True
        ids.append(judgment.pk)
    return ids


def assert_pending_is_the_queue(worker):
    """The pending balance is exactly the credits above the watermark (what a drain takes is what it moved)."""
    clearance = EarningsClearance.objects.get(worker=worker)
    for account in LedgerAccount.objects.filter(worker=worker, kind=Kind.WORKER_PENDING):
        above = (LedgerEntry.objects.filter(account=account, amount_cents__gt=0,
                                            id__gt=clearance.drained_through_entry_id)
                 .aggregate(t=Sum("amount_cents"))["t"] or 0)
        assert account.balance_cents == above, (account.balance_cents, above)


def test_a_new_workers_credit_waits_and_evidence_clears_it_then_later_credits_are_payable_at_once():
    worker, project = make_user("new@example.com"), make_project(reward_cents=40)
    submit(worker, project, 3)
    assert balance(worker, Kind.WORKER_PENDING) == 120 and balance(worker, Kind.WORKER_PAYABLE) == 0

    standing(worker, project, gold_n=2)  # too little gold: not yet
    assert earnings_clearance_review(worker_ids=[worker.pk]) == {}
    assert balance(worker, Kind.WORKER_PENDING) == 120

    standing(worker, project)
    assert earnings_clearance_review(worker_ids=[worker.pk]) == {worker.pk: {"usd": 120}}
    assert earnings_clearance_review(worker_ids=[worker.pk]) == {}  # idempotent
    assert balance(worker, Kind.WORKER_PENDING) == 0 and balance(worker, Kind.WORKER_PAYABLE) == 120
    clearance = EarningsClearance.objects.get(worker=worker)
    assert (clearance.status, clearance.reason) == ("cleared", "evidence")
    txn = LedgerTransaction.objects.get(kind="clearance")
    assert "evidence" in txn.memo  # the reason is in the ledger

    submit(worker, project, 2)
    assert balance(worker, Kind.WORKER_PAYABLE) == 200 and balance(worker, Kind.WORKER_PENDING) == 0
    assert_pending_is_the_queue(worker)
    assert_ledger_consistent()


def test_doubt_reopens_pending_and_the_clock_never_clears_under_doubt(settings):
    settings.PAY_CLEARANCE_WAIT_SECONDS = 3600
    worker, project = make_user("doubt@example.com"), make_project(reward_cents=40)
    standing(worker, project)
    submit(worker, project)
    earnings_clearance_review(worker_ids=[worker.pk])
    assert balance(worker, Kind.WORKER_PAYABLE) == 40

    standing(worker, project, status="flagged")
    earnings_clearance_review(worker_ids=[worker.pk])
    assert EarningsClearance.objects.get(worker=worker).reason == "doubt"
    submit(worker, project, 2)
    assert balance(worker, Kind.WORKER_PENDING) == 80
    # Days later, still in doubt: nothing moves.
    assert earnings_clearance_review(worker_ids=[worker.pk], now=timezone.now() + timedelta(days=3)) == {}
    assert balance(worker, Kind.WORKER_PENDING) == 80
    assert_ledger_consistent()


def test_the_clock_clears_old_credits_of_an_unproven_worker_only(settings):
    settings.PAY_CLEARANCE_WAIT_SECONDS = 3600
    worker, project = make_user("clock@example.com"), make_project(reward_cents=40)
    submit(worker, project, 2)
    assert earnings_clearance_review(worker_ids=[worker.pk]) == {}  # too young
    submit(worker, project)
    later = timezone.now() + timedelta(seconds=3601)
    assert earnings_clearance_review(worker_ids=[worker.pk], now=later) == {worker.pk: {"usd": 120}}
    clearance = EarningsClearance.objects.get(worker=worker)
    assert clearance.status == "pending"  # the clock clears credits, never the worker
    submit(worker, project)
    assert balance(worker, Kind.WORKER_PENDING) == 40 and balance(worker, Kind.WORKER_PAYABLE) == 120
    assert LedgerTransaction.objects.get(kind="clearance").memo == "Cleared: waiting time over"
    assert_pending_is_the_queue(worker)
    assert_ledger_consistent()


def test_no_waiting_time_means_payable_at_once_unless_in_doubt(settings):
    settings.PAY_CLEARANCE_WAIT_SECONDS = 0
    worker, project = make_user("nowait@example.com"), make_project(reward_cents=40)
    submit(worker, project)
    assert balance(worker, Kind.WORKER_PAYABLE) == 40
    standing(worker, project, status="flagged")
    earnings_clearance_review(worker_ids=[worker.pk])
    submit(worker, project)
    assert balance(worker, Kind.WORKER_PENDING) == 40
    assert_ledger_consistent()


def test_a_flag_holds_pending_and_payable_and_release_or_forfeit_settle_both():
    worker, project = make_user("held@example.com"), make_project(reward_cents=40)
    standing(worker, project)
    submit(worker, project, 2)
    earnings_clearance_review(worker_ids=[worker.pk])  # 80 payable, cleared
    standing(worker, project, status="flagged")
    earnings_clearance_review(worker_ids=[worker.pk])
    ids = submit(worker, project, 3)  # 120 pending
    assert earnings_hold(worker_id=worker.pk, judgment_ids=ids, flag_id=901) == 120
    assert earnings_hold(worker_id=worker.pk, judgment_ids=ids, flag_id=901) == 120  # idempotent
    assert balance(worker, Kind.WORKER_HELD) == 120 and balance(worker, Kind.WORKER_PENDING) == 0
    assert balance(worker, Kind.WORKER_PAYABLE) == 80  # not this flag's judgments
    assert earnings_hold_release(flag_id=901) == 120
    assert balance(worker, Kind.WORKER_PAYABLE) == 200

    submit(worker, project, 2)
    all_ids = list(LedgerTransaction.objects.filter(kind="judgment_credit").values_list("source_ref", flat=True))
    assert earnings_hold(worker_id=worker.pk, judgment_ids=None, flag_id=902) == 280
    assert earnings_hold_forfeit(flag_id=902) == 280
    assert balance(worker, Kind.WORKER_HELD) == balance(worker, Kind.WORKER_PAYABLE) == 0
    assert -platform_funding_balance(currency="usd") == 0 and len(all_ids) == 7
    assert_pending_is_the_queue(worker)
    assert_ledger_consistent()


def test_a_flag_reverses_pending_when_configured(settings):
    settings.PAY_PENDING_ON_FLAG = "reverse"
    worker, project = make_user("rev@example.com"), make_project(reward_cents=40)
    ids = submit(worker, project, 3)
    earnings_hold(worker_id=worker.pk, judgment_ids=ids, flag_id=77)
    assert balance(worker, Kind.WORKER_PENDING) == 0 and balance(worker, Kind.WORKER_HELD) == 0
    reversal = LedgerTransaction.objects.get(kind="pending_reversal")
    assert reversal.source_ref == "flag:77:usd" and "quality flag 77" in reversal.memo
    assert -platform_funding_balance(currency="usd") == 0
    assert EarningsHold.objects.get(flag_id=77).amount_cents == 0
    assert EarningsClearance.objects.get(worker=worker).reason == "doubt"
    submit(worker, project)  # doubt reopened: new credits wait
    assert balance(worker, Kind.WORKER_PENDING) == 40
    assert_pending_is_the_queue(worker)
    assert_ledger_consistent()


def test_finance_batches_take_payable_money_only_and_pending_cleared_money_is_paid_once():
    finance = make_user("fin@example.com", groups=("finance",))
    paid, waiting = make_user("paid@example.com"), make_user("waiting@example.com")
    project = make_project(reward_cents=40)
    for worker in (paid, waiting):
        connect(worker)
        submit(worker, project, 2)
    standing(paid, project)
    earnings_clearance_review(worker_ids=[paid.pk, waiting.pk])
    batch = payout_batch_create(actor_id=finance.pk, cutoff=timezone.now(), minimum_cents=1)
    lines = list(PayoutLine.objects.filter(batch=batch))
    assert [(line.worker_id, line.amount_cents) for line in lines] == [(paid.pk, 80)]
    assert balance(waiting, Kind.WORKER_PENDING) == 80
    line = lines[0]
    transfer = {"id": "tr_1", "amount": 80, "currency": "usd", "destination": line.destination,
                "metadata": {"payout_line_id": str(line.pk)}, "transfer_group": batch.transfer_group,
                "amount_reversed": 0}
    assert payout_line_record_paid(line_id=line.pk, transfer=transfer) is True
    assert payout_line_record_paid(line_id=line.pk, transfer=transfer) is False
    assert balance(paid, Kind.PAID_OUT) == 80
    assert_ledger_consistent()


def test_the_worker_sees_pending_apart_with_fixed_words_that_say_nothing_of_gold(person, settings):
    settings.PAY_CLEARANCE_WAIT_SECONDS = 3600
    ada = person("ada-pending@example.com")
    project = make_project(reward_cents=40)
    submit(ada.user, project, 2)
    body = ada.get("/api/v1/me/earnings/").json()
    assert body["pending_clearance_cents"] == 80 and body["balance_cents"] == 0
    clearance = body["clearance"]
    assert clearance["status"] == "pending" and clearance["reason"] == "new"
    assert clearance["expected_clear_at"] is not None
    standing(ada.user, project, status="flagged")
    earnings_clearance_review(worker_ids=[ada.user.pk])
    clearance = ada.get("/api/v1/me/earnings/").json()["clearance"]
    assert clearance["reason"] == "doubt" and clearance["expected_clear_at"] is None
    standing(ada.user, project)
    earnings_clearance_review(worker_ids=[ada.user.pk])
    body = ada.get("/api/v1/me/earnings/").json()
    assert body["balance_cents"] == 80 and body["pending_clearance_cents"] == 0
    assert body["clearance"]["reason"] == "cleared"
    from payments.selectors import CLEARANCE_WORDS

    for words in CLEARANCE_WORDS.values():
        assert not any(secret in words.lower() for secret in ("gold", "score", "accuracy", "rule", "flag"))


def test_verdicts_need_evidence_above_the_floor_and_doubt_anywhere_wins():
    worker = make_user("v@example.com")
    a, b = make_project(), make_project()
    standing(worker, a, gold_n=10, gold_correct=5, loo_agreement=0.5)  # a random answerer's figures
    assert worker_pay_verdicts(worker_ids=[worker.pk]) == {worker.pk: "unproven"}
    standing(worker, b)
    assert worker_pay_verdicts(worker_ids=[worker.pk]) == {worker.pk: "evidence"}
    standing(worker, a, status="flagged")
    assert worker_pay_verdicts(worker_ids=[worker.pk]) == {worker.pk: "doubt"}
    n, lower = pooled_lower_bound(gold_n=8, gold_correct=6, loo_n=20, loo_agreement=0.5, z=1.0)
    assert n == 28 and lower < 0.6


def test_agreement_is_held_to_the_floor_in_agreement_units_of_the_projects_own_consensus():
    """A rater right 60% of the time agrees with a consensus right c of the time 0.6c + 0.4(1-c): the pooled
    floor holds gold to the floor and agreement to that (issue 20, seed 2 of the simulation)."""
    assert consensus_accuracy(None) is None and consensus_accuracy(0.5) == 0.5 and consensus_accuracy(0.3) == 0.5
    assert consensus_accuracy(1.0) == 1.0 and abs(consensus_accuracy(0.7) - 0.8162) < 1e-3
    assert agreement_floor(floor=0.6, pool_agreement=None) == 0.6
    assert agreement_floor(floor=0.6, pool_agreement=1.0) == 0.6  # a perfect consensus: agreement is accuracy
    assert agreement_floor(floor=0.6, pool_agreement=0.4) == 0.5  # a pool at chance: the floor is chance
    assert abs(agreement_floor(floor=0.6, pool_agreement=0.7) - 0.5632) < 1e-3
    project = make_project()
    honest, spammer, lone = (make_user(f"{n}@example.com") for n in ("honest", "spammer", "lone"))
    # 6/8 on gold and 0.6 agreement over 25: a lower bound of 0.59, under 0.6 but above the mapped 0.57.
    standing(honest, project, gold_n=8, gold_correct=6, loo_n=25, loo_agreement=0.6, pool_loo_agreement=0.7)
    standing(spammer, project, gold_n=8, gold_correct=4, loo_n=25, loo_agreement=0.5, pool_loo_agreement=0.7)
    standing(lone, project, gold_n=8, gold_correct=6, loo_n=25, loo_agreement=0.6)  # no pool figure: plain floor
    verdicts = worker_pay_verdicts(worker_ids=[honest.pk, spammer.pk, lone.pk])
    assert verdicts == {honest.pk: "evidence", spammer.pk: "unproven", lone.pk: "unproven"}


def test_doubt_is_a_flag_a_watched_random_test_or_a_hurried_pace_and_other_watches_are_not():
    project = make_project()
    project.gold_share = 0.2
    project.save(update_fields=["gold_share"])
    peers = [make_user(f"peer{i}@example.com") for i in range(4)]
    for peer in peers:
        standing(peer, project, median_seconds=60.0, random_log_lr=-5.0)
    watched, leaning, undecided, untested, hurried = (
        make_user(f"{n}@example.com") for n in ("watched", "leaning", "undecided", "untested", "hurried"))
    standing(watched, project, status="watch", random_log_lr=-5.0)
    # Quality watches them for random answering: past the rule's watch level (1.0; the share is adaptive
    # gold's, not what decides here).
    standing(leaning, project, random_log_lr=1.4, gold_share=0.2)
    # Not settled honest (adaptive gold still serves extra), short of the watch level: the evidence decides.
    standing(undecided, project, random_log_lr=0.6, gold_share=0.35)
    # A schema without the random test: adaptive gold's unsettled (agreement) test is the doubt.
    standing(untested, project, random_log_lr=None, gold_share=0.35)
    standing(hurried, project, median_seconds=30.0, random_log_lr=-5.0)  # half the project's pace
    verdicts = worker_pay_verdicts(worker_ids=[watched.pk, leaning.pk, undecided.pk, untested.pk, hurried.pk,
                                               peers[0].pk])
    assert verdicts == {watched.pk: "evidence", leaning.pk: "doubt", undecided.pk: "evidence", untested.pk: "doubt",
                        hurried.pk: "doubt", peers[0].pk: "evidence"}
    # The line follows the project's rules, or the setting.
    from django.test import override_settings

    from quality.models import ProjectQualityPolicy

    policy = ProjectQualityPolicy.objects.create(project=project, rules={"random": {"watch_log_lr": 2.0}})
    assert worker_pay_verdicts(worker_ids=[leaning.pk]) == {leaning.pk: "evidence"}
    policy.delete()
    with override_settings(PAY_CLEARANCE_DOUBT_LOG_LR=0.0):
        assert worker_pay_verdicts(worker_ids=[leaning.pk, undecided.pk]) == {leaning.pk: "doubt",
                                                                              undecided.pk: "doubt"}
    from quality.models import Flag

    Flag.objects.create(worker=watched, project=project, rule="random", status="confirmed", resolved_at=timezone.now())
    assert worker_pay_verdicts(worker_ids=[watched.pk]) == {watched.pk: "doubt"}  # confirmed: doubt for good


def _threads(targets):
    errors = []

    def run(fn):
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - inspected by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(fn,)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_submits_and_clearing_runs_credit_once_and_lose_nothing():
    """Credits and clearing runs of the same workers at once (real threads, PostgreSQL): every judgment is
    credited exactly once, the pending account is exactly the queue above the watermark (no credit slipped
    in behind a run), and after the last run a cleared worker has nothing pending."""
    workers = [make_user(f"race{i}@example.com") for i in range(3)]
    project = make_project(reward_cents=40)
    judgments = {w.pk: [make_judgment(worker=w, project=project).pk for _ in range(12)] for w in workers}
    for w in workers:
        standing(w, project)

    def credits(worker_id, half):
        def go():
            for jid in judgments[worker_id][half::2]:
                earnings_credit_judgment(judgment_id=jid)
                earnings_credit_judgment(judgment_id=jid)  # a retry: never twice
        return go

    def runs():
        for _ in range(8):
            earnings_clearance_review(worker_ids=[w.pk for w in workers])

    def doubt_comes_and_goes():
        # Doubt reopens (new credits wait), evidence clears them again: many drains while credits are in flight.
        for i in range(16):
            for w in workers:
                standing(w, project, status="flagged" if i % 2 == 0 else "good")
            earnings_clearance_review(worker_ids=[w.pk for w in workers])
        for w in workers:
            standing(w, project)

    # Two threads credit each worker: a run must never move its watermark past a credit still in flight.
    errors = _threads([credits(w.pk, half) for w in workers for half in (0, 1)] + [runs, doubt_comes_and_goes])
    assert errors == []
    earnings_clearance_review(worker_ids=[w.pk for w in workers])
    assert LedgerTransaction.objects.filter(kind="judgment_credit").count() == 36
    for w in workers:
        assert_pending_is_the_queue(w)
        assert balance(w, Kind.WORKER_PENDING) == 0 and balance(w, Kind.WORKER_PAYABLE) == 12 * 40
    assert_ledger_consistent()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_submits_runs_and_a_flag_reversal_keep_the_ledger_whole(settings):
    settings.PAY_PENDING_ON_FLAG = "reverse"
    worker = make_user("race-rev@example.com")
    project = make_project(reward_cents=40)
    ids = [make_judgment(worker=worker, project=project).pk for _ in range(20)]
    standing(worker, project, gold_n=1)  # unproven: credits stay pending

    def credits():
        for jid in ids:
            earnings_credit_judgment(judgment_id=jid)

    def runs():
        for _ in range(5):
            earnings_clearance_review(worker_ids=[worker.pk])

    def flag():
        earnings_hold(worker_id=worker.pk, judgment_ids=ids, flag_id=555)

    assert _threads([credits, runs, flag]) == []
    assert LedgerTransaction.objects.filter(kind="judgment_credit").count() == 20
    reversed_cents = -sum(LedgerEntry.objects.filter(transaction__kind="pending_reversal",
                                                     account__kind=Kind.WORKER_PENDING)
                          .values_list("amount_cents", flat=True))
    assert reversed_cents + balance(worker, Kind.WORKER_PENDING) + balance(worker, Kind.WORKER_HELD) == 20 * 40
    assert_pending_is_the_queue(worker)
    assert -platform_funding_balance(currency="usd") == 20 * 40 - reversed_cents
    assert_ledger_consistent()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_clearing_run_waits_for_a_credit_in_flight():
    """A submit's transaction still open (its credit written to pending, not committed) when a clearing run of
    the same worker starts: the run waits for it (the credit holds the worker's clearance row FOR SHARE), so
    the credit is drained with the rest, and never sits in pending once the worker is cleared."""
    worker, project = make_user("inflight@example.com"), make_project(reward_cents=40)
    first, second = (make_judgment(worker=worker, project=project).pk for _ in range(2))
    standing(worker, project)
    EarningsClearance.objects.create(worker=worker)  # pending, as after the worker's first credit
    in_flight = threading.Event()

    def slow_submit():
        with transaction.atomic():
            earnings_credit_judgment(judgment_id=first)
            in_flight.set()
            time.sleep(1.0)

    def clearing_run():
        in_flight.wait(10)
        earnings_clearance_review(worker_ids=[worker.pk])

    assert _threads([slow_submit, clearing_run]) == []
    assert EarningsClearance.objects.get(worker=worker).status == "cleared"
    assert balance(worker, Kind.WORKER_PENDING) == 0 and balance(worker, Kind.WORKER_PAYABLE) == 40
    earnings_credit_judgment(judgment_id=second)
    assert balance(worker, Kind.WORKER_PAYABLE) == 80
    assert_pending_is_the_queue(worker)
    assert_ledger_consistent()


def test_a_quality_recompute_enqueues_the_clearing_run_and_it_pays_the_honest_and_holds_the_spammer(settings):
    """The hook: project_quality_recompute writes one outbox event for payments' clearing run with the project's
    workers; the run clears honest workers whose evidence passed, and the flagged spammer's credits stay held."""
    from marketplace.models import OutboxEvent
    from payments.jobs import earnings_clearance_review as job
    from quality.services import project_quality_recompute
    from tasks.models import Judgment
    from tests.quality import factories as f

    # A small crowd (4 gold tasks; the spammer's requeued judgments leave few agreement-scored ones).
    settings.PAY_CLEARANCE_MIN_GOLD, settings.PAY_CLEARANCE_MIN_JUDGMENTS = 2, 6
    project, honest, spammer, _, _ = f.pairwise_crowd(seed=3)
    for j in Judgment.objects.filter(project=project):
        earnings_credit_judgment(judgment_id=j.pk)
    assert project_quality_recompute(project_id=project.pk) is True
    [event] = OutboxEvent.objects.filter(job="payments.jobs.earnings_clearance_review")
    assert sorted(event.args[0]) == sorted([w.pk for w in honest] + [spammer.pk])
    job(*event.args)
    job(*event.args)  # at least once delivery: the second run moves nothing
    assert balance(spammer, Kind.WORKER_PAYABLE) == 0 and balance(spammer, Kind.WORKER_PENDING) == 0
    assert balance(spammer, Kind.WORKER_HELD) > 0
    cleared = [w for w in honest if EarningsClearance.objects.get(worker=w).status == "cleared"]
    from quality.models import WorkerStanding

    assert cleared, (worker_pay_verdicts(worker_ids=[w.pk for w in honest]), list(
        WorkerStanding.objects.filter(project=project).values_list("worker_id", "status", "loo_n")))
    for w in cleared:
        assert balance(w, Kind.WORKER_PENDING) == 0 and balance(w, Kind.WORKER_PAYABLE) > 0
    assert LedgerTransaction.objects.filter(kind="clearance").count() == len(cleared)
    for w in [*honest, spammer]:
        assert_pending_is_the_queue(w)
    assert_ledger_consistent()
