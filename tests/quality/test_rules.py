"""The rules on synthetic figures: honest workers are left alone, a bad one is flagged only with enough
evidence, severities escalate with the evidence, configuration layers apply."""

import numpy as np
import pytest

from quality.metrics import wilson_interval
from quality.rules import DEFAULT_RULES, evaluate_worker, merge_rules
from quality.scoring import CATEGORICAL, ProjectData, score_project

RULES = merge_rules()
POOL = {"loo_median": 0.85, "loo_sd": 0.4, "label_share": {"a": 0.5, "b": 0.5}}


def stats(**kw):
    base = {"n_judgments": 0, "gold_n": 0, "gold_correct": 0, "gold_upper": None, "loo_agreement": None, "loo_n": 0,
            "median_seconds": None, "n_timed": 0, "top_label": None, "top_count": 0, "top_n": 0}
    base.update(kw)
    return base


def gold(correct, n):
    return {"gold_n": n, "gold_correct": correct, "gold_upper": wilson_interval(correct, n)[1]}


def rules_hit(s, rules=RULES, pool=POOL):
    return {f["rule"]: f["level"] for f in evaluate_worker(s, pool, rules)}


def test_honest_worker_is_not_flagged():
    s = stats(n_judgments=200, **gold(18, 20), loo_agreement=0.8, loo_n=200, median_seconds=45, n_timed=200,
              top_label="a", top_count=104, top_n=200)
    assert rules_hit(s) == {}


@pytest.mark.parametrize("n, expected", [(4, "watch"), (12, "review"), (40, "suspend")])
def test_gold_rule_needs_evidence_and_escalates(n, expected):
    assert rules_hit(stats(**gold(n // 4, n)))["gold"] == expected


def test_gold_rule_only_watches_while_the_upper_bound_is_above_the_threshold():
    assert rules_hit(stats(**gold(1, 2)))["gold"] == "watch"  # 50% on two items: upper bound ~0.9
    assert "gold" not in rules_hit(stats(**gold(7, 10)))


@pytest.mark.parametrize("n, expected", [(8, "watch"), (30, "review"), (150, "suspend")])
def test_agreement_rule_needs_evidence(n, expected):
    assert rules_hit(stats(loo_agreement=0.45, loo_n=n))["agreement"] == expected


def test_agreement_slightly_below_the_pool_is_at_most_watched():
    assert rules_hit(stats(loo_agreement=0.78, loo_n=300)).get("agreement") in (None, "watch")


def test_fast_rule():
    assert rules_hit(stats(median_seconds=3.0, n_timed=5))["fast"] == "watch"
    assert rules_hit(stats(median_seconds=3.0, n_timed=30))["fast"] == "review"
    assert rules_hit(stats(median_seconds=1.0, n_timed=30))["fast"] == "suspend"
    assert "fast" not in rules_hit(stats(median_seconds=12.0, n_timed=300))


def test_same_answer_rule_uses_the_others_share():
    always_a = stats(top_label="a", top_count=40, top_n=40, top_pool_share=0.5)
    assert rules_hit(always_a)["same_answer"] == "suspend"
    assert rules_hit(stats(top_label="a", top_count=8, top_n=8, top_pool_share=0.5))["same_answer"] == "watch"
    # When the truth itself is mostly "a", answering "a" a lot is not suspicious.
    assert "same_answer" not in rules_hit(stats(top_label="a", top_count=27, top_n=30, top_pool_share=0.88))


def test_configuration_layers_and_switches():
    rules = merge_rules({"fast": {"median_seconds_below": 10}}, {"fast": {"enabled": False}, "gold": {"min_n": 50}})
    assert rules["fast"]["median_seconds_below"] == 10 and rules["fast"]["enabled"] is False
    assert rules["gold"]["min_n"] == 50 and rules["gold"]["upper_below"] == DEFAULT_RULES["gold"]["upper_below"]
    assert "fast" not in rules_hit(stats(median_seconds=1.0, n_timed=30), rules)
    assert rules_hit(stats(**gold(10, 40)), rules)["gold"] == "watch"
    assert merge_rules({"unknown": {"x": 1}, "gold": "not a dict"}) == merge_rules()


def test_score_project_flags_a_random_spammer_among_honest_workers():
    """End to end through the pure scorer: 3-way pairwise answers, one worker answering at random."""
    rng = np.random.default_rng(4)
    n_items, n_workers = 400, 12
    truth = rng.choice(3, n_items, p=[0.45, 0.45, 0.10])
    items = np.repeat(np.arange(n_items), 3)
    workers = np.concatenate([rng.choice(n_workers, 3, replace=False) for _ in range(n_items)])
    acc = np.where(np.arange(n_workers) == 0, 0.0, rng.uniform(0.75, 0.95, n_workers))
    correct = rng.random(items.size) < acc[workers]
    labels = np.where(correct, truth[items], (truth[items] + rng.integers(1, 3, items.size)) % 3)
    labels = np.where(workers == 0, rng.integers(0, 3, items.size), labels)
    data = ProjectData(kind=CATEGORICAL, items=items, workers=workers, labels=labels,
                       seconds=rng.uniform(20, 80, items.size), n_items=n_items, n_workers=n_workers,
                       classes=["a", "b", "tie"])
    score = score_project(data, RULES)
    flagged = {w for w, s in enumerate(score.workers) if any(f["level"] in ("review", "suspend") for f in s["findings"])}
    assert flagged == {0}


def test_agreement_rule_falls_back_to_a_binomial_test_without_a_pool_spread():
    pool = {"loo_median": 0.85, "label_share": {}}
    assert rules_hit(stats(loo_agreement=0.45, loo_n=30), pool=pool)["agreement"] == "review"
    assert rules_hit(stats(loo_agreement=0.45, loo_n=8), pool=pool)["agreement"] == "watch"


def test_rules_errors_name_the_setting_at_fault():
    from quality.rules import rules_errors

    assert rules_errors({"fast": {"enabled": False}, "gold": {"min_n": 5}}) == {}
    errors = rules_errors({"gold": {"min_n": "ten", "upper": 1}, "speed": {}, "fast": 3,
                           "agreement": {"enabled": "yes", "margin": -1}})
    assert set(errors) == {"gold.min_n", "gold.upper", "speed", "fast", "agreement.enabled", "agreement.margin"}
    assert rules_errors([1]) == {"rules": ["must be an object of rule name -> settings"]}
