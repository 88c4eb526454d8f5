"""The simulation's report: what the marketplace concluded, compared with the truth the simulator planted.

build_report() gathers the figures into a JSON-serialisable dict (report.json); render() prints it.
"""

import statistics
from collections import defaultdict

from django.conf import settings

from simulation import inprocess
from simulation.behaviours import Behaviour
from simulation.http import ApiError
from simulation.review import flag_worker_id

# The chart's score is the gold rule's own figure: the Wilson upper bound of gold accuracy, compared with
# the rule's threshold (quality.rules: gold.upper_below). Other figures are fallbacks for other standings.
SCORE_KEYS = ("gold_upper", "score", "gold_accuracy", "loo_agreement")


def standing_score(standing, project_id: int | None = None) -> float | None:
    """One number per worker for the quality chart, from this project's standing when there is one."""
    if not isinstance(standing, dict):
        return None
    for row in standing.get("projects") or []:
        if isinstance(row, dict) and row.get("project_id") == project_id:
            standing = row
            break
    for key in SCORE_KEYS:
        value = standing.get(key)
        if isinstance(value, int | float):
            return float(value)
    return None


def flag_threshold() -> float | None:
    """The gold rule's threshold as the server is configured (defaults merged with QUALITY_RULES)."""
    from quality.rules import merge_rules

    value = merge_rules(getattr(settings, "QUALITY_RULES", None) or {}).get("gold", {}).get("upper_below")
    return float(value) if isinstance(value, int | float) else None


def _consensus_choice(result: dict) -> str | None:
    answer = (result.get("consensus") or {}).get("answer")
    return answer.get("choice") if isinstance(answer, dict) else None


def _rate(hits: int, n: int) -> float | None:
    return round(hits / n, 4) if n else None


def _workers(sim, flags_by_worker) -> list[dict]:
    earnings = sim.payout.get("earnings", {})
    paid_lines = sim.ledger.get("paid_lines_cents", {})
    credited = sim.ledger.get("credited_cents", {})
    rows = []
    for f in sim.freelancers:
        regular = [j for j in f.judged if not j.is_gold and j.correct is not None]
        gold = [j for j in f.judged if j.is_gold and j.correct is not None]
        money = earnings.get(f.user_id) or {}
        # Earned: every credit of the day's judgments (pending, held, payable, paid). Cleared: what the
        # worker may be paid (payable, in transit, paid): the hourly figure uses that, pending shown apart.
        earned = int(credited.get(f.user_id, 0))
        cleared = sum(int(money.get(k) or 0) for k in ("paid_cents", "balance_cents", "pending_cents"))
        pending = int(money.get("pending_clearance_cents") or 0)
        hours = sum(j.seconds for j in f.judged) / 3600
        try:  # ops' view: the worker's own /me leaves the gold figures out
            standing = sim.ops.api.get(f"/api/v1/workers/{f.user_id}/standing/", label="ops_standing").get("standing")
        except ApiError:
            standing = None
        flags = flags_by_worker.get(f.user_id, [])
        rows.append({
            "email": f.email, "user_id": f.user_id, "behaviour": f.behaviour.value, "honest": f.behaviour.honest,
            "quiz_attempts": f.quiz_attempts, "judgments": len(f.judged),
            # In claim order: 1 where the task served was gold (the simulator's own records; adaptive gold,
            # docs/quality.md, serves more of it to workers in doubt). Drawn as gold_share.png.
            "gold_served": [int(j.is_gold) for j in f.judged],
            "accuracy": _rate(sum(j.correct for j in regular), len(regular)),
            "gold_accuracy": _rate(sum(j.correct for j in gold), len(gold)),
            "simulated_hours": round(hours, 3), "earned_cents": earned,
            "paid_cents": int(money.get("paid_cents") or 0), "held_cents": int(money.get("held_cents") or 0),
            "paid_lines_cents": int(paid_lines.get(f.user_id, 0)),
            "cleared_cents": cleared, "pending_clearance_cents": pending,
            "hourly_cents": round(cleared / hours) if hours else None,
            "pending_hourly_cents": round(pending / hours) if hours else None,
            "clearance": (money.get("clearance") or {}).get("reason"),
            "flagged": bool(flags), "flag_rules": sorted({str(x.get("rule") or x.get("reason") or "?") for x in flags}),
            "stopped": f.stopped_reason, "claim_refusals": f.claim_blocked, "errors": f.errors[:5],
            "quality_standing": standing,
            "quality_score": standing_score(standing, sim.project.get("id")),
        })
    return rows


def _groups(workers: list[dict]) -> dict:
    groups = defaultdict(list)
    for w in workers:
        groups[w["behaviour"]].append(w)
    out = {}
    for kind in Behaviour:
        rows = groups.get(kind.value, [])
        hourly = [w["hourly_cents"] for w in rows if w["hourly_cents"] is not None]
        out[kind.value] = {"workers": len(rows), "flagged": sum(w["flagged"] for w in rows),
                           "judgments": sum(w["judgments"] for w in rows),
                           "earned_cents": sum(w["earned_cents"] for w in rows),
                           "paid_lines_cents": sum(w["paid_lines_cents"] for w in rows),
                           "pending_clearance_cents": sum(w["pending_clearance_cents"] for w in rows),
                           "median_hourly_cents": round(statistics.median(hourly)) if hourly else None}
    return out


# Issue 20's bar for the day: no planted bad rater is paid more than this share of the honest workers' median
# pay, and the honest workers together receive at least this share of what they earned, in the day's batch.
BAD_PAY_MAX_SHARE_OF_HONEST_MEDIAN = 0.25
HONEST_PAID_MIN_SHARE = 0.8


def pay_follows_evidence(workers: list[dict]) -> dict:
    """The day's batch against what each worker earned: paid_lines_cents (the batch's paid lines) per worker."""
    honest = [w for w in workers if w["honest"]]
    bad = [w for w in workers if not w["honest"]]
    median_honest = statistics.median([w["paid_lines_cents"] for w in honest]) if honest else 0
    earned_honest = sum(w["earned_cents"] for w in honest)
    paid_honest = sum(w["paid_lines_cents"] for w in honest)
    bad_max = max((w["paid_lines_cents"] for w in bad), default=0)
    limit = BAD_PAY_MAX_SHARE_OF_HONEST_MEDIAN * median_honest
    share = paid_honest / earned_honest if earned_honest else None
    return {
        "honest_median_paid_cents": median_honest, "bad_max_paid_cents": bad_max, "bad_limit_cents": limit,
        "honest_earned_cents": earned_honest, "honest_paid_cents": paid_honest,
        "honest_paid_share": None if share is None else round(share, 4),
        "honest_paid_share_min_worker": min((round(w["paid_lines_cents"] / w["earned_cents"], 4) for w in honest
                                             if w["earned_cents"]), default=None),
        "bad_raters_paid_under_quarter_of_honest_median": bool(honest) and bad_max <= limit,
        "honest_paid_at_least_80_percent": share is not None and share >= HONEST_PAID_MIN_SHARE,
    }


CONFIDENCE_BANDS = ((0.9, "0.9-1.0"), (0.7, "0.7-0.9"), (0.5, "0.5-0.7"), (0.0, "under 0.5"))


def preference_yield(pairs: list[dict], summary: dict | None, headers: dict, *, judgments: int,
                     worker_hours: float, correct: list[bool]) -> dict:
    """What a day of work produced for the client: preference pairs, at what confidence, and at what cost
    in judgments and worker-hours. `correct[i]` says whether pair i's chosen side is the planted truth."""
    confidences = sorted(float(p["confidence"]) for p in pairs if isinstance(p.get("confidence"), int | float))
    bands = {label: 0 for _, label in CONFIDENCE_BANDS}
    band_correct = {label: 0 for _, label in CONFIDENCE_BANDS}
    for p, ok in zip(pairs, correct, strict=True):
        c = p.get("confidence")
        if not isinstance(c, int | float):
            continue
        label = next(label for floor, label in CONFIDENCE_BANDS if c >= floor)
        bands[label] += 1
        band_correct[label] += ok
    summary = summary or {}
    header = {k.lower(): v for k, v in (headers or {}).items()}
    n = len(pairs)
    return {
        "pairs": n,
        "tasks_exported": summary.get("tasks_exported"), "ties": summary.get("ties"),
        "unresolved": summary.get("unresolved"), "open_tasks": summary.get("open_tasks"),
        "chosen_is_correct": _rate(sum(correct), n),
        "confidence": {
            "mean": round(statistics.fmean(confidences), 4) if confidences else None,
            "median": round(statistics.median(confidences), 4) if confidences else None,
            "p10": round(confidences[(len(confidences) - 1) // 10], 4) if confidences else None,
            "min": round(confidences[0], 4) if confidences else None,
        },
        "by_confidence": {label: {"pairs": bands[label], "chosen_is_correct": _rate(band_correct[label], bands[label])}
                          for _, label in CONFIDENCE_BANDS},
        "judgments_per_pair": round(judgments / n, 2) if n else None,
        "pairs_per_worker_hour": round(n / worker_hours, 2) if worker_hours else None,
        "worker_hours": round(worker_hours, 3),
        # The header, the summary endpoint and the body must tell the same count.
        "counts_agree": header.get("x-export-pairs") == str(n) and summary.get("pairs") == n,
        "confidences": [round(c, 4) for c in confidences],
        "correct": correct,
    }


def build_report(sim) -> dict:
    view, payout = sim.client_view, sim.payout
    truth = {t.external_id: t for t in sim.regular}
    results = [r for r in view.get("results", []) if r.get("external_id") in truth]
    scored = [(r, _consensus_choice(r)) for r in results]
    scored = [(r, c) for r, c in scored if c]
    by_bug = defaultdict(lambda: [0, 0])
    for r, choice in scored:
        planted = truth[r["external_id"]]
        by_bug[planted.bug][0] += choice == planted.truth
        by_bug[planted.bug][1] += 1
    def chosen_is_correct(pair: dict) -> bool:
        planted = truth.get(pair.get("external_id"))
        if planted is not None:
            return pair.get("chosen") == planted.data["response_" + planted.truth]
        return any(pair.get("prompt") == t.data["prompt"] and pair.get("chosen") == t.data["response_" + t.truth]
                   for t in sim.regular)

    export_correct = [chosen_is_correct(p) for p in view.get("export", [])]

    all_flags = sim.review.all_flags()
    flags_by_worker = defaultdict(list)
    for flag in all_flags:
        flags_by_worker[flag_worker_id(flag)].append(flag)
    sim.ledger = inprocess.ledger_check(worker_ids=[f.user_id for f in sim.freelancers])
    workers = _workers(sim, flags_by_worker)
    export = preference_yield(view.get("export", []), view.get("export_summary"), view.get("export_headers") or {},
                              judgments=sum(len(f.judged) for f in sim.freelancers),
                              worker_hours=sum(w["simulated_hours"] for w in workers), correct=export_correct)
    bad = [w for w in workers if not w["honest"]]
    pay = pay_follows_evidence(workers)
    lines = payout.get("lines") or []
    transfers = payout.get("transfers")
    per_destination = defaultdict(int)
    for tr in transfers or []:
        per_destination[tr.get("destination")] += 1
    paid_lines = [ln for ln in lines if ln.get("status") == "paid"]
    agreement = view.get("agreement") or sim.review.agreement or {}
    state = inprocess.queue_state(sim.project["id"])
    checks = {
        "all_tasks_complete": state["tasks_complete"] == state["tasks_total"],
        "no_honest_rater_flagged": not any(w["flagged"] for w in workers if w["honest"]),
        "bad_raters_flagged_share": _rate(sum(w["flagged"] for w in bad), len(bad)),
        "ledger_sums_to_zero": sim.ledger["ledger_total_cents"] == 0 and not sim.ledger["unbalanced_transactions"],
        "balances_match_entries": not sim.ledger["balance_drift"],
        "paid_matches_ledger": all(w["paid_cents"] == w["paid_lines_cents"] for w in workers),
        "one_transfer_per_paid_line": transfers is not None and len(transfers) == len(paid_lines)
        and all(per_destination.get(ln.get("destination"), 0) == 1 for ln in paid_lines),
        "at_most_one_line_per_worker": all(n <= 1 for n in sim.ledger["payout_lines"].values()),
        "export_counts_agree": export["counts_agree"],
        "bad_raters_paid_under_quarter_of_honest_median": pay["bad_raters_paid_under_quarter_of_honest_median"],
        "honest_paid_at_least_80_percent": pay["honest_paid_at_least_80_percent"],
    }
    return {
        "run_id": sim.run_id,
        "config": {k: v for k, v in vars(sim.config).items() if k not in ("password", "staff_password", "api_key")},
        "phases_seconds": sim.phases,
        "tasks": {"regular": len(sim.regular), "gold": len(sim.gold), "uploaded": getattr(sim, "upload", {}),
                  "complete": state["tasks_complete"], "judgments": sum(len(f.judged) for f in sim.freelancers)},
        "consensus": {"n": len(scored), "accuracy": _rate(sum(c == truth[r["external_id"]].truth for r, c in scored),
                                                           len(scored)),
                      "by_bug": {k: _rate(v[0], v[1]) for k, v in sorted(by_bug.items())}},
        "agreement": {k: agreement.get(k) for k in ("alpha", "level", "fleiss_kappa", "n_tasks", "n_judgments")},
        "export": export,
        "raters": {"caught": sum(w["flagged"] for w in bad), "missed": sum(not w["flagged"] for w in bad),
                   "false": sum(w["flagged"] for w in workers if w["honest"]), "flags": len(all_flags),
                   "onboarding_failures": sim.failed_onboarding},
        "groups": _groups(workers),
        "money": {"batch_id": payout.get("batch_id"), "batch_status": payout.get("status"), "lines": len(lines),
                  "paid_lines": len(paid_lines), "paid_out_cents": sum(int(ln.get("amount_cents", 0)) for ln in paid_lines),
                  "transfers": None if transfers is None else len(transfers), "ledger": sim.ledger,
                  "pay_follows_evidence": pay},
        "webhooks": {"received": view.get("webhooks", {}), "rejected": view.get("webhooks_rejected", 0)},
        "latency": sim.stats.summary(),
        "quality_rounds": sim.review.rounds,
        "flag_threshold": flag_threshold(),
        "gold_share": sim.config.gold_share,
        "timeline": sim.timeline,
        "workers": workers,
        "checks": checks,
        "errors": sim.errors,
    }


def _num(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def _money(cents) -> str:
    return "-" if cents is None else f"${cents / 100:,.2f}"


def render(report: dict, console) -> None:
    from rich.table import Table

    t, c, a, r, m = (report[k] for k in ("tasks", "consensus", "agreement", "raters", "money"))
    summary = Table(title=f"Simulation {report['run_id']}", show_header=False)
    summary.add_row("tasks complete", f"{t['complete']} / {t['regular']} (+{t['gold']} gold), {t['judgments']} judgments")
    summary.add_row("consensus accuracy", f"{_num(c['accuracy'])} over {c['n']} tasks (vs planted truth)")
    summary.add_row("agreement", f"alpha {_num(a.get('alpha'))}, Fleiss' kappa {_num(a.get('fleiss_kappa'))}")
    summary.add_row("raters flagged", f"caught {r['caught']}, missed {r['missed']}, false {r['false']}")
    summary.add_row("paid out", f"{_money(m['paid_out_cents'])} in {m['paid_lines']} lines, batch {m['batch_id']} "
                    f"{m['batch_status']}")
    p = m.get("pay_follows_evidence") or {}
    if p:
        summary.add_row("pay follows evidence",
                        f"honest paid {_money(p['honest_paid_cents'])} of {_money(p['honest_earned_cents'])} earned "
                        f"({p['honest_paid_share']}); honest median {_money(p['honest_median_paid_cents'])}, "
                        f"bad raters at most {_money(p['bad_max_paid_cents'])} (limit {_money(p['bad_limit_cents'])})")
    summary.add_row("ledger", f"sums to {m['ledger']['ledger_total_cents']} cents; "
                    f"{len(m['ledger']['unbalanced_transactions'])} unbalanced transactions")
    e = report["export"]
    conf = e["confidence"]
    per_pair, per_hour = e["judgments_per_pair"], e["pairs_per_worker_hour"]
    summary.add_row("preference pairs", f"{e['pairs']} from the day's work, chosen correct {_num(e['chosen_is_correct'])}; "
                    f"ties {e['ties']}, unresolved {e['unresolved']}")
    summary.add_row("pair cost", f"{'-' if per_pair is None else f'{per_pair:.1f}'} judgments per pair, "
                    f"{'-' if per_hour is None else f'{per_hour:.1f}'} pairs per worker-hour")
    summary.add_row("pair confidence", f"mean {_num(conf['mean'])}, median {_num(conf['median'])}, p10 "
                    f"{_num(conf['p10'])}; " + ", ".join(f"{label}: {band['pairs']}"
                                                         for label, band in e["by_confidence"].items()))
    summary.add_row("webhooks", ", ".join(f"{k} {v}" for k, v in report["webhooks"]["received"].items()) or "none")
    for label in ("claim", "submit"):
        lat = report["latency"].get(label)
        if lat:
            summary.add_row(f"{label} latency", f"p50 {lat['p50_ms']} ms, p95 {lat['p95_ms']} ms (n={lat['n']})")
    console.print(summary)
    groups = Table(title="Worker groups")
    for col in ("group", "workers", "flagged", "judgments", "earned", "paid in batch", "still pending",
                "median hourly (cleared)"):
        groups.add_column(col)
    for name, g in report["groups"].items():
        if g["workers"]:
            groups.add_row(name, str(g["workers"]), str(g["flagged"]), str(g["judgments"]), _money(g["earned_cents"]),
                           _money(g.get("paid_lines_cents")), _money(g.get("pending_clearance_cents")),
                           _money(g["median_hourly_cents"]))
    console.print(groups)
    checks = Table(title="Checks")
    checks.add_column("invariant")
    checks.add_column("result")
    for name, value in report["checks"].items():
        ok = value is True or (isinstance(value, float) and value > 0)
        checks.add_row(name, f"[{'green' if ok else 'red'}]{value}[/]")
    console.print(checks)
    for phase, error in report.get("errors", {}).items():
        console.print(f"[red]{phase} failed: {error}[/red]")
