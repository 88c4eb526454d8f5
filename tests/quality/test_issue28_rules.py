"""Issue 28's checks against cheating workforces: change over time (CUSUM), gold apart from agreement (the random
test on gold alone and on real tasks alone, and the adaptive gold they drive), collusion groups (found, shown with
ids, counted as one voice). Each check is tried with the behaviour it is meant to catch and with the behaviour that
would beat it (what beating it costs the cheat is said in the test)."""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from quality.gold import worker_gold_shares
from quality.metrics import cusum_log_lr, random_answer_log_lr
from quality.metrics.collusion import collusion_groups, poisson_sf
from quality.rules import (
    evaluate_worker,
    merge_rules,
    rule_change,
    rule_collusion,
    rule_gold_record,
    rule_random,
    rules_errors,
)
from quality.scoring import CATEGORICAL, ProjectData, score_project
from quality.selectors import _worker_reasons
from quality.services.recompute import _with_ids

RULES = merge_rules()
ACTIONABLE = ("review", "suspend")


def level(stats: dict, rule: str) -> str | None:
    return next((f["level"] for f in stats["findings"] if f["rule"] == rule), None)


# --- change over time -------------------------------------------------------------------------------------------

def test_cusum_worked_values():
    """4 answers right then 5 wrong, against the truth (1/0), accuracy 0.75, three options: each right answer adds
    log(1/3 / 0.75), each wrong one log(1/3 / 0.125); the CUSUM forgets the first four."""
    reference = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0], dtype=float)
    best, now, start, length = cusum_log_lr(reference, np.zeros(9, dtype=int), n_workers=1, n_options=3,
                                            accuracy=0.75, min_n=1)
    assert best[0] == pytest.approx(5 * math.log((1 / 3) / 0.125))
    assert now[0] == pytest.approx(best[0])
    assert (start[0], length[0]) == (5, 5)
    # The cumulative sum is what the random test banks: the good start still outweighs most of the bad stretch.
    cumulative = random_answer_log_lr(reference, n_options=3, accuracy_floor=0.75).sum()
    assert cumulative < best[0] - 3


def test_cusum_needs_min_n_and_leaves_out_unusable_references():
    reference = np.array([0, 0, np.nan, 0, 0], dtype=float)
    best, _, _, _ = cusum_log_lr(reference, np.zeros(5, dtype=int), n_workers=2, n_options=3, accuracy=0.75,
                                 min_n=5)
    assert np.isnan(best).all()  # 4 usable judgments < min_n; worker 1 has none
    best, _, _, length = cusum_log_lr(reference, np.zeros(5, dtype=int), n_workers=1, n_options=3, accuracy=0.75,
                                      min_n=4)
    assert length[0] == 4 and best[0] > 0


def _stream(rng, n: int, accuracy_by_step) -> np.ndarray:
    """Per judgment 1 (agrees with the truth) or 0, with the given accuracy at each step (gold-like reference)."""
    return (rng.random(n) < np.asarray(accuracy_by_step)).astype(float)


def _change_level(reference: np.ndarray) -> str | None:
    cfg = RULES["change"]
    best, now, start, length = cusum_log_lr(reference, np.zeros(reference.size, dtype=int), n_workers=1,
                                            n_options=3, accuracy=cfg["accuracy"], min_n=cfg["min_n"])
    stats = {"n_judgments": reference.size, "change_log_lr": float(best[0]), "change_start": int(start[0]),
             "change_length": int(length[0])}
    finding = rule_change(stats, cfg)
    return None if finding is None else finding["level"]


def test_a_sleeper_is_caught_by_the_change_rule_where_the_cumulative_test_is_not():
    """Honest at 0.9 for 15 judgments, then random, over 60 judgments: judged against the truth, the change rule
    flags most of them; the cumulative test at the same threshold fewer (15 good answers are banked)."""
    rng = np.random.default_rng(7)
    caught_change = caught_cumulative = 0
    for _ in range(200):
        reference = _stream(rng, 60, [0.9] * 15 + [1 / 3] * 45)
        caught_change += _change_level(reference) in ACTIONABLE
        cumulative = random_answer_log_lr(reference, n_options=3, accuracy_floor=RULES["change"]["accuracy"])
        caught_cumulative += cumulative.sum() >= RULES["change"]["log_lr"]
    assert caught_change >= 0.9 * 200
    assert caught_cumulative < caught_change - 20


def test_honest_raters_rarely_trip_the_change_rule():
    """Honest raters drawn from 0.65-0.95 over 60 judgments against the truth: under 1% flagged."""
    rng = np.random.default_rng(11)
    flagged = sum(_change_level(_stream(rng, 60, [rng.uniform(0.65, 0.95)] * 60)) in ACTIONABLE
                  for _ in range(1000))
    assert flagged <= 10


def _change_level_cfg(reference: np.ndarray, cfg: dict) -> str | None:
    best, _, start, length = cusum_log_lr(reference, np.zeros(reference.size, dtype=int), n_workers=1,
                                          n_options=3, accuracy=cfg["accuracy"], min_n=cfg["min_n"])
    finding = rule_change({"n_judgments": reference.size, "change_log_lr": float(best[0]),
                           "change_start": int(start[0]), "change_length": int(length[0])}, cfg)
    return None if finding is None else finding["level"]


def test_long_careers_do_not_pile_up_false_flags():
    """Honest raters over 600 judgments (against the truth): the thresholds rise with log(n / horizon), so the
    share flagged stays under 1%; the broken variant (no horizon) flags more of them."""
    rng = np.random.default_rng(17)
    streams = [_stream(rng, 600, [rng.uniform(0.65, 0.95)] * 600) for _ in range(300)]
    cfg = RULES["change"]
    flagged = sum(_change_level_cfg(s, cfg) in ACTIONABLE for s in streams)
    unscaled = sum(_change_level_cfg(s, {**cfg, "horizon": 0}) in ACTIONABLE for s in streams)
    assert flagged <= 3 and unscaled > flagged


def test_a_sleeper_who_keeps_doing_half_the_work_is_not_caught_and_that_is_the_price():
    """What beats the change rule: turning bad only halfway (right 60% of the time after the turn, above the
    accuracy the rule tests against). The cheat then still does most of the work: this is the cost."""
    rng = np.random.default_rng(3)
    flagged = sum(_change_level(_stream(rng, 60, [0.9] * 15 + [0.6] * 45)) in ACTIONABLE
                  for _ in range(200))
    assert flagged < 0.35 * 200


# --- gold apart from agreement ----------------------------------------------------------------------------------

def test_a_poor_gold_record_is_doubted_whatever_the_agreement():
    """A ring member: agreement reads honest (their ring is the consensus), gold 1 right of 7."""
    stats = {"gold_log_lr": 5.4, "gold_n": 7, "gold_correct": 1, "loo_agreement": 0.97, "real_log_lr": -30.0}
    finding = rule_gold_record(stats, RULES["gold_record"])
    assert finding["level"] in ACTIONABLE
    assert "1 of 7 gold answers right" in finding["message"] and "97%" in finding["message"]
    # Too few gold answers: watch only.
    assert rule_gold_record({**stats, "gold_n": RULES["gold_record"]["min_n"] - 1},
                            RULES["gold_record"])["level"] == "watch"
    # Good gold: nothing.
    assert rule_gold_record({**stats, "gold_log_lr": -3.0}, RULES["gold_record"]) is None


def test_gold_answered_well_does_not_clear_random_answers_on_real_tasks():
    """A gold-detector: the combined ratio is cleared by their good gold, the real-tasks-only ratio is not (opt-in:
    off by default, docs/quality.md)."""
    assert RULES["random"]["real_only_log_lr"] == 0
    cfg = merge_rules({"random": {"real_only_log_lr": 5.0}})["random"]
    stats = {"random_n": 30, "random_log_lr": 1.5, "real_n": 24, "real_log_lr": cfg["real_only_log_lr"] + 0.5,
             "random_options": 3}
    finding = rule_random(stats, cfg)
    assert finding["level"] in ACTIONABLE and "gold left out" in finding["message"]
    # The broken variant (the real-only condition off) lets them through.
    assert rule_random(stats, {**cfg, "real_only_log_lr": 0})["level"] == "watch"
    # Not before min_n real judgments.
    assert rule_random({**stats, "real_n": cfg["min_n"] - 1}, cfg)["level"] == "watch"


def test_gold_doubt_alone_raises_a_workers_gold_share():
    """High agreement, poor gold: the combined ratio reads honest, the gold-only one is near the flag. The worker
    gets more gold than the floor; with the split signals off (the earlier design) only the floor."""
    honest = {"random_log_lr": -8.0, "random_n": 30, "n_judgments": 30, "findings": [], "gold_log_lr": -2.0,
              "real_log_lr": -7.0, "change_log_lr_now": 0.0}
    ring = {**honest, "random_log_lr": -12.0, "gold_log_lr": RULES["gold_record"]["log_lr"] - 0.5,
            "real_log_lr": -20.0}
    on = merge_rules({"adaptive_gold": {"split_signals": 1}})
    shares = worker_gold_shares([honest] * 20 + [ring], floor=0.05, rules=on)
    assert shares[-1] > 0.3 and shares[0] == pytest.approx(0.05)
    # Off (the default, docs/quality.md: it cost false flags on the bench) and the broken variant: the floor.
    assert worker_gold_shares([honest] * 20 + [ring], floor=0.05, rules=RULES)[-1] == pytest.approx(0.05)


def test_a_rater_who_has_just_turned_gets_gold_from_the_cusum():
    on = merge_rules({"adaptive_gold": {"split_signals": 1}})
    honest = {"random_log_lr": -8.0, "random_n": 30, "n_judgments": 30, "findings": [], "change_log_lr_now": 0.0}
    turned = {**honest, "random_log_lr": -4.0, "change_log_lr_now": 0.8 * on["change"]["log_lr"]}
    shares = worker_gold_shares([honest] * 20 + [turned], floor=0.05, rules=on)
    assert shares[-1] > 0.3 and shares[0] == pytest.approx(0.05)


# --- collusion --------------------------------------------------------------------------------------------------

def crowd_with_ring(seed: int, *, together: bool, n_honest: int = 60, rounds: int = 30):
    """Pairwise a/b/tie, overlap 3, tasks served in order to workers in a random order each round (as the
    queue's closest-to-completion order does); a ring of 4 giving one random answer per task, claiming one after
    another (together) or scattered through the round."""
    rng = np.random.default_rng(seed)
    ring = list(range(n_honest, n_honest + 4))
    n_workers = n_honest + 4
    accuracy = np.r_[rng.uniform(0.65, 0.95, n_honest), np.zeros(4)]
    n_items = n_workers * rounds // 3 + 3
    truth = rng.choice(3, n_items, p=[0.45, 0.45, 0.10])
    shared_answer = rng.integers(0, 3, n_items)
    items, workers, labels = [], [], []
    slot = 0
    for _ in range(rounds):
        order = [int(w) for w in rng.permutation(n_honest)]
        if together:
            at = int(rng.integers(0, len(order) + 1))
            order[at:at] = ring
        else:
            for w in ring:
                order.insert(int(rng.integers(0, len(order) + 1)), w)
        for w in order:
            item = slot // 3
            slot += 1
            items.append(item)
            workers.append(w)
            if w in ring:
                labels.append(int(shared_answer[item]))
            else:
                t = truth[item]
                labels.append(int(t if rng.random() < accuracy[w] else (t + rng.integers(1, 3)) % 3))
    data = ProjectData(kind=CATEGORICAL, items=np.array(items), workers=np.array(workers), labels=np.array(labels),
                       seconds=np.full(len(items), 30.0), n_items=n_items, n_workers=n_workers,
                       classes=["a", "b", "tie"])
    return data, ring


def _groups(data, cfg=RULES["collusion"]):
    return collusion_groups(data.items, data.workers, data.labels, n_workers=data.n_workers,
                            min_shared=cfg["min_shared"], cooccur_p=cfg["cooccur_p"], agree_p=cfg["agree_p"],
                            margin=cfg["margin"])


@pytest.mark.parametrize("seed", range(5))
def test_a_ring_that_claims_together_is_found_with_the_tasks_it_shared(seed):
    data, ring = crowd_with_ring(seed, together=True)
    groups = _groups(data)
    assert len(groups) == 1 and groups[0]["workers"] == ring
    shared = {int(i) for i in np.unique(data.items[np.isin(data.workers, ring)])
              if np.isin(data.workers[data.items == i], ring).sum() >= 2}
    assert set(groups[0]["items"]) == shared
    score = score_project(data, RULES)
    for w in ring:
        assert level(score.workers[w], "collusion") == "review"
    assert all(level(s, "collusion") is None for w, s in enumerate(score.workers) if w not in ring)


def test_an_honest_crowd_has_no_groups_even_where_everyone_meets_often():
    """12 honest workers on 200 tasks: every pair shares many tasks (as expected: the Poisson test's reference
    grows with it) and agrees about as often as with anyone else."""
    rng = np.random.default_rng(5)
    n_workers, n_items = 12, 200
    truth = rng.choice(3, n_items, p=[0.45, 0.45, 0.10])
    accuracy = rng.uniform(0.65, 0.95, n_workers)
    items, workers, labels = [], [], []
    for i in range(n_items):
        for w in rng.choice(n_workers, 3, replace=False):
            items.append(i)
            workers.append(int(w))
            t = truth[i]
            labels.append(int(t if rng.random() < accuracy[w] else (t + rng.integers(1, 3)) % 3))
    groups = collusion_groups(np.array(items), np.array(workers), np.array(labels), n_workers=n_workers,
                              min_shared=6, cooccur_p=0.01, agree_p=1e-4, margin=0.15)
    assert groups == []


def test_a_ring_that_scatters_its_claims_is_not_found_but_loses_its_power():
    """What beats the co-occurrence test: claiming apart, so the members rarely share a task. The cost: each is
    then a random answerer among honest raters, and the random test sees it (their ratio climbs; at 30 judgments
    most are past the watch level), and they no longer write their tasks' consensus."""
    data, ring = crowd_with_ring(1, together=False)
    assert _groups(data) == []
    score = score_project(data, RULES)
    assert np.mean([score.workers[w]["random_log_lr"] for w in ring]) > 1.0
    assert np.mean([score.workers[w]["random_log_lr"] for w in range(data.n_workers) if w not in ring]) < -3.0


def test_consensus_counts_the_group_as_one_voice():
    """With one_voice, the consensus is fitted as if only each group's first judgment on a task were there; with
    it off, the ring's votes all count (and write the consensus of the tasks it filled)."""
    data, ring = crowd_with_ring(2, together=True)
    on = score_project(data, RULES)
    off = score_project(data, merge_rules({"collusion": {"one_voice": 0}}))
    filled = [i for i in range(data.n_items) if np.isin(data.workers[data.items == i], ring).sum() >= 2
              and (~np.isin(data.workers[data.items == i], ring)).sum() == 1]
    assert filled
    honest_answer = {i: int(data.labels[(data.items == i) & ~np.isin(data.workers, ring)][0]) for i in filled}
    ring_answer = {i: int(data.labels[(data.items == i) & np.isin(data.workers, ring)][0]) for i in filled}
    differ = [i for i in filled if honest_answer[i] != ring_answer[i]]
    assert differ
    # Two ring votes against one honest: with every vote counted, the ring wins its tasks.
    assert np.mean([off.answers[i] == ring_answer[i] for i in differ]) > 0.9
    assert np.mean([on.answers[i] == ring_answer[i] for i in differ]) < np.mean(
        [off.answers[i] == ring_answer[i] for i in differ])


def test_the_collusion_finding_reads_in_plain_words_and_ids_reach_ops():
    group = {"workers": [3, 5], "items": [10, 11], "shared": 9, "agreed": 9, "agree_rest": 0.31,
             "pairs": [{"partner": 5, "shared": 9, "agreed": 9, "expected_shared": 0.2, "agree_rest": 0.31,
                        "p_agree": 1e-6, "p_cooccur": 1e-12, "a": 3, "b": 5}]}
    finding = rule_collusion({"collusion_group": group}, RULES["collusion"])
    assert finding["message"].startswith("One of a group of 2 raters: shared 9 tasks")
    assert "31%" in finding["message"]
    loaded = SimpleNamespace(worker_ids=[100 + i for i in range(10)], task_ids=[500 + i for i in range(20)])
    mapped = _with_ids([finding], loaded)[0]["evidence"]
    assert mapped["group_workers"] == [103, 105] and mapped["shared_tasks"] == [510, 511]
    assert mapped["pairs"][0]["partner"] == 105


def test_workers_see_the_new_rules_only_once_acted_on_and_in_fixed_words():
    reasons = [{"rule": "change", "level": "watch", "message": "From judgment 12 ..."},
               {"rule": "gold_record", "level": "review", "message": "1 of 7 gold answers right ..."},
               {"rule": "collusion", "level": "review", "message": "One of a group of 4 raters ..."}]
    shown = _worker_reasons(reasons, n_by_project={}, min_n={})
    assert [r["rule"] for r in shown] == ["gold_record", "collusion"]
    assert all("gold answers right" not in r["message"] and "group of 4" not in r["message"] for r in shown)


def test_poisson_tail():
    assert poisson_sf(0, 2.0) == 1.0
    assert poisson_sf(1, 2.0) == pytest.approx(1 - math.exp(-2.0))
    assert poisson_sf(3, 0.5) == pytest.approx(1 - math.exp(-0.5) * (1 + 0.5 + 0.125))


def test_new_settings_are_validated():
    assert "change.accuracy" in rules_errors({"change": {"accuracy": 0.3}})
    assert "collusion.min_shared" in rules_errors({"collusion": {"min_shared": -1}})
    assert rules_errors({"change": {"log_lr": 6}, "gold_record": {"min_n": 5}, "collusion": {"one_voice": 0}}) == {}


def test_evaluate_worker_runs_every_new_rule():
    stats = {"n_judgments": 40, "change_log_lr": 99.0, "change_start": 16, "change_length": 24, "gold_log_lr": 99.0,
             "gold_n": 10, "gold_correct": 1, "collusion_group": None}
    rules = {r for r, _ in ((f["rule"], f) for f in evaluate_worker(stats, {}, RULES))}
    assert {"change", "gold_record"} <= rules
    off = merge_rules({"change": {"enabled": False}, "gold_record": {"enabled": False}})
    assert not {"change", "gold_record"} & {f["rule"] for f in evaluate_worker(stats, {}, off)}


# --- copying ----------------------------------------------------------------------------------------------------

def test_order_agreement_worked_values():
    """Item 0: w0 'a', w1 'a', w2 'b' (in that order); item 1: w2 'b', w0 'b'."""
    from quality.metrics.collusion import order_agreement

    e, ne, lat, nl = order_agreement(np.array([0, 0, 0, 1, 1]), np.array([0, 1, 2, 2, 0]),
                                     np.array([0, 0, 1, 1, 1]), n_workers=3)
    assert ne.tolist() == [1, 1, 2] and e.tolist() == [1, 1, 0]  # w0 after w2 on item 1 agreed
    assert nl.tolist() == [2, 1, 1] and lat.tolist() == [1, 0, 1]


def crowd_with_copier(seed: int, *, copier_last: bool = False, n_honest: int = 30, n_items: int = 400):
    """Honest raters (0.65-0.95) at overlap 3 and one copier on 60 tasks who gives the plurality of the task's
    earlier raters (random when first). copier_last: the copier only ever takes a task's last slot."""
    rng = np.random.default_rng(seed)
    copier = n_honest
    accuracy = rng.uniform(0.65, 0.95, n_honest)
    truth = rng.choice(3, n_items, p=[0.45, 0.45, 0.10])
    joins = set(rng.choice(n_items, 60, replace=False).tolist())
    items, workers, labels = [], [], []
    for i in range(n_items):
        raters = [int(w) for w in rng.choice(n_honest, 2 if i in joins else 3, replace=False)]
        if i in joins:
            raters.insert(len(raters) if copier_last else int(rng.integers(0, 3)), copier)
        given = []
        for w in raters:
            if w == copier:
                counts = np.bincount(given, minlength=3) if given else None
                label = int(rng.integers(0, 3)) if counts is None else int(rng.choice(np.flatnonzero(counts == counts.max())))
            else:
                t = truth[i]
                label = int(t if rng.random() < accuracy[w] else (t + rng.integers(1, 3)) % 3)
            given.append(label)
            items.append(i)
            workers.append(w)
            labels.append(label)
    return ProjectData(kind=CATEGORICAL, items=np.array(items), workers=np.array(workers), labels=np.array(labels),
                       seconds=np.full(len(items), 30.0), n_items=n_items, n_workers=n_honest + 1,
                       classes=["a", "b", "tie"]), copier


@pytest.mark.parametrize("seed", range(4))
def test_a_copier_is_caught_and_honest_raters_are_not(seed):
    data, copier = crowd_with_copier(seed)
    score = score_project(data, RULES)
    assert level(score.workers[copier], "copying") in ACTIONABLE
    assert all(level(s, "copying") not in ACTIONABLE for w, s in enumerate(score.workers) if w != copier)
    # The broken variant (earlier and later swapped, or the rule off) misses them.
    assert level(score_project(data, merge_rules({"copying": {"enabled": False}})).workers[copier], "copying") is None


def test_a_copier_who_always_answers_last_is_not_tested_and_that_is_the_price():
    """What beats the copying test: answering only where everyone else has answered (no later co-raters to
    compare with). The cost: the worker must pick their place in each task, which the queue decides (closest to
    completion first, so last slots are common; dynamic overlap adds raters after them)."""
    data, copier = crowd_with_copier(1, copier_last=True)
    score = score_project(data, RULES)
    assert score.workers[copier]["later_n"] == 0
    assert level(score.workers[copier], "copying") is None


def test_a_flagged_copiers_votes_leave_the_consensus():
    data, copier = crowd_with_copier(2)
    on = score_project(data, RULES)
    off = score_project(data, merge_rules({"copying": {"drop_votes": 0}}))
    # The same fit as without the copier's judgments on real tasks.
    keep = data.workers != copier
    without = score_project(ProjectData(kind=CATEGORICAL, items=data.items[keep], workers=data.workers[keep],
                                        labels=data.labels[keep], seconds=data.seconds[keep], n_items=data.n_items,
                                        n_workers=data.n_workers, classes=data.classes), RULES)
    assert on.answers == without.answers
    assert np.allclose(on.confidence, without.confidence, equal_nan=True)
    assert not np.allclose(off.confidence, without.confidence, equal_nan=True)
