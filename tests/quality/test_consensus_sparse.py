"""Consensus on sparse data: a unanimous vote of three or more raters stands unless the raters' own records
show them clearly worse than chance (quality.consensus.dawid_skene.unanimous_kept)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quality.consensus import dawid_skene, dawid_skene_posterior
from quality.consensus.dawid_skene import MIN_UNANIMOUS, UNANIMOUS_MARGIN

# The demo's case, as found in a search over demo-shaped projects (5 raters 0.65-0.95, a/b/tie, 3 per task, 4 gold
# tasks): task 2 is "a" (code 0) by 3 of 3 raters; rater 0 missed gold task 19 ("a", answered "tie"). The previous
# fit (confusions shrunk toward the pooled matrix, free class priors) answered "tie" at 0.63 there, and "tie" at
# 0.80 on task 3, also "a" by 3 of 3.
DEMO = [(0, 3, 1), (0, 0, 1), (0, 2, 1), (1, 3, 0), (1, 0, 0), (1, 2, 1), (2, 0, 0), (2, 2, 0), (2, 3, 0),
        (3, 3, 0), (3, 2, 0), (3, 1, 0), (4, 3, 0), (4, 2, 0), (4, 1, 1), (5, 2, 0), (5, 1, 1), (5, 0, 2),
        (6, 1, 0), (6, 0, 0), (6, 2, 0), (7, 0, 0), (7, 3, 0), (7, 2, 0), (8, 3, 1), (8, 2, 0), (8, 0, 1),
        (9, 3, 1), (9, 2, 1), (9, 0, 1), (10, 2, 1), (10, 1, 2), (10, 3, 0), (11, 3, 0), (11, 2, 0), (11, 1, 1),
        (12, 0, 0), (12, 1, 0), (12, 2, 0), (13, 0, 1), (13, 2, 1), (13, 1, 1), (14, 2, 0), (14, 3, 2), (14, 1, 0),
        (15, 1, 1), (15, 3, 1), (15, 2, 1), (16, 3, 0), (16, 2, 0), (16, 1, 1), (17, 2, 1), (18, 3, 1), (19, 0, 2),
        (20, 0, 2), (20, 1, 1)]
DEMO_GOLD = {17: 1, 18: 0, 19: 0, 20: 0}


def _arrays(rows):
    items, workers, labels = (np.array(col, dtype=np.int64) for col in zip(*rows, strict=True))
    return items, workers, labels


def _unanimous(items, labels, gold):
    """{item: label} for non-gold items with MIN_UNANIMOUS or more judgments, all the same label."""
    out = {}
    for item in np.unique(items):
        given = labels[items == item]
        if int(item) not in gold and given.size >= MIN_UNANIMOUS and (given == given[0]).all():
            out[int(item)] = int(given[0])
    return out


def _evidence(confusions, workers, label, other):
    """The raters' records: sum of log C[w, a, a] / C[w, c, a] over the item's raters (class priors left out)."""
    return float(np.sum(np.log(confusions[workers, label, label]) - np.log(confusions[workers, other, label])))


def test_the_demo_case_keeps_the_unanimous_vote_in_the_fit_and_per_task():
    items, workers, labels = _arrays(DEMO)
    fit = dawid_skene(items, workers, labels, n_items=21, n_workers=4, n_classes=3, gold=DEMO_GOLD)
    assert fit.answers[2] == 0 and fit.answers[3] == 0
    assert fit.confidence[2] > 0.9  # not kept by the rule alone: the fit itself now believes the raters
    # The rater who missed a gold task still counts for their answer: "a" from them is evidence for "a".
    assert fit.confusions[0, 0, 0] > fit.confusions[0, 2, 0]
    # The per-task path (a task completing, with the project's fitted parameters) agrees.
    sel = items == 2
    answers, confidence, _ = dawid_skene_posterior(np.zeros(3, dtype=np.int64), workers[sel], labels[sel], n_items=1,
                                                   confusions=fit.confusions, priors=fit.priors)
    assert answers[0] == 0 and confidence[0] > 0.9


def test_class_priors_alone_never_overturn_a_unanimous_vote():
    """A project where "b" is the truth 97% of the time: three fair raters who all say "a" keep "a"."""
    confusions = np.tile(np.array([[0.7, 0.3], [0.3, 0.7]]), (3, 1, 1))
    answers, confidence, post = dawid_skene_posterior([0, 0, 0], [0, 1, 2], [0, 0, 0], n_items=1,
                                                      confusions=confusions, priors=np.array([0.01, 0.99]))
    assert post[0, 1] > 0.5  # Bayes with these base rates says "b" ...
    assert answers[0] == 0 and confidence[0] == pytest.approx(post[0, 0])  # ... the vote stands, with its doubt


def test_raters_clearly_worse_than_chance_can_be_overturned():
    """Three raters whose records say they answer "a" mostly when the truth is "b" (adversarial)."""
    confusions = np.tile(np.array([[0.2, 0.8], [0.9, 0.1]]), (3, 1, 1))
    answers, _, _ = dawid_skene_posterior([0, 0, 0], [0, 1, 2], [0, 0, 0], n_items=1, confusions=confusions,
                                          priors=np.array([0.5, 0.5]))
    assert answers[0] == 1


@st.composite
def sparse_projects(draw):
    """Small random projects: 2-3 classes, 3-10 raters of any accuracy (adversarial included), 3-25 items with
    1-5 judgments each, some gold, some always-"a" answers."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    k = draw(st.sampled_from([2, 3]))
    n_workers = draw(st.integers(3, 10))
    n_items = draw(st.integers(3, 25))
    gold_share = draw(st.sampled_from([0.0, 0.1, 0.3]))
    accuracy = rng.uniform(0.0, 1.0, n_workers)
    truth = rng.integers(0, k, n_items)
    rows = []
    for item in range(n_items):
        for w in rng.choice(n_workers, int(rng.integers(1, min(n_workers, 5) + 1)), replace=False):
            label = truth[item] if rng.random() < accuracy[w] else int(rng.integers(0, k))
            rows.append((item, int(w), 0 if rng.random() < 0.15 else int(label)))
    gold = {i: int(truth[i]) for i in range(n_items) if rng.random() < gold_share}
    return k, n_workers, n_items, rows, gold


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sparse_projects())
def test_property_a_unanimous_vote_is_overturned_only_by_raters_clearly_worse_than_chance(project):
    k, n_workers, n_items, rows, gold = project
    items, workers, labels = _arrays(rows)
    fit = dawid_skene(items, workers, labels, n_items=n_items, n_workers=n_workers, n_classes=k, gold=gold)
    later, later_conf, later_post = dawid_skene_posterior(items, workers, labels, n_items=n_items,
                                                          confusions=fit.confusions, priors=fit.priors)
    for answers, confidence, posteriors in ((fit.answers, fit.confidence, fit.posteriors),
                                            (later, later_conf, later_post)):
        assert np.allclose(confidence[answers >= 0], posteriors[answers >= 0, answers[answers >= 0]])
        for item, label in _unanimous(items, labels, gold).items():
            answer = int(answers[item])
            if answer != label:
                raters = workers[items == item]
                assert _evidence(fit.confusions, raters, label, answer) < -UNANIMOUS_MARGIN, (item, label, answer)
    for item, label in gold.items():
        if (items == item).any():
            assert fit.answers[item] == label
