"""Payout batches (docs/design.md invariant 8): reservations, four eyes, exactly-once sending, failures, reversals,
export and reconciliation. Lines are sent by calling the job's service directly; the crash test with a
real Celery worker is in test_payouts_crash.py."""

import csv
import io
import time

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from payments.models import LedgerAccount, PayoutBatch, PayoutLine
from payments.services.payout_lines import payout_line_send as _send
from tests.conftest import make_user
from tests.payments.factories import assert_ledger_consistent, connect, credit
from tests.payments.test_connect_webhooks import post_event

pytestmark = pytest.mark.django_db
Kind = LedgerAccount.Kind
_capture = None


def balance(worker, kind):
    account = LedgerAccount.objects.filter(worker=worker, kind=kind, currency="usd").first()
    return account.balance_cents if account else 0


@pytest.fixture
def finance2(person):
    return person("finance2@example.com", groups=("finance",))


@pytest.fixture
def workers(fakestripe):
    """Three workers: two with payouts enabled (500 and 300 cents), one without (900 cents)."""
    out = []
    for i, (cents, enabled) in enumerate([(500, True), (300, True), (900, False)]):
        user = make_user(f"w{i}@example.com")
        credit(user, n=1, reward_cents=cents)
        account = connect(user, enabled=enabled)
        fakestripe.account(account.stripe_id, enabled=enabled)
        out.append(user)
    return out


def create(finance, minimum=100, cutoff=None):
    cutoff = cutoff or timezone.now()
    return finance.post("/api/v1/payout-batches/", {"cutoff": cutoff.isoformat(), "minimum_cents": minimum})


@pytest.fixture(autouse=True)
def _on_commit(django_capture_on_commit_callbacks):
    global _capture
    _capture = django_capture_on_commit_callbacks


def payout_line_send(*, line_id):
    """What the Celery job does, with on-commit callbacks run as after a real commit."""
    with _capture(execute=True):
        return _send(line_id=line_id)


def run_batch(finance, finance2, batch_id, django_capture_on_commit_callbacks):
    assert finance2.post(f"/api/v1/payout-batches/{batch_id}/approve/").status_code == 200
    from marketplace.models import OutboxEvent

    assert finance.post(f"/api/v1/payout-batches/{batch_id}/execute/").status_code == 202
    # The dispatch job, an outbox row of the execute's transaction (published after the commit).
    assert list(OutboxEvent.objects.filter(sent_at__isnull=True).values_list("job", "args")) == [
        ("payments.jobs.payout_batch_dispatch", [batch_id])]
    OutboxEvent.objects.all().delete()
    return [payout_line_send(line_id=line.pk) for line in PayoutLine.objects.filter(batch_id=batch_id)]


def test_create_reserves_for_eligible_workers_only(finance, workers):
    response = create(finance, minimum=400)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "draft"
    assert [(line["worker"], line["amount_cents"]) for line in body["lines"]] == [(workers[0].pk, 500)]
    assert balance(workers[0], Kind.WORKER_PAYABLE) == 0
    assert balance(workers[0], Kind.PAYOUTS_IN_TRANSIT) == 500
    assert balance(workers[1], Kind.WORKER_PAYABLE) == 300  # under the minimum
    assert balance(workers[2], Kind.WORKER_PAYABLE) == 900  # payouts not enabled
    # Money already reserved is not reserved again by the next batch.
    second = create(finance, minimum=100).json()
    assert [line["worker"] for line in second["lines"]] == [workers[1].pk]
    assert create(finance, minimum=100).status_code == 409
    assert_ledger_consistent()


def test_cutoff_excludes_later_earnings(finance, workers):
    cutoff = timezone.now()
    time.sleep(0.01)
    credit(workers[0], n=1, reward_cents=1000)
    lines = create(finance, minimum=1, cutoff=cutoff).json()["lines"]
    assert {line["worker"]: line["amount_cents"] for line in lines} == {workers[0].pk: 500, workers[1].pk: 300}
    assert balance(workers[0], Kind.WORKER_PAYABLE) == 1000


def test_bad_input_names_the_field_and_changes_nothing(finance, workers):
    future = timezone.now().replace(year=timezone.now().year + 1)
    for payload, field in [({"cutoff": future.isoformat(), "minimum_cents": 1}, "cutoff"),
                           ({"cutoff": "yesterday", "minimum_cents": 1}, "cutoff"),
                           ({"cutoff": timezone.now().isoformat(), "minimum_cents": 0}, "minimum_cents")]:
        response = finance.post("/api/v1/payout-batches/", payload)
        assert response.status_code == 400 and field in response.json()["error"]["fields"], response.content
    assert not PayoutBatch.objects.exists()


def test_four_eyes(finance, finance2, workers):
    batch_id = create(finance).json()["id"]
    response = finance.post(f"/api/v1/payout-batches/{batch_id}/approve/")
    assert response.status_code == 403 and response.json()["error"]["code"] == "four_eyes"
    not_approved = finance.post(f"/api/v1/payout-batches/{batch_id}/execute/")
    assert not_approved.status_code == 409  # the 409 names the batch and its state
    assert not_approved.json()["error"] | {"message": ""} == {
        "code": "batch_not_approved", "message": "", "fields": {}, "batch": batch_id, "status": "draft"}
    assert finance2.post(f"/api/v1/payout-batches/{batch_id}/approve/").status_code == 200
    again = finance2.post(f"/api/v1/payout-batches/{batch_id}/approve/")
    assert again.status_code == 409 and again.json()["error"]["code"] == "batch_not_draft"
    assert again.json()["error"]["batch"] == batch_id and again.json()["error"]["status"] == "approved"
    # The database refuses a self-approval whatever the code does.
    batch = PayoutBatch.objects.get(pk=batch_id)
    with pytest.raises(IntegrityError), transaction.atomic():
        PayoutBatch.objects.filter(pk=batch_id).update(approved_by=batch.created_by)


def test_roles(person, workers, finance):
    worker = person("someone@example.com")
    batch_id = create(finance).json()["id"]
    for method, path in [("post", "/api/v1/payout-batches/"), ("get", f"/api/v1/payout-batches/{batch_id}/"),
                         ("post", f"/api/v1/payout-batches/{batch_id}/approve/"),
                         ("get", f"/api/v1/payout-batches/{batch_id}/export.csv"),
                         ("get", "/api/v1/reconciliation/"), ("post", "/api/v1/ledger-adjustments/")]:
        assert getattr(worker, method)(path).status_code == 403, path
    assert finance.get("/api/v1/payout-batches/999999/").status_code == 404


def test_execute_pays_each_line_once(finance, finance2, workers, fakestripe, django_capture_on_commit_callbacks):
    batch_id = create(finance).json()["id"]
    outcomes = run_batch(finance, finance2, batch_id, django_capture_on_commit_callbacks)
    assert [o.status for o in outcomes] == ["paid", "paid"]
    # Running the jobs again (redelivery) sends nothing more.
    assert [payout_line_send(line_id=line.pk).status for line in PayoutLine.objects.filter(batch_id=batch_id)] == [
        "skipped", "skipped"]
    transfers = fakestripe.transfers()
    assert sorted((t["destination"], t["amount"]) for t in transfers) == sorted(
        [(f"acct_test{workers[0].pk}", 500), (f"acct_test{workers[1].pk}", 300)])
    assert all(t["transfer_group"] == f"payout-batch-{batch_id}" for t in transfers)
    body = finance.get(f"/api/v1/payout-batches/{batch_id}/").json()
    assert body["status"] == "completed" and body["line_counts"]["paid"] == 2
    assert balance(workers[0], Kind.PAID_OUT) == 500 and balance(workers[0], Kind.PAYOUTS_IN_TRANSIT) == 0
    rows = list(csv.DictReader(io.StringIO(finance.get(f"/api/v1/payout-batches/{batch_id}/export.csv")
                                           .content.decode())))
    assert {r["stripe_transfer_id"] for r in rows} == {t["id"] for t in transfers}
    assert all(r["idempotency_key"] == f"payout-line-{r['line']}" for r in rows)
    report = finance.get("/api/v1/reconciliation/").json()
    assert report["ok"] is True and report["checked_lines"] == 2 and report["stripe_transfers"] == 2
    assert_ledger_consistent()


def test_balance_insufficient_fails_the_line_and_releases_the_money(finance, finance2, workers, fakestripe,
                                                                    django_capture_on_commit_callbacks):
    fakestripe.control("config", {"available": 600})  # enough for 500, not for 500 + 300
    batch_id = create(finance).json()["id"]
    outcomes = run_batch(finance, finance2, batch_id, django_capture_on_commit_callbacks)
    assert [o.status for o in outcomes] == ["paid", "failed"]
    line = PayoutLine.objects.get(batch_id=batch_id, worker=workers[1])
    assert line.status == "failed" and "balance_insufficient" in line.last_error
    assert balance(workers[1], Kind.WORKER_PAYABLE) == 300 and balance(workers[1], Kind.PAYOUTS_IN_TRANSIT) == 0
    assert PayoutBatch.objects.get(pk=batch_id).status == "completed_with_failures"
    assert finance.get("/api/v1/reconciliation/").json()["ok"] is True
    assert_ledger_consistent()


def test_dropped_connection_is_reconciled_by_listing_never_resent(finance, finance2, workers, fakestripe,
                                                                 django_capture_on_commit_callbacks):
    batch_id = create(finance, minimum=400).json()["id"]
    fakestripe.control("drop_after_commit", {"n": 1})
    outcomes = run_batch(finance, finance2, batch_id, django_capture_on_commit_callbacks)
    assert outcomes[0].status == "retry"
    line = PayoutLine.objects.get(batch_id=batch_id)
    assert line.status == "sending" and len(fakestripe.transfers()) == 1  # it happened; we don't know yet
    requests_before = fakestripe.state.stats["requests"]
    assert payout_line_send(line_id=line.pk).status == "paid"
    line.refresh_from_db()
    assert line.stripe_transfer_id == fakestripe.transfers()[0]["id"]
    assert fakestripe.state.stats["requests"] == requests_before + 1  # one list, no second create
    assert len(fakestripe.transfers()) == 1
    assert_ledger_consistent()


def test_stored_server_error_fails_the_line_only_when_proven_unpaid(finance, finance2, workers, fakestripe,
                                                                    django_capture_on_commit_callbacks):
    batch_id = create(finance, minimum=400).json()["id"]
    fakestripe.control("fail_next", {"n": 1, "status": 500, "store": True})
    assert run_batch(finance, finance2, batch_id, django_capture_on_commit_callbacks)[0].status == "retry"
    line = PayoutLine.objects.get(batch_id=batch_id)
    assert line.status == "sending"
    # Same key again: Stripe replays the stored 500, the list shows no transfer: provably unpaid.
    assert payout_line_send(line_id=line.pk).status == "failed"
    assert balance(workers[0], Kind.WORKER_PAYABLE) == 500
    assert fakestripe.transfers() == []


def test_unstored_server_error_is_retried_with_the_same_key(finance, finance2, workers, fakestripe,
                                                            django_capture_on_commit_callbacks):
    batch_id = create(finance, minimum=400).json()["id"]
    fakestripe.control("fail_next", {"n": 1, "status": 503})
    assert run_batch(finance, finance2, batch_id, django_capture_on_commit_callbacks)[0].status == "retry"
    line = PayoutLine.objects.get(batch_id=batch_id)
    assert payout_line_send(line_id=line.pk).status == "paid"
    assert len(fakestripe.transfers()) == 1
    assert set(fakestripe.state.idempotency) == {f"payout-line-{line.pk}"}


def test_rate_limited_line_is_retried(finance, finance2, workers, fakestripe, django_capture_on_commit_callbacks):
    batch_id = create(finance, minimum=400).json()["id"]
    fakestripe.control("fail_next", {"n": 1, "status": 429})
    outcome = run_batch(finance, finance2, batch_id, django_capture_on_commit_callbacks)[0]
    assert outcome.status == "retry" and outcome.detail == "rate_limited"
    line = PayoutLine.objects.get(batch_id=batch_id)
    # A 429 executes nothing and this was the line's only attempt: back to reserved, so the retry sends
    # straight away instead of spending a rate-limited request on listing transfers first.
    assert line.status == "reserved" and line.attempts == 1
    requests_before = fakestripe.state.stats["requests"]
    assert payout_line_send(line_id=line.pk).status == "paid"
    assert fakestripe.state.stats["requests"] - requests_before == 1
    assert len(fakestripe.transfers()) == 1


def test_rate_limited_retry_of_an_unknown_attempt_stays_sending(finance, finance2, workers, fakestripe,
                                                                 django_capture_on_commit_callbacks):
    """A line found SENDING had an attempt whose outcome is unknown (a crash after the request left): a 429
    on this run's request says nothing about that one, so the line stays SENDING and the next run lists
    first. The earlier attempt did reach Stripe here: the listing finds it and nothing is sent twice."""
    from payments.services.payout_lines import transfer_params
    from payments.stripe_api import stripe_client

    batch_id = create(finance, minimum=400).json()["id"]
    fakestripe.control("fail_next", {"n": 1, "status": 429, "method": "POST"})
    first = run_batch(finance, finance2, batch_id, django_capture_on_commit_callbacks)[0]
    assert first.detail == "rate_limited"
    line = PayoutLine.objects.select_related("batch").get(batch_id=batch_id)
    # Another run's attempt: marked SENDING, the transfer made, then the process died before recording it.
    PayoutLine.objects.filter(pk=line.pk).update(status="sending", attempts=2)
    stripe_client().v1.transfers.create(params=transfer_params(line), options={"idempotency_key": "elsewhere"})
    fakestripe.control("fail_next", {"n": 1, "status": 429, "method": "POST"})
    # This run lists first (GET, not failed) and finds the transfer: paid, no POST at all.
    assert payout_line_send(line_id=line.pk).status == "paid"
    assert len(fakestripe.transfers()) == 1
    line.refresh_from_db()
    assert line.status == "paid"


def test_rate_limited_attempt_after_an_unknown_one_keeps_the_line_sending(finance, finance2, workers, fakestripe,
                                                                          django_capture_on_commit_callbacks):
    batch_id = create(finance, minimum=400).json()["id"]
    fakestripe.control("fail_next", {"n": 1, "status": 503})
    assert run_batch(finance, finance2, batch_id, django_capture_on_commit_callbacks)[0].status == "retry"
    line = PayoutLine.objects.get(batch_id=batch_id)
    assert line.status == "sending"  # a 503's outcome is unknown
    fakestripe.control("fail_next", {"n": 1, "status": 429, "method": "POST"})
    outcome = payout_line_send(line_id=line.pk)
    assert outcome.detail == "rate_limited"
    line.refresh_from_db()
    assert line.status == "sending" and line.attempts == 2
    assert payout_line_send(line_id=line.pk).status == "paid"
    assert len(fakestripe.transfers()) == 1


def test_transfer_reversed_restores_the_balance_once(api, finance, finance2, workers, fakestripe,
                                                     django_capture_on_commit_callbacks):
    batch_id = create(finance, minimum=400).json()["id"]
    run_batch(finance, finance2, batch_id, django_capture_on_commit_callbacks)
    line = PayoutLine.objects.get(batch_id=batch_id)
    from payments.stripe_api import stripe_client

    stripe_client().v1.transfers.reversals.create(line.stripe_transfer_id, params={"amount": 200})
    partial = fakestripe.state.events[fakestripe.state.event_order[-1]]
    assert post_event(api, partial).status_code == 200
    assert post_event(api, partial).status_code == 200  # duplicate delivery
    assert balance(workers[0], Kind.WORKER_PAYABLE) == 200 and balance(workers[0], Kind.PAID_OUT) == 300
    stripe_client().v1.transfers.reversals.create(line.stripe_transfer_id)
    full = fakestripe.state.events[fakestripe.state.event_order[-1]]
    assert post_event(api, full).status_code == 200
    line.refresh_from_db()
    assert line.status == "reversed" and line.reversed_cents == 500
    assert balance(workers[0], Kind.WORKER_PAYABLE) == 500 and balance(workers[0], Kind.PAID_OUT) == 0
    assert finance.get("/api/v1/reconciliation/").json()["ok"] is True
    assert_ledger_consistent()


def test_reconciliation_lists_differences(finance, finance2, workers, fakestripe, django_capture_on_commit_callbacks):
    batch_id = create(finance).json()["id"]
    run_batch(finance, finance2, batch_id, django_capture_on_commit_callbacks)
    lines = list(PayoutLine.objects.filter(batch_id=batch_id).order_by("pk"))
    with fakestripe.state.lock:  # Stripe "loses" one transfer and "gains" a duplicate of the other
        fakestripe.state.transfer_order.remove(lines[0].stripe_transfer_id)
        dup = dict(fakestripe.state.transfers[lines[1].stripe_transfer_id], id="tr_dup")
        fakestripe.state.transfers["tr_dup"] = dup
        fakestripe.state.transfer_order.append("tr_dup")
    report = finance.get(f"/api/v1/reconciliation/?batch={batch_id}").json()
    codes = sorted(d["code"] for d in report["differences"])
    assert report["ok"] is False
    assert codes == ["duplicate_transfer", "missing_in_stripe", "transfer_id_mismatch"], report
    assert finance.get("/api/v1/reconciliation/?batch=abc").status_code == 400


def test_finance_adjustments_are_balanced_and_idempotent(finance, workers):
    payload = {"worker": workers[0].pk, "kind": "bonus", "amount_cents": 250, "memo": "Great work",
               "reference": "bonus-2026-11-w0"}
    first = finance.post("/api/v1/ledger-adjustments/", payload)
    assert first.status_code == 201, first.content
    assert first.json()["status"] == "posted"
    assert sorted(e["amount_cents"] for e in first.json()["transaction"]["entries"]) == [-250, 250]
    assert finance.post("/api/v1/ledger-adjustments/", payload).json()["id"] == first.json()["id"]
    assert balance(workers[0], Kind.WORKER_PAYABLE) == 750
    too_much = {**payload, "kind": "adjustment", "amount_cents": -10_000, "reference": "x"}
    response = finance.post("/api/v1/ledger-adjustments/", too_much)
    assert response.status_code == 409 and response.json()["error"]["code"] == "insufficient_balance"
    bad = finance.post("/api/v1/ledger-adjustments/", {**payload, "kind": "bonus", "amount_cents": -5,
                                                       "reference": "y"})
    assert bad.status_code == 400 and "amount_cents" in bad.json()["error"]["fields"]
    assert balance(workers[0], Kind.WORKER_PAYABLE) == 750
    assert_ledger_consistent()


def test_an_error_while_listing_never_fails_an_uncertain_line(finance, finance2, workers, fakestripe,
                                                              django_capture_on_commit_callbacks):
    batch_id = create(finance, minimum=400).json()["id"]
    fakestripe.control("drop_after_commit", {"n": 1})
    run_batch(finance, finance2, batch_id, django_capture_on_commit_callbacks)
    line = PayoutLine.objects.get(batch_id=batch_id)
    fakestripe.control("fail_next", {"n": 1, "status": 400})  # the list call is refused
    assert payout_line_send(line_id=line.pk).status == "retry"
    line.refresh_from_db()
    assert line.status == "sending" and balance(workers[0], Kind.PAYOUTS_IN_TRANSIT) == 500
    assert payout_line_send(line_id=line.pk).status == "paid"
    assert len(fakestripe.transfers()) == 1


def test_a_chunk_job_pays_each_line_once_and_hands_a_retry_to_its_own_job(finance, finance2, workers, fakestripe,
                                                                          django_capture_on_commit_callbacks,
                                                                          monkeypatch):
    """The dispatch sends lines in chunks (payments.jobs.payout_lines_send): a line Stripe rate-limits is
    handed to its own payout_line_send job with a countdown, the other lines are paid, and the chunk run
    again (a redelivery after a crash) pays nothing twice."""
    from payments import jobs

    batch_id = create(finance).json()["id"]
    assert finance2.post(f"/api/v1/payout-batches/{batch_id}/approve/").status_code == 200
    with django_capture_on_commit_callbacks(execute=False):
        assert finance.post(f"/api/v1/payout-batches/{batch_id}/execute/").status_code == 202
    line_ids = sorted(PayoutLine.objects.filter(batch_id=batch_id).values_list("pk", flat=True))
    assert len(line_ids) == 2
    handed = []
    monkeypatch.setattr(jobs.payout_line_send, "apply_async",
                        lambda args, countdown: handed.append((args, countdown)))
    fakestripe.control("fail_next", {"n": 1, "status": 429})  # the first line's transfer is rate-limited
    with _capture(execute=True):
        assert jobs.payout_lines_send(line_ids) == 1
    assert [args for args, _ in handed] == [(line_ids[0],)] and handed[0][1] > 0
    assert PayoutLine.objects.get(pk=line_ids[0]).status == "reserved"  # a 429 executed nothing
    assert PayoutLine.objects.get(pk=line_ids[1]).status == "paid"
    with _capture(execute=True):
        assert jobs.payout_lines_send(line_ids) == 1  # redelivered: the open line is paid, the paid one skipped
        assert jobs.payout_lines_send(line_ids) == 0
    assert sorted(t["metadata"]["payout_line_id"] for t in fakestripe.transfers()) == sorted(map(str, line_ids))
    assert PayoutBatch.objects.get(pk=batch_id).status == "completed"
    assert_ledger_consistent()


def test_the_sdk_never_retries_on_its_own(fakestripe):
    """Our retries own the idempotency key and the line's state: after a 429 the line goes back to reserved
    and is resent without listing first, which is only safe if the SDK never sent an earlier copy of the
    request behind our back (max_network_retries=0 in payments.stripe_api)."""
    import stripe

    from payments.stripe_api import stripe_client

    for status in (429, 503, 409):
        fakestripe.control("fail_next", {"n": 1, "status": status})
        before = fakestripe.state.stats["requests"]
        with pytest.raises(stripe.StripeError):
            stripe_client().v1.transfers.create(
                params={"amount": 100, "currency": "usd", "destination": "acct_missing"},
                options={"idempotency_key": f"no-sdk-retry-{status}"})
        assert fakestripe.state.stats["requests"] - before == 1


def test_cutoff_defaults_to_now_and_nothing_to_pay_names_what_it_used(finance, workers):
    response = finance.post("/api/v1/payout-batches/", {"minimum_cents": 1})  # cutoff: now
    assert response.status_code == 201, response.content
    assert {line["amount_cents"] for line in response.json()["lines"]} == {500, 300}
    nothing = finance.post("/api/v1/payout-batches/", {"minimum_cents": 1})  # all reserved by the first
    assert nothing.status_code == 409
    error = nothing.json()["error"]
    assert error["code"] == "nothing_to_pay" and error["minimum_cents"] == 1 and error["currency"] == "usd"
    assert error["cutoff"] and "owed at least 0.01 USD (minimum_cents=1)" in error["message"]
    # In cents, said as money: 1000 is 10.00 USD, not "1000 usd" (issue 32).
    thousand = finance.post("/api/v1/payout-batches/", {"minimum_cents": 1000}).json()["error"]["message"]
    assert "owed at least 10.00 USD (minimum_cents=1000)" in thousand and "1000 usd" not in thousand.lower()
