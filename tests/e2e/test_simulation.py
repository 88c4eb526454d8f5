"""The whole flow, at small scale: `manage.py simulate`'s Simulation against a live server on PostgreSQL,
a real Celery worker on Redis and the fake Stripe server.

Given a client project of planted code comparisons and freelancers with planted behaviours,
when they work it through the HTTP API and ops and finance do their part,
then every task completes, no honest rater is flagged, the planted bad raters are caught, the ledger sums
to zero and every worker got, exactly once, what the ledger says they were paid.
"""

import io
import json
from collections import Counter

import pytest
import requests
from rich.console import Console

from simulation.charts import write_report_dir
from simulation.config import SimulationConfig
from simulation.runner import Simulation
from tests.e2e.sim_stack import simulation_stack

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

# The default rules want more evidence than a 10-worker day produces (they are tuned for real crowds);
# the day's shape is the same, the minimum counts are scaled down to it.
# The server measures time spent itself (claim to submit) on the simulation's clock (QUEUE_TIME_SCALE), so
# request latency is compressed too: at 3000 x, 20 ms of latency made every judgment look 60 s long and the
# planted fast rater (1-3 s a judgment) was never too fast. At 15 x the same latency is 0.3 s.
SPEED = 15
SMALL_CROWD_RULES = {
    "gold": {"min_n": 6},
    "fast": {"min_n": 6},
    "same_answer": {"min_n": 8, "p_value": 0.01},
    "agreement": {"min_n": 10},
}


@pytest.fixture
def stack(request, live_server, settings, monkeypatch):
    """Live server + fake Stripe (webhooks to the live server) + a Celery worker that knows both."""
    # The server measures time spent: on the simulation's clock (QUEUE_TIME_SCALE). Pay follows evidence,
    # with the evidence counts scaled to the small day like the rules' minimum counts.
    with simulation_stack(request, live_server, settings, monkeypatch, QUALITY_RULES=SMALL_CROWD_RULES,
                          QUEUE_TIME_SCALE=SPEED, PAY_CLEARANCE_MIN_JUDGMENTS=6, PAY_CLEARANCE_MIN_GOLD=2) as stack:
        yield stack


def test_a_day_in_the_marketplace(stack, tmp_path):
    config = SimulationConfig(
        base_url=stack.url, workers=10, tasks=24, gold=16, overlap=3,
        spammer_share=0.1, always_a_share=0.1, fast_share=0.1, quiz_fail_share=0.2, quiz_cooldown=1,
        seed=11, speed=SPEED, progress=False, work_timeout=240, quality_timeout=90, payout_timeout=120,
    )
    out = io.StringIO()
    report = Simulation(config, console=Console(file=out, width=120)).run()
    paths = write_report_dir(report, str(tmp_path))
    assert all(p.stat().st_size > 0 for p in paths)
    checks = report["checks"]
    summary = json.dumps({k: report[k] for k in ("errors", "checks", "raters", "groups", "money", "quality_rounds")},
                         default=str)[:6000]
    assert report["errors"] == {}, summary

    # Every task complete, through the queue.
    assert checks["all_tasks_complete"], summary
    assert report["tasks"]["complete"] == report["tasks"]["regular"] == 24
    # Quality: nobody honest by construction is flagged; the planted bad raters are.
    honest_flagged = [w["email"] for w in report["workers"] if w["honest"] and w["flagged"]]
    assert honest_flagged == [], summary
    bad = [w for w in report["workers"] if not w["honest"]]
    assert bad and sum(w["flagged"] for w in bad) >= 2, summary
    # The crowd beats its worst members: consensus matches the planted truth far more often than chance.
    assert report["consensus"]["accuracy"] is not None and report["consensus"]["accuracy"] >= 0.75, summary
    # Money: the ledger balances, and every worker was paid what the ledger says, exactly once.
    assert checks["ledger_sums_to_zero"] and checks["balances_match_entries"], summary
    assert report["money"]["batch_status"] == "completed", summary
    assert checks["paid_matches_ledger"] and checks["at_most_one_line_per_worker"], summary
    paid = [w for w in report["workers"] if w["paid_cents"] > 0]
    assert paid, summary
    state = requests.get(f"{stack.stripe.url}/_control/state", timeout=10).json()
    batch_transfers = [t for t in state["transfers"] if t.get("transfer_group") == f"payout-batch-{report['money']['batch_id']}"]
    per_destination = Counter(t["destination"] for t in batch_transfers)
    assert all(n == 1 for n in per_destination.values()), per_destination
    assert sum(t["amount"] for t in batch_transfers) == sum(w["paid_cents"] for w in report["workers"])
    assert len(batch_transfers) == len(paid) == report["money"]["paid_lines"]
    # The client heard about it: a signed task.completed webhook per task.
    assert report["webhooks"]["rejected"] == 0
    assert report["webhooks"]["received"].get("task.completed", 0) >= 24, report["webhooks"]
    # What the day produced for training: pairs at a stated confidence; headers, summary and body agree.
    export = report["export"]
    assert checks["export_counts_agree"], export
    assert export["pairs"] == export["tasks_exported"] > 0 and export["confidence"]["mean"] is not None, export
    assert export["pairs"] + export["ties"] + export["unresolved"] == 24, export
