"""The random-answering rule (a sequential likelihood-ratio test of "answers uniformly at random" against "honest,
with an accuracy between the floor and the ceiling"): its per-judgment figure, its false-flag guarantees, its power
on seeded synthetic crowds, its levels and configuration, and the recompute job storing it."""

import math

import numpy as np
import pytest

from quality.metrics import random_answer_log_lr, random_answer_mixture_log_lr
from quality.rules import DEFAULT_RULES, evaluate_worker, merge_rules, rule_random, rules_errors
from quality.scoring import CATEGORICAL, ProjectData, score_project

RULES = merge_rules()
CFG = RULES["random"]
ACTIONABLE = ("review", "suspend")


def random_level(worker_stats: dict) -> str | None:
    return next((f["level"] for f in worker_stats["findings"] if f["rule"] == "random"), None)


def crowd(seed: int, *, n_items: int = 300, n_honest: int = 15, accuracy=(0.65, 0.95), random_n: int = 30,
          floor_n: int = 60, tie: bool = True) -> tuple[ProjectData, int, int]:
    """Pairwise tasks (truth a/b/tie 45/45/10, or a/b), overlap 3, 5% gold, honest raters with accuracy drawn
    from `accuracy` (errors spread over the other answers), one rater answering at random on random_n tasks
    and one honest rater at exactly 0.65 on floor_n tasks. Returns (data, random rater, floor rater)."""
    rng = np.random.default_rng(seed)
    k = 3 if tie else 2
    truth = rng.choice(k, n_items, p=[0.45, 0.45, 0.10] if tie else [0.5, 0.5])
    rand_w, floor_w = n_honest, n_honest + 1
    acc = np.r_[rng.uniform(*accuracy, n_honest), 1.0 / k, 0.65]
    joins = {rand_w: set(rng.choice(n_items, random_n, replace=False).tolist()),
             floor_w: set(rng.choice(n_items, floor_n, replace=False).tolist())}
    items, workers = [], []
    for i in range(n_items):
        extra = [w for w, chosen in joins.items() if i in chosen]
        for w in rng.choice(n_honest, 3 - len(extra), replace=False).tolist() + extra:
            items.append(i)
            workers.append(w)
    items, workers = np.array(items), np.array(workers)
    right = rng.random(items.size) < acc[workers]
    labels = np.where(right, truth[items], (truth[items] + rng.integers(1, k, items.size)) % k)
    labels = np.where(workers == rand_w, rng.integers(0, k, items.size), labels)
    gold = {int(i): int(truth[i]) for i in range(n_items - n_items // 20, n_items)}
    data = ProjectData(kind=CATEGORICAL, items=items, workers=workers, labels=labels,
                       seconds=rng.uniform(20, 80, items.size), n_items=n_items, n_workers=n_honest + 2,
                       classes=["a", "b", "tie"][:k], gold=gold)
    return data, rand_w, floor_w


# --- the per-judgment figure -----------------------------------------------------------------------------


def test_log_lr_against_the_truth_is_the_binomial_sprt_step():
    """Against a known answer only right/wrong matters: log((1/3)/0.65) when right, log((1/3)/(0.35/2)) when wrong."""
    llr = random_answer_log_lr(np.array([1.0, 0.0]), n_options=3, accuracy_floor=0.65)
    assert llr == pytest.approx([math.log(1 / 3 / 0.65), math.log(1 / 3 / 0.175)])
    # An uncertain reference lands in between, and a reference at chance (1/3) says nothing either way.
    mid = random_answer_log_lr(np.array([0.5, 1 / 3]), n_options=3, accuracy_floor=0.65)
    assert llr[0] < mid[0] < mid[1] < llr[1] and mid[1] == pytest.approx(0.0)
    # Bounded: no single judgment decides.
    assert random_answer_log_lr(np.linspace(0, 1, 11), n_options=2, accuracy_floor=0.65).max() == pytest.approx(
        math.log(0.5 / 0.35))


def test_log_lr_is_undefined_when_the_floor_is_no_better_than_chance():
    assert np.isnan(random_answer_log_lr(np.array([0.5]), n_options=2, accuracy_floor=0.5)).all()
    assert np.isnan(random_answer_log_lr(np.array([0.5]), n_options=1, accuracy_floor=0.9)).all()


def test_against_the_floor_alone_a_rater_at_the_floor_ever_reaches_h_at_most_e_to_the_minus_h_of_the_time():
    """The earlier test (accuracy_ceiling at the floor), per judgment: Wald/Ville, the ratio is a martingale under
    the floor, so over any number of judgments (200 here) a rater exactly at the floor reaches log LR h with
    probability <= e^-h; a random clicker almost always does."""
    rng = np.random.default_rng(0)
    n_raters, n, h = 4000, 200, 2.5
    at_floor = (rng.random((n_raters, n)) < 0.65).astype(float)
    clicker = (rng.random((n_raters, n)) < 1 / 3).astype(float)
    better = (rng.random((n_raters, n)) < 0.75).astype(float)

    def highest(right, upto=n):
        return np.cumsum(random_answer_log_lr(right, n_options=3, accuracy_floor=0.65), axis=1)[:, :upto].max(axis=1)

    assert (highest(at_floor) >= h).mean() <= math.exp(-h)  # 6.3% (bound 8.2%)
    assert (highest(better) >= h).mean() < 0.02  # 1.2%
    assert (highest(clicker, 30) >= h).mean() > 0.85  # the truth known: caught within 30 judgments


def test_the_mixture_is_the_floor_test_when_the_ceiling_is_the_floor_and_sums_per_worker():
    rng = np.random.default_rng(1)
    reference = rng.random(500)
    reference[::50] = np.nan  # no usable reference: left out
    workers = rng.integers(0, 7, 500)
    kwargs = {"n_workers": 8, "n_options": 3, "accuracy_floor": 0.65}
    llr, n = random_answer_mixture_log_lr(reference, workers, accuracy_ceiling=0.65, **kwargs)
    usable = ~np.isnan(reference)
    point = random_answer_log_lr(reference[usable], n_options=3, accuracy_floor=0.65)
    assert llr[:7] == pytest.approx(np.bincount(workers[usable], weights=point, minlength=7))
    assert n.tolist() == np.bincount(workers[usable], minlength=8).tolist() and np.isnan(llr[7]) and n[7] == 0
    # A ceiling below the floor is the floor; one above it averages the honest likelihood over accuracies.
    below, _ = random_answer_mixture_log_lr(reference, workers, accuracy_ceiling=0.6, **kwargs)
    assert below[:7] == pytest.approx(llr[:7])
    mixed, _ = random_answer_mixture_log_lr(reference, workers, accuracy_ceiling=1.0, **kwargs)
    grid = 0.65 + 0.35 * (np.arange(32) + 0.5) / 32
    r, w = reference[usable], workers[usable]
    honest = np.array([np.bincount(w, weights=np.log(r * a + (1 - r) * (1 - a) / 2), minlength=7) for a in grid])
    expected = -np.bincount(w, minlength=7) * math.log(3) - np.log(np.exp(honest).mean(axis=0))
    assert mixed[:7] == pytest.approx(expected)
    # Undefined when the floor is no better than chance.
    assert np.isnan(random_answer_mixture_log_lr(reference, workers, accuracy_ceiling=1.0, n_workers=8,
                                                 n_options=2, accuracy_floor=0.5)[0]).all()


def test_honest_raters_from_the_prior_ever_reach_the_threshold_at_most_e_to_the_minus_threshold_of_the_time():
    """Ville for the composite test: averaged over honest accuracies spread evenly between the floor and the
    ceiling, the ratio is a martingale of mean 1, so at most e^-h of honest raters ever reach h (2.5% at 3.7),
    however many judgments they make. Against the truth (200 judgments each, looked at from min_n on): a rater
    exactly at the floor 6%, at 0.75 0.3%; a clicker is caught by their 30th judgment 95% of the time (the
    floor-only test at 2.5 from the 10th: 4.6%, 0.65%, 91%)."""
    rng = np.random.default_rng(0)
    n_raters, n, h, start = 4000, 200, CFG["log_lr"], CFG["min_n"] - 1
    grid = 0.65 + 0.35 * (np.arange(32) + 0.5) / 32

    def paths(accuracy):
        right = rng.random((n_raters, n)) < np.asarray(accuracy).reshape(-1, 1)
        honest = np.cumsum(np.where(right[..., None], np.log(grid), np.log((1 - grid) / 2)), axis=1)
        top = honest.max(axis=2)
        return -np.arange(1, n + 1) * math.log(3) - (top + np.log(np.exp(honest - top[..., None]).mean(axis=2)))

    from_prior = paths(rng.uniform(0.65, 1.0, n_raters))
    assert (from_prior.max(axis=1) >= h).mean() <= math.exp(-h)  # every look, from the first judgment
    assert (paths(np.full(n_raters, 0.65))[:, start:].max(axis=1) >= h).mean() < 0.08
    assert (paths(np.full(n_raters, 0.75))[:, start:].max(axis=1) >= h).mean() < 0.01
    assert (paths(np.full(n_raters, 1 / 3))[:, start:30].max(axis=1) >= h).mean() > 0.9
    # The figure the scorer uses is this path's last point.
    right = (rng.random(40) < 0.7).astype(float)
    llr, _ = random_answer_mixture_log_lr(right, np.zeros(40, dtype=int), n_workers=1, n_options=3,
                                          accuracy_floor=0.65, accuracy_ceiling=1.0)
    honest = np.array([np.sum(np.where(right == 1, np.log(a), np.log((1 - a) / 2))) for a in grid])
    assert llr[0] == pytest.approx(-40 * math.log(3) - np.log(np.exp(honest).mean()))


# --- through the scorer, on seeded synthetic crowds ------------------------------------------------------


def test_a_random_answerer_is_flagged_within_30_judgments():
    data, rand_w, floor_w = crowd(seed=0, random_n=30)
    score = score_project(data, RULES)
    clicker = score.workers[rand_w]
    assert clicker["random_n"] == 30 and clicker["random_options"] == 3
    assert random_level(clicker) in ACTIONABLE
    finding = next(f for f in clicker["findings"] if f["rule"] == "random")
    assert finding["evidence"]["log_lr"] >= CFG["log_lr"] and finding["evidence"]["random_n"] == 30
    # Nobody honest is flagged by it, the rater right at the 0.65 floor included (60 judgments).
    assert score.workers[floor_w]["random_log_lr"] < 0
    assert all(random_level(s) not in ACTIONABLE for w, s in enumerate(score.workers) if w != rand_w)


def test_power_and_false_flags_over_many_seeded_crowds():
    """Not one lucky seed: over 40 crowds (honest accuracy 0.65-0.95, overlap 3, 5% gold) the random answerer is
    flagged at its 30th judgment in 32 (the floor-only test at 2.5 from the 10th judgment: 26; with floor_log_lr
    2.0: 30). Of 600 honest raters drawn from 0.65-0.95, one is flagged (accuracy 0.655); of the 40 raters exactly
    at the floor, two (5%, below the 8.2% the floor-only test promised them; none with floor_log_lr 2.0). With
    only two other raters per task the reference is noisy: one look at 30 judgments catches fewer than the
    truth-known test would (docs/quality.md)."""
    caught = honest_flagged = floor_flagged = 0
    for seed in range(40):
        data, rand_w, floor_w = crowd(seed=seed, random_n=30)
        score = score_project(data, RULES)
        caught += random_level(score.workers[rand_w]) in ACTIONABLE
        floor_flagged += random_level(score.workers[floor_w]) in ACTIONABLE
        honest_flagged += sum(random_level(s) in ACTIONABLE for w, s in enumerate(score.workers)
                              if w not in (rand_w, floor_w))
    assert caught >= 28 and honest_flagged <= 1 and floor_flagged <= 3


def test_an_honest_worker_at_065_is_not_flagged():
    for seed in range(10):
        data, _, floor_w = crowd(seed=100 + seed, floor_n=60)
        worker = score_project(data, RULES).workers[floor_w]
        assert worker["random_n"] == 60 and random_level(worker) in (None, "watch")


def test_without_a_tie_option_random_answering_is_a_coin_flip():
    """a/b only: a random clicker agrees half the time, close to a 0.65 rater; the rule stays quiet on honest
    raters (and catches few clickers: that needs far more judgments, docs/quality.md)."""
    data, rand_w, floor_w = crowd(seed=3, tie=False)
    score = score_project(data, RULES)
    assert score.workers[rand_w]["random_options"] == 2
    assert all(random_level(s) not in ACTIONABLE for w, s in enumerate(score.workers) if w != rand_w)
    # A project whose schema has a tie but disallows it: the scorer is told how many answers there are.
    data, *_ = crowd(seed=3, tie=False)
    data.classes, data.answer_options = ["a", "b", "tie"], 2
    assert score_project(data, RULES).workers[rand_w]["random_options"] == 2


def test_ordinal_ratings_are_left_to_the_other_rules():
    """Exact agreement is not what an honest Likert rater shows, so the floor means nothing there."""
    data, rand_w, _ = crowd(seed=1)
    data.level, data.values = "ordinal", np.array([1.0, 2.0, 3.0])
    worker = score_project(data, RULES).workers[rand_w]
    assert worker["random_n"] == 0 and worker["random_log_lr"] is None and random_level(worker) is None


# --- levels, evidence, configuration ---------------------------------------------------------------------


def stats(llr, n, floor_llr=10.0):
    return {"random_log_lr": llr, "random_n": n, "random_options": 3, "random_floor_log_lr": floor_llr}


@pytest.mark.parametrize("llr, n, expected", [
    (-5.0, 40, None),                                   # honest-looking
    (CFG["watch_log_lr"] - 0.01, 40, None),             # not even leaning
    (CFG["watch_log_lr"], 40, "watch"),                 # leaning towards random
    (CFG["log_lr"] - 0.01, 40, "watch"),                # not yet enough
    (CFG["log_lr"], CFG["min_n"] - 1, "watch"),         # enough odds, too few judgments
    (CFG["log_lr"], CFG["min_n"], "review"),
    (CFG["suspend_log_lr"] - 0.01, 40, "review"),
    (CFG["suspend_log_lr"], 40, "suspend"),
])
def test_levels_follow_the_thresholds(llr, n, expected):
    finding = rule_random(stats(llr, n), CFG)
    assert (finding and finding["level"]) == expected
    if finding:
        assert finding["evidence"] == {"random_n": n, "log_lr": round(llr, 3), "threshold": CFG["log_lr"],
                                       "suspend_threshold": CFG["suspend_log_lr"],
                                       "accuracy_floor": CFG["accuracy_floor"],
                                       "accuracy_ceiling": CFG["accuracy_ceiling"], "floor_log_lr": 10.0,
                                       "floor_threshold": CFG["floor_log_lr"], "options": 3}
        assert finding["message"] and "log" not in finding["message"]  # the worker reads it: plain words


def test_the_floor_condition_keeps_a_rater_at_the_floor_below_its_own_bound():
    """floor_log_lr: review and suspend also need the ratio against the floor alone; below it the worker is
    watched at most, whatever the composite figure says."""
    cfg = {**CFG, "floor_log_lr": 2.0}
    high = {**stats(CFG["suspend_log_lr"], 40), "random_floor_log_lr": 1.99}
    assert rule_random(high, cfg)["level"] == "watch"
    assert rule_random({**high, "random_floor_log_lr": 2.0}, cfg)["level"] == "suspend"
    assert rule_random({**high, "random_floor_log_lr": None}, cfg)["level"] == "watch"
    assert rule_random({**high, "random_floor_log_lr": None}, {**cfg, "floor_log_lr": 0})["level"] == "suspend"
    # The scorer reports it: the sum of the per-judgment ratios against the floor, on the same references.
    data, rand_w, _ = crowd(seed=0, random_n=30)
    worker = score_project(data, RULES).workers[rand_w]
    assert worker["random_floor_log_lr"] is not None and worker["random_floor_log_lr"] < worker["random_log_lr"]


def test_no_figure_no_finding():
    assert rule_random(stats(None, 0), CFG) is None
    assert rule_random(stats(float("nan"), 30), CFG) is None


def test_configuration_switches_it_off_and_moves_its_thresholds():
    off = merge_rules({"random": {"enabled": False}})
    assert not any(f["rule"] == "random" for f in evaluate_worker(stats(20.0, 50), {}, off))
    data, rand_w, _ = crowd(seed=0)
    assert random_level(score_project(data, off).workers[rand_w]) is None
    strict = merge_rules(None, {"random": {"log_lr": 50.0, "suspend_log_lr": 60.0}})
    assert random_level(score_project(data, strict).workers[rand_w]) in (None, "watch")
    assert DEFAULT_RULES["random"]["log_lr"] == CFG["log_lr"]  # layers never write through to the defaults


def test_a_floor_outside_0_1_is_refused():
    assert rules_errors({"random": {"accuracy_floor": 0.7, "log_lr": 4}}) == {}
    assert set(rules_errors({"random": {"accuracy_floor": 1.0}})) == {"random.accuracy_floor"}
    assert set(rules_errors({"random": {"accuracy_floor": 0}})) == {"random.accuracy_floor"}
    assert set(rules_errors({"random": {"accuracy_floor": 0.5}})) == {"random.accuracy_floor"}  # chance for a/b
    assert rules_errors({"random": {"accuracy_ceiling": 1.0}}) == {}
    assert rules_errors({"random": {"accuracy_ceiling": 0.65}}) == {}
    assert set(rules_errors({"random": {"accuracy_ceiling": 1.01}})) == {"random.accuracy_ceiling"}
    assert set(rules_errors({"random": {"accuracy_ceiling": 0.5}})) == {"random.accuracy_ceiling"}


# --- the recompute job ------------------------------------------------------------------------------------


def _clicker_project(seed: int, *, schema: dict | None = None, n_tasks: int = 45):
    """A pairwise project (a/b/tie) with six 0.9-accurate raters and one who clicks at random on every task."""
    import random

    from tests.quality import factories as f

    rng = random.Random(seed)
    choices = ["a", "b", "tie"] if (schema or {}).get("allow_tie", True) else ["a", "b"]
    project = f.project(label_schema=schema or {})
    honest = [f.worker() for _ in range(6)]
    clicker = f.worker()
    rows = []
    for _ in range(n_tasks):
        task = f.task(project)
        truth = rng.choices(choices, weights=[45, 45, 10][:len(choices)])[0]
        for w in rng.sample(honest, 2):
            answer = truth if rng.random() < 0.9 else rng.choice([c for c in choices if c != truth])
            rows.append((task, w, {"choice": answer}, rng.uniform(20, 90)))
        rows.append((task, clicker, {"choice": rng.choice(choices)}, rng.uniform(20, 90)))
    f.judge_many(rows)
    return project, honest, clicker


@pytest.mark.django_db
def test_recompute_flags_a_clicker_and_tells_them_why():
    from quality.models import Flag
    from quality.selectors import worker_standing_get
    from quality.services import project_quality_recompute

    # The plumbing, on one crowd (seed 8; the power over many crowds is tested above without the database).
    project, honest, clicker = _clicker_project(seed=8)
    project_quality_recompute(project_id=project.pk)
    flag = Flag.objects.get(worker=clicker, project=project)
    finding = next(x for x in flag.evidence["findings"] if x["rule"] == "random")
    assert finding["level"] in ACTIONABLE and finding["random_n"] == 45 and finding["options"] == 3
    assert finding["log_lr"] >= finding["threshold"] == CFG["log_lr"]
    assert not Flag.objects.filter(worker__in=honest).exists()
    # Ops see the finding's own words; GET /api/v1/me/ shows the worker the flagged rule in fixed words
    # (no counts: agreement with other raters must not move visibly with one judgment).
    from quality.selectors import worker_standing_for_ops

    ops_reasons = [r for r in worker_standing_for_ops(worker_id=clicker.pk)["reasons"] if r["rule"] == "random"]
    assert ops_reasons[0]["message"] == "Over 45 judgments your answers match the other raters' no better than " \
                                        "random answers would."
    reasons = [r for r in worker_standing_get(user=clicker)["reasons"] if r["rule"] == "random"]
    assert reasons and reasons[0]["project_id"] == project.pk and reasons[0]["level"] in ACTIONABLE
    assert reasons[0]["message"] == ("Your answers match the other raters' no better than random answers would; "
                                     "ops will review your work.")


@pytest.mark.django_db
def test_the_standing_keeps_the_tests_ratio_and_pay_reads_it(settings):
    """A full fit stores each worker's log LR on their standing (ops see it); payments' verdict reads it: the
    clicker's answers are likelier random (doubt), the honest raters' likelier honest."""
    settings.PAY_CLEARANCE_FAST_SHARE = 0  # the pace is random here: the ratio alone decides
    from quality.models import WorkerStanding
    from quality.pay_evidence import worker_pay_verdicts
    from quality.selectors import worker_standing_for_ops
    from quality.services import project_quality_recompute

    project, honest, clicker = _clicker_project(seed=8)
    project_quality_recompute(project_id=project.pk)
    ratio = dict(WorkerStanding.objects.filter(project=project).values_list("worker_id", "random_log_lr"))
    flag_finding = next(r for r in WorkerStanding.objects.get(worker=clicker, project=project).reasons
                        if r["rule"] == "random")
    assert flag_finding and ratio[clicker.pk] >= CFG["log_lr"]
    assert all(ratio[w.pk] < 0 for w in honest)
    assert worker_standing_for_ops(worker_id=clicker.pk)["projects"][0]["random_log_lr"] == ratio[clicker.pk]
    verdicts = worker_pay_verdicts(worker_ids=[clicker.pk, *[w.pk for w in honest]])
    assert verdicts[clicker.pk] == "doubt" and "doubt" not in {verdicts[w.pk] for w in honest}


@pytest.mark.django_db
def test_a_project_policy_switches_it_off_and_a_schema_without_tie_counts_two_answers():
    from quality.models import Flag, ProjectQualityPolicy
    from quality.services import project_quality_recompute
    from quality.services.loading import project_data_load

    project, _, clicker = _clicker_project(seed=8)
    ProjectQualityPolicy.objects.create(project=project, rules={"random": {"enabled": False}})
    project_quality_recompute(project_id=project.pk)
    flag = Flag.objects.filter(worker=clicker, project=project).first()
    assert flag is None or all(x["rule"] != "random" for x in flag.evidence["findings"])

    no_tie, *_ = _clicker_project(seed=8, schema={"allow_tie": False}, n_tasks=10)
    assert project_data_load(project=no_tie).data.answer_options == 2
    assert project_data_load(project=project).data.answer_options is None  # all three classes
