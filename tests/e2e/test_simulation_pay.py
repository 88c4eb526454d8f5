"""Pay follows evidence, over whole simulated days (issue 20): `manage.py simulate`'s default day (20 workers,
100 tasks) against a live server on PostgreSQL, a real Celery worker on Redis and the fake Stripe server, for
the seeds named in PAY_SIM_SEEDS ("default" is the command's own seed, 7). Each day: no planted bad rater is
paid more than a quarter of the honest workers' median pay in the day's batch, and the honest workers receive
at least 80% of what they earned.

Slow (a few minutes a day on 2 cores): skipped unless PAY_SIM_SEEDS is set, e.g.
    PAY_SIM_SEEDS=default,1,2,3,4,5 TEST_DB_NAME=test_sim REQUIRE_SERVICES=1 \\
        .venv/bin/pytest -q tests/e2e/test_simulation_pay.py -s
(docs/simulation.md, "Pay follows evidence"). The report of each day is written under PAY_SIM_REPORT_DIR
when set (report.json and the charts, pay_follows_evidence.png among them).
"""

import io
import json
import os
from pathlib import Path

import pytest
from rich.console import Console

from simulation.charts import write_report_dir
from simulation.config import SimulationConfig
from simulation.report import render
from simulation.runner import Simulation
from tests.e2e.sim_stack import simulation_stack

SEEDS = [s.strip() for s in os.environ.get("PAY_SIM_SEEDS", "").split(",") if s.strip()]
pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow,
              pytest.mark.skipif(not SEEDS, reason="set PAY_SIM_SEEDS (e.g. default,1,2,3,4,5) to run whole days")]
SPEED = 300.0  # the command's default


@pytest.fixture
def stack(request, live_server, settings, monkeypatch):
    with simulation_stack(request, live_server, settings, monkeypatch, QUEUE_TIME_SCALE=SPEED) as stack:
        yield stack


def _evidence(worker: dict) -> list[dict]:
    """What the clearing verdict read of the worker, per project (ops' view of their standing)."""
    projects = (worker.get("quality_standing") or {}).get("projects") or []
    return [{k: p.get(k) for k in ("status", "gold_n", "gold_correct", "loo_n", "loo_agreement", "random_log_lr",
                                   "median_seconds", "gold_share")} for p in projects]


@pytest.mark.parametrize("seed", SEEDS or ["default"])
def test_pay_follows_evidence_over_a_day(stack, seed):
    config = SimulationConfig(base_url=stack.url, progress=False, speed=SPEED,
                              **({} if seed == "default" else {"seed": int(seed)}))
    out = io.StringIO()
    report = Simulation(config, console=Console(file=out, width=140)).run()
    render(report, Console(file=out, width=140))
    print(out.getvalue())
    if os.environ.get("PAY_SIM_REPORT_DIR"):
        write_report_dir(report, str(Path(os.environ["PAY_SIM_REPORT_DIR"]) / f"seed-{seed}"))
    pay = report["money"]["pay_follows_evidence"]
    summary = json.dumps({"pay": pay, "errors": report["errors"], "groups": report["groups"],
                          "workers": [{**{k: w[k] for k in ("behaviour", "earned_cents", "paid_lines_cents",
                                                            "pending_clearance_cents", "held_cents", "clearance",
                                                            "flagged")}, "standing": _evidence(w)}
                                      for w in report["workers"]]}, default=str)
    assert report["errors"] == {}, summary
    assert report["checks"]["ledger_sums_to_zero"] and report["checks"]["balances_match_entries"], summary
    assert pay["bad_raters_paid_under_quarter_of_honest_median"], summary
    assert pay["honest_paid_at_least_80_percent"], summary
