"""Adaptive gold: each worker's share of gold rises with the doubt about them and falls back once it is resolved.

Pure numpy (no Django), shared by the recompute (quality.services.recompute stores the shares) and
bench/quality_efficacy.py. Gold is where the truth is known: on gold, the random-answering test compares an
answer with the truth instead of with two other raters (themselves wrong 5-35% of the time), so each gold
judgment of a worker in doubt moves their test further than a real one. Spending the gold budget there rather
than evenly is what lets the tests decide within 30 judgments.

Doubt comes from each worker's sequential test in the project:
- the random rule's log likelihood ratio (random : honest, quality.rules.rule_random). It starts at 0; an
  honest rater's drifts down, a clicker's up. Doubt is 0 once it is at or below -honest_log_lr (resolved:
  honest) or at or above the rule's review threshold (resolved: flagged, ops decide), and in between rises
  linearly from -honest_log_lr to the threshold: the closer to a flag, the more gold;
- where the schema has no random test (ratings, flags, rankings), the agreement rule's evidence: the one-sided
  p-value of the worker's leave-one-out agreement against the pool's reference; doubt is 1 - p / 0.5 while the
  worker is below the reference and the test has not flagged them (p >= p_value), 0 otherwise.

The extra gold above the project's share (its floor) is split in proportion to doubt, at most cap - floor each,
and scaled so that the judgment-weighted mean over the project's workers is the floor plus `budget`: the
project's gold budget holds on average, however many workers are in doubt.
"""

import math

import numpy as np

DEFAULTS = {"enabled": True, "cap": 0.8, "budget": 0.03, "honest_log_lr": 0.5, "power": 2.0, "skip_flagged": 1,
            "split_signals": 0}


def doubt_from_log_lr(log_lr, *, flag_log_lr: float, honest_log_lr: float) -> np.ndarray:
    """Doubt in [0, 1] from the random rule's log LR (NaN: no test yet, counted as the start, 0)."""
    llr = np.nan_to_num(np.asarray(log_lr, dtype=np.float64), nan=0.0)
    doubt = (llr + honest_log_lr) / (flag_log_lr + honest_log_lr)
    doubt = np.clip(doubt, 0.0, 1.0)
    return np.where(llr >= flag_log_lr, 0.0, doubt)


def doubt_from_agreement(p_values, *, flag_p_value: float) -> np.ndarray:
    """Doubt in [0, 1] from the agreement rule's one-sided p-value (NaN or None: not below the reference, 0)."""
    p = np.array([np.nan if v is None else v for v in p_values], dtype=np.float64)
    doubt = np.clip(1.0 - p / 0.5, 0.0, 1.0)
    return np.where(np.isnan(p) | (p < flag_p_value), 0.0, doubt)


def gold_shares(doubt, weights, *, floor: float, cap: float, budget: float) -> np.ndarray:
    """Each worker's gold share: floor + k * doubt, at most cap, with k such that the weighted mean of the
    extra is budget (or less, when every worker in doubt is already at the cap). weights: how many judgments
    each worker is expected to make (their judgments so far in the project)."""
    doubt = np.asarray(doubt, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    room = max(cap - floor, 0.0)
    shares = np.full(doubt.shape, floor, dtype=np.float64)
    total = weights.sum()
    if room == 0 or budget <= 0 or total <= 0 or not (doubt > 0).any():
        return shares
    spend = budget * total  # extra gold judgments to place

    def placed(k):
        return float((weights * np.minimum(k * doubt, room)).sum())

    high = room / doubt[doubt > 0].min()  # every worker in doubt at the cap
    if placed(high) <= spend:
        k = high
    else:
        low = 0.0
        for _ in range(60):  # bisection: placed() is continuous and non-decreasing in k
            mid = (low + high) / 2
            low, high = (mid, high) if placed(mid) < spend else (low, mid)
        k = low
    return floor + np.minimum(k * doubt, room)


def worker_gold_shares(workers: list[dict], *, floor: float, rules: dict, cfg: dict | None = None) -> list[float]:
    """Shares for score_project's per-worker figures (random_log_lr, random_n, n_judgments, and the agreement
    finding's p_value) under the project's rules. A worker with no figures gets the floor."""
    cfg = {**DEFAULTS, **(cfg or rules.get("adaptive_gold") or {})}
    if not cfg["enabled"] or not workers:
        return [floor] * len(workers)
    llr = np.array([math.nan if w.get("random_log_lr") is None else w["random_log_lr"] for w in workers])
    if (~np.isnan(llr)).any() and rules["random"]["enabled"]:
        honest = float(cfg["honest_log_lr"])
        doubt = doubt_from_log_lr(llr, flag_log_lr=float(rules["random"]["log_lr"]), honest_log_lr=honest)
        if cfg.get("split_signals"):
            doubt = np.maximum(doubt, _split_doubt(workers, rules, honest))
    else:
        p = [next((f["evidence"].get("p_value") for f in w.get("findings", []) if f["rule"] == "agreement"), None)
             for w in workers]
        doubt = doubt_from_agreement(p, flag_p_value=float(rules["agreement"]["p_value"]))
    doubt = doubt ** float(cfg["power"])
    # Already flagged by any rule: resolved for now (ops decide); gold would tell nothing new.
    flagged = np.array([any(f["level"] in ("review", "suspend") for f in w.get("findings", [])) for w in workers])
    doubt = np.where(flagged & bool(cfg["skip_flagged"]), 0.0, doubt)
    weights = np.array([w.get("n_judgments") or 0 for w in workers], dtype=np.float64)
    return gold_shares(doubt, weights, floor=floor, cap=max(float(cfg["cap"]), floor),
                       budget=float(cfg["budget"])).tolist()


def _split_doubt(workers: list[dict], rules: dict, honest: float) -> np.ndarray:
    """Doubt from the tests that look at one kind of evidence (issue 28), each resolved as the combined one is:
    - gold alone (rules.rule_gold_record): a poor gold record raises doubt whatever the agreement, so a ring
      whose members agree with each other (the combined ratio reads honest) is served gold once its gold slips;
      a worker without gold answers yet adds nothing here;
    - real tasks alone (rule_random's real_only_log_lr): good gold does not hide random answers elsewhere;
    - the CUSUM (rules.rule_change), by its value now over its threshold: a rater who has just turned.
    The largest of them counts."""

    def column(key):
        return np.array([math.nan if w.get(key) is None else w[key] for w in workers], dtype=np.float64)

    doubt = np.zeros(len(workers))
    gold_cfg, change_cfg, random_cfg = rules.get("gold_record"), rules.get("change"), rules["random"]
    if gold_cfg and gold_cfg.get("enabled"):
        gold = column("gold_log_lr")
        d = doubt_from_log_lr(gold, flag_log_lr=float(gold_cfg["log_lr"]), honest_log_lr=honest)
        doubt = np.maximum(doubt, np.where(np.isnan(gold), 0.0, d))
    if random_cfg.get("real_only_log_lr"):
        real = column("real_log_lr")
        d = doubt_from_log_lr(real, flag_log_lr=float(random_cfg["real_only_log_lr"]), honest_log_lr=honest)
        doubt = np.maximum(doubt, np.where(np.isnan(real), 0.0, d))
    if change_cfg and change_cfg.get("enabled"):
        now = np.nan_to_num(column("change_log_lr_now"), nan=0.0)
        doubt = np.maximum(doubt, np.clip(now / float(change_cfg["log_lr"]), 0.0, 1.0))
    return doubt
