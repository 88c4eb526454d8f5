"""Flagging rules: pure functions over a worker's figures (no Django), shared by the jobs and bench/.

Each rule needs enough evidence before it acts (a minimum count, and a statistical test where the figure
is a rate), so a new worker is never flagged on a handful of judgments. A rule answers one of:
- None: nothing to say;
- "watch": the figure looks bad but the evidence is not yet enough (shown to the worker as a reason);
- "review": open a flag for ops; "suspend": the stricter threshold, suspend until ops decide.

Configuration: DEFAULT_RULES, overridden by settings.QUALITY_RULES, overridden per project by
ProjectQualityPolicy.rules (same keys; merge_rules does the layering).
"""

import copy
import math

from quality.metrics.raters import binomial_cdf, binomial_sf

DEFAULT_RULES: dict[str, dict] = {
    # Gold accuracy: the Wilson upper bound (95%) below the threshold means "certainly worse than this".
    "gold": {"enabled": True, "min_n": 10, "upper_below": 0.6, "suspend_upper_below": 0.45},
    # Leave-one-out agreement far below the pool: one-sided test of the worker's mean agreement against
    # (pool median - margin); p under p_value flags, under suspend_p_value suspends.
    "agreement": {"enabled": True, "min_n": 12, "margin": 0.1, "p_value": 0.001, "suspend_p_value": 1e-6},
    # Implausibly fast: the median seconds per judgment under a floor. The seconds are the server's own
    # measure (Judgment.seconds_spent: claim to submit), never the worker's reported_seconds.
    "fast": {"enabled": True, "min_n": 10, "median_seconds_below": 4.0, "suspend_median_seconds_below": 2.0},
    # Same answer (e.g. always "a"): the worker's most frequent answer far above its share in the pool.
    "same_answer": {"enabled": True, "min_n": 12, "margin": 0.15, "p_value": 0.001, "suspend_p_value": 1e-6},
    # Random answering (nominal categorical schemas, e.g. pairwise): a sequential test of "answers uniformly at random
    # over the schema's options" against "honest, right with an accuracy somewhere between accuracy_floor and
    # accuracy_ceiling" (a uniform prior over it: a Bayes factor), judged against the other raters' leave-one-out
    # consensus and gold. Looked at from the worker's min_n-th judgment on: log LR (natural log) at or above log_lr
    # flags, at or above suspend_log_lr suspends, at or above watch_log_lr watches. An honest worker drawn from the
    # prior ever reaches a threshold h with probability at most e^-h (Ville). accuracy_ceiling at the floor is the
    # earlier test against the floor alone. floor_log_lr > 0: review and suspend also need the ratio against the
    # floor alone at that level, so a rater exactly at the floor keeps a bound of their own (e^-floor_log_lr);
    # off by default (it cost the targets on seeds 20-39), advised for schemas without a tie (docs/quality.md).
    # 3.7 and 20: issue 19's targets, docs/benchmarks.md "Issue 19, fourth pass".
    # real_only_log_lr > 0 (issue 28): the same test on real (non-gold) tasks alone also flags at this level (never
    # below log_lr), so a rater who answers gold well when they can tell it apart cannot clear random answers on
    # the rest with it.
    "random": {"enabled": True, "min_n": 20, "accuracy_floor": 0.65, "accuracy_ceiling": 1.0, "watch_log_lr": 1.0,
               "log_lr": 3.7, "suspend_log_lr": 6.9, "floor_log_lr": 0.0, "real_only_log_lr": 0.0},
    # Change over time (issue 28): a CUSUM of the random test's per-judgment log LR against an honest rater at
    # `accuracy`, in time order. It forgets what came before the worker's last low point, so 15 good answers
    # bank nothing a rater who then turns random can spend. Flags at log_lr (from the worker's min_n-th
    # judgment on, on a stretch of at least min_length judgments), suspends at suspend_log_lr.
    # A CUSUM has no Ville bound: an honest rater's chance of crossing grows about linearly with their number of
    # judgments, so past `horizon` judgments both thresholds rise by log(n / horizon) (the same chance per
    # worker however long they work).
    "change": {"enabled": True, "min_n": 20, "accuracy": 0.7, "log_lr": 7.0, "suspend_log_lr": 10.0,
               "min_length": 8, "horizon": 60},
    # Gold record apart from agreement (issue 28): the random test on gold answers alone (random_answer_mixture
    # with the random rule's floor and ceiling, the truth as reference), whatever the worker's agreement with
    # other raters. Flags at log_lr from min_n gold answers on, suspends at suspend_log_lr.
    "gold_record": {"enabled": True, "min_n": 5, "log_lr": 5.0, "suspend_log_lr": 6.9},
    # Collusion (issue 28, quality.metrics.collusion): pairs who shared at least min_shared real tasks and agreed
    # on them more often than either agrees with their other co-raters plus margin (binomial p < agree_p), or
    # who shared far more tasks than independent workers would (Poisson p < cooccur_p / number of worker pairs,
    # when they agree at least as often as the project's co-raters do). Linked pairs form a group; each member
    # gets a review finding naming the group and the tasks shared; one_voice = 1: consensus counts the group as
    # one voice per task (its first judgment there) until ops decide.
    # Copying (issue 28): a worker who agrees with the co-raters who answered a task before them far more often
    # than with those who answered after them (one-sided two-proportion z-test at p_value, with at least
    # min_pairs earlier and later co-raters each) gives what others gave rather than their own judgment.
    # drop_votes = 1: while flagged by this test, their votes leave the consensus (they add nothing).
    "copying": {"enabled": True, "min_pairs": 10, "p_value": 1e-4, "suspend_p_value": 1e-7, "drop_votes": 1},
    "collusion": {"enabled": True, "min_shared": 6, "agree_p": 1e-4, "cooccur_p": 0.01, "margin": 0.15,
                  "one_voice": 1},
    # Adaptive gold (quality.gold): not a rule that flags, but driven by the rules' tests. A worker's gold share
    # rises with the doubt about them (their random log LR between -honest_log_lr and the review threshold,
    # raised to `power`), from the project's gold_share up to `cap`; the project's mean stays within its
    # gold_share + `budget`.
    "adaptive_gold": {"enabled": True, "cap": 0.8, "budget": 0.03, "honest_log_lr": 0.5, "power": 2.0,
                      "skip_flagged": 1, "split_signals": 0},
}
SEVERITY_ORDER = {None: 0, "watch": 1, "review": 2, "suspend": 3}


def merge_rules(*layers: dict | None) -> dict:
    """DEFAULT_RULES with each layer's keys on top ({"fast": {"enabled": False}} switches one rule off)."""
    merged = copy.deepcopy(DEFAULT_RULES)
    for layer in layers:
        for rule, values in (layer or {}).items():
            if rule in merged and isinstance(values, dict):
                merged[rule].update(values)
    return merged


def _finding(rule: str, level: str | None, message: str, **evidence) -> dict | None:
    if level is None:
        return None
    return {"rule": rule, "level": level, "message": message, "evidence": evidence}


def rule_gold(stats: dict, cfg: dict) -> dict | None:
    n, upper = stats.get("gold_n") or 0, stats.get("gold_upper")
    if upper is None or n == 0 or (isinstance(upper, float) and math.isnan(upper)):
        return None
    accuracy = (stats.get("gold_correct") or 0) / n
    evidence = {"gold_n": n, "gold_correct": stats.get("gold_correct"), "gold_upper": round(upper, 4),
                "threshold": cfg["upper_below"]}
    if accuracy >= cfg["upper_below"]:
        return None
    if upper >= cfg["upper_below"] or n < cfg["min_n"]:
        return _finding("gold", "watch", f"Gold accuracy is low so far ({n} gold answers).", **evidence)
    level = "suspend" if upper < cfg["suspend_upper_below"] else "review"
    return _finding("gold", level, f"Gold accuracy is below {cfg['upper_below']:.0%} even at its upper bound.",
                    **evidence)


def _normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def rule_agreement(stats: dict, pool: dict, cfg: dict) -> dict | None:
    """One-sided test of the worker's mean leave-one-out agreement against (pool median - margin): a z-test
    with the project's per-judgment standard deviation when known, else a binomial test."""
    n, mean, pool_median = stats.get("loo_n") or 0, stats.get("loo_agreement"), pool.get("loo_median")
    if not n or mean is None or pool_median is None or math.isnan(mean) or math.isnan(pool_median):
        return None
    reference = max(0.0, pool_median - cfg["margin"])
    if mean >= reference or reference <= 0:
        return None
    sd = pool.get("loo_sd")
    if sd:
        p = _normal_cdf((mean - reference) / (sd / math.sqrt(n)))
    else:
        p = binomial_cdf(int(math.floor(mean * n + 1e-9)), n, reference)
    evidence = {"loo_agreement": round(mean, 4), "loo_n": n, "pool_median": round(pool_median, 4),
                "reference": round(reference, 4), "p_value": p}
    if n < cfg["min_n"] or p >= cfg["p_value"]:
        return _finding("agreement", "watch", "Agreement with other raters is below the pool's.", **evidence)
    level = "suspend" if p < cfg["suspend_p_value"] else "review"
    return _finding("agreement", level, "Agreement with other raters is far below the pool's.", **evidence)


def rule_fast(stats: dict, cfg: dict) -> dict | None:
    n, median = stats.get("n_timed") or 0, stats.get("median_seconds")
    if not n or median is None or math.isnan(median) or median >= cfg["median_seconds_below"]:
        return None
    evidence = {"median_seconds": round(median, 2), "n_timed": n, "floor": cfg["median_seconds_below"]}
    if n < cfg["min_n"]:
        return _finding("fast", "watch", "Answers come faster than the task can be read.", **evidence)
    level = "suspend" if median < cfg["suspend_median_seconds_below"] else "review"
    return _finding("fast", level, f"Median time per task is under {cfg['median_seconds_below']} s.", **evidence)


def rule_same_answer(stats: dict, pool: dict, cfg: dict) -> dict | None:
    n, top, label = stats.get("top_n") or 0, stats.get("top_count") or 0, stats.get("top_label")
    share = stats.get("top_pool_share")
    if share is None:
        share = (pool.get("label_share") or {}).get(label)
    if not n or share is None:
        return None
    reference = min(0.99, share + cfg["margin"])
    if top / n <= reference:
        return None
    p = binomial_sf(top, n, reference)
    evidence = {"answer": label, "count": top, "n": n, "pool_share": round(share, 4), "p_value": p}
    if n < cfg["min_n"] or p >= cfg["p_value"]:
        return _finding("same_answer", "watch", "Gives the same answer more often than the pool.", **evidence)
    level = "suspend" if p < cfg["suspend_p_value"] else "review"
    return _finding("same_answer", level, f"Answers {label!r} far more often than chance.", **evidence)


def rule_random(stats: dict, cfg: dict) -> dict | None:
    """A sequential likelihood-ratio test, one per worker: random_log_lr is log P(answers | random answering) -
    log P(answers | honest), the honest likelihood averaged over accuracies from the floor to the ceiling
    (quality.metrics.random_answer_mixture_log_lr), recomputed from all their approved judgments at every run. No
    lower boundary: an honest rater's figure drifts down, and e^-log_lr bounds the chance that an honest rater
    drawn from the prior ever reaches log_lr. It acts from min_n judgments on: early streaks of bad luck, which
    an honest rater's figure mostly walks back, never flag (docs/quality.md)."""
    n, llr = stats.get("random_n") or 0, stats.get("random_log_lr")
    real_llr, real_n = stats.get("real_log_lr"), stats.get("real_n") or 0
    # Real tasks alone (real_only_log_lr > 0): gold answered well when the worker can tell it apart does not
    # clear random answers on the real tasks.
    real_hit = bool(cfg.get("real_only_log_lr")) and real_llr is not None and not math.isnan(real_llr) \
        and real_n >= cfg["min_n"] and real_llr >= max(cfg["real_only_log_lr"], cfg["log_lr"])
    if not real_hit and (not n or llr is None or math.isnan(llr) or llr < cfg["watch_log_lr"]):
        return None
    floor_llr = stats.get("random_floor_log_lr")
    # Review and suspend also need the ratio against the floor alone at floor_log_lr: a rater right at the floor
    # then reaches a flag with probability <= e^-floor_log_lr whatever the schema (0: no such condition).
    floor_ok = not cfg.get("floor_log_lr") or (floor_llr is not None and floor_llr >= cfg["floor_log_lr"])
    evidence = {"random_n": n, "log_lr": round(llr, 3), "threshold": cfg["log_lr"],
                "suspend_threshold": cfg["suspend_log_lr"], "accuracy_floor": cfg["accuracy_floor"],
                "accuracy_ceiling": max(cfg["accuracy_ceiling"], cfg["accuracy_floor"]),
                "floor_log_lr": None if floor_llr is None else round(floor_llr, 3),
                "floor_threshold": cfg.get("floor_log_lr", 0.0), "options": stats.get("random_options")}
    if real_llr is not None and not math.isnan(real_llr):  # the test on real tasks alone, when it ran
        evidence.update(real_n=real_n, real_log_lr=round(real_llr, 3),
                        real_only_threshold=cfg.get("real_only_log_lr", 0.0))
    if real_hit and not (n >= cfg["min_n"] and llr >= cfg["log_lr"] and floor_ok):
        level = "suspend" if real_llr >= cfg["suspend_log_lr"] else "review"
        return _finding("random", level, f"Over {real_n} judgments of real tasks (gold left out) the answers match "
                        "the other raters' no better than random answers would.", **evidence)
    if n < cfg["min_n"] or llr < cfg["log_lr"] or not floor_ok:
        return _finding("random", "watch", "Your answers match the other raters' less often than expected so far.",
                        **evidence)
    level = "suspend" if llr >= cfg["suspend_log_lr"] else "review"
    return _finding("random", level, f"Over {n} judgments your answers match the other raters' no better than "
                    "random answers would.", **evidence)


def rule_change(stats: dict, cfg: dict) -> dict | None:
    """The CUSUM of the random test (quality.metrics.cusum_log_lr): answers likelier random than honest over a
    recent stretch, however good the worker was before it."""
    llr, n = stats.get("change_log_lr"), stats.get("n_judgments") or 0
    length, start = stats.get("change_length") or 0, stats.get("change_start") or 0
    # Past the horizon, the thresholds rise with log(n / horizon): the CUSUM has more chances to cross.
    extra = math.log(n / cfg["horizon"]) if cfg.get("horizon") and n > cfg["horizon"] else 0.0
    threshold, suspend = cfg["log_lr"] + extra, cfg["suspend_log_lr"] + extra
    if llr is None or math.isnan(llr) or llr < threshold / 2:
        return None
    evidence = {"log_lr": round(llr, 3), "threshold": round(threshold, 3), "suspend_threshold": round(suspend, 3),
                "from_judgment": start, "to_judgment": start + length - 1, "stretch": length,
                "accuracy": cfg["accuracy"]}
    if n < cfg["min_n"] or llr < threshold or length < cfg["min_length"]:
        return _finding("change", "watch", "Recent answers match the other raters' less often than before.",
                        **evidence)
    level = "suspend" if llr >= suspend else "review"
    return _finding("change", level, f"From judgment {start} to {start + length - 1} ({length} judgments) the "
                    "answers match the other raters and gold no better than random answers would, though earlier "
                    "ones did.", **evidence)


def rule_gold_record(stats: dict, cfg: dict) -> dict | None:
    """The random test on gold answers alone: a poor gold record is doubted whatever the agreement."""
    llr, n = stats.get("gold_log_lr"), stats.get("gold_n") or 0
    if llr is None or math.isnan(llr) or llr < cfg["log_lr"] / 2:
        return None
    evidence = {"log_lr": round(llr, 3), "threshold": cfg["log_lr"], "suspend_threshold": cfg["suspend_log_lr"],
                "gold_n": n, "gold_correct": stats.get("gold_correct"),
                "loo_agreement": None if stats.get("loo_agreement") is None else round(stats["loo_agreement"], 4),
                "real_log_lr": None if stats.get("real_log_lr") is None else round(stats["real_log_lr"], 3)}
    if n < cfg["min_n"] or llr < cfg["log_lr"]:
        return _finding("gold_record", "watch", "Gold answers are poor so far.", **evidence)
    level = "suspend" if llr >= cfg["suspend_log_lr"] else "review"
    agreement = stats.get("loo_agreement")
    tail = "" if agreement is None else f", though agreement with other raters is {agreement:.0%}"
    return _finding("gold_record", level, f"{stats.get('gold_correct')} of {n} gold answers right: no better than "
                    f"random answers{tail}.", **evidence)


def rule_copying(stats: dict, cfg: dict) -> dict | None:
    """Agreement with earlier co-raters against agreement with later ones (quality.metrics.collusion.order_agreement)."""
    e, ne, lat, nl = (stats.get(k) for k in ("earlier_agreed", "earlier_n", "later_agreed", "later_n"))
    if not ne or not nl:
        return None
    pe, pl = e / ne, lat / nl
    if pe <= pl:
        return None
    pooled = (e + lat) / (ne + nl)
    if pooled <= 0 or pooled >= 1:
        return None
    z = (pe - pl) / math.sqrt(pooled * (1 - pooled) * (1 / ne + 1 / nl))
    p = _normal_cdf(-z)
    evidence = {"earlier_agreement": round(pe, 4), "earlier_n": ne, "later_agreement": round(pl, 4), "later_n": nl,
                "p_value": p}
    if min(ne, nl) < cfg["min_pairs"] or p >= cfg["p_value"]:
        return _finding("copying", "watch", "Answers follow the earlier raters of a task more than the later ones.",
                        **evidence) if p < 0.05 else None
    level = "suspend" if p < cfg["suspend_p_value"] else "review"
    return _finding("copying", level, f"Agrees with the raters who answered a task before them {pe:.0%} of the "
                    f"time ({ne} pairs) but with those who answered after them only {pl:.0%} ({nl} pairs): the "
                    "answers follow what others gave rather than the task.", **evidence)


def rule_collusion(stats: dict, cfg: dict) -> dict | None:
    """A member of a group of raters who agree with each other far more than with the rest, or keep landing on
    the same tasks (scoring finds the groups: quality.metrics.collusion.collusion_groups)."""
    group = stats.get("collusion_group")
    if not group:
        return None
    shared, agreed, rest = group["shared"], group["agreed"], group["agree_rest"]
    evidence = {"group_workers": group["workers"], "shared_tasks": group["items"],
                "pairs": [{k: p[k] for k in ("partner", "shared", "agreed", "expected_shared", "agree_rest",
                                             "p_agree", "p_cooccur")} for p in group["pairs"]],
                "shared": shared, "agreed": agreed, "agree_rest": rest}
    rest_words = "" if rest is None else f", against {rest:.0%} with the other raters of their tasks"
    return _finding("collusion", "review", f"One of a group of {len(group['workers'])} raters: shared {shared} tasks "
                    f"with the others of the group and gave the same answer on {agreed} of them{rest_words}. "
                    "Consensus counts the group as one voice until ops decide.", **evidence)


def evaluate_worker(stats: dict, pool: dict, rules: dict) -> list[dict]:
    """All findings for one worker in one project (each {rule, level, message, evidence}), worst first.

    stats: n_judgments, gold_n, gold_correct, gold_upper, loo_agreement, loo_n, median_seconds, n_timed,
    top_label, top_count, top_n, top_pool_share (the label's share among the others), random_log_lr, random_n,
    random_options. pool: loo_median, label_share {label: share of all judgments}.
    """
    findings = []
    if rules["gold"]["enabled"]:
        findings.append(rule_gold(stats, rules["gold"]))
    if rules["agreement"]["enabled"]:
        findings.append(rule_agreement(stats, pool, rules["agreement"]))
    if rules["fast"]["enabled"]:
        findings.append(rule_fast(stats, rules["fast"]))
    if rules["same_answer"]["enabled"]:
        findings.append(rule_same_answer(stats, pool, rules["same_answer"]))
    if rules["random"]["enabled"]:
        findings.append(rule_random(stats, rules["random"]))
    if rules["change"]["enabled"]:
        findings.append(rule_change(stats, rules["change"]))
    if rules["gold_record"]["enabled"]:
        findings.append(rule_gold_record(stats, rules["gold_record"]))
    if rules["collusion"]["enabled"]:
        findings.append(rule_collusion(stats, rules["collusion"]))
    if rules["copying"]["enabled"]:
        findings.append(rule_copying(stats, rules["copying"]))
    found = [f for f in findings if f is not None]
    return sorted(found, key=lambda f: -SEVERITY_ORDER[f["level"]])


def rules_errors(overrides) -> dict[str, list[str]]:
    """What is wrong with a rules override (QUALITY_RULES or a project's policy), by "rule.key"."""
    errors: dict[str, list[str]] = {}
    if not isinstance(overrides, dict):
        return {"rules": ["must be an object of rule name -> settings"]}
    for rule, values in overrides.items():
        if rule not in DEFAULT_RULES:
            errors[rule] = [f"unknown rule; one of {', '.join(DEFAULT_RULES)}"]
            continue
        if not isinstance(values, dict):
            errors[rule] = ["must be an object of setting -> value"]
            continue
        for key, value in values.items():
            if key not in DEFAULT_RULES[rule]:
                errors[f"{rule}.{key}"] = [f"unknown setting; one of {', '.join(DEFAULT_RULES[rule])}"]
            elif key == "enabled":
                if not isinstance(value, bool):
                    errors[f"{rule}.{key}"] = ["must be true or false"]
            elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                errors[f"{rule}.{key}"] = ["must be a number >= 0"]
            elif key == "accuracy_floor" and not 0.5 < value < 1:
                # Above chance for every schema the rule applies to (two answers: 0.5), else it tests nothing.
                errors[f"{rule}.{key}"] = ["must be above 0.5 and below 1"]
            elif key == "accuracy" and not 0.5 < value < 1:
                errors[f"{rule}.{key}"] = ["must be above 0.5 and below 1"]
            elif key == "accuracy_ceiling" and not 0.5 < value <= 1:
                # At or below the floor it is the floor: the honest hypothesis is then the floor alone.
                errors[f"{rule}.{key}"] = ["must be above 0.5 and at most 1"]
    return errors
