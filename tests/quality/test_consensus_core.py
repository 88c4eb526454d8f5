"""Consensus algorithms recover a planted truth, are deterministic, converge, and honour gold."""

import numpy as np

from quality.consensus import (
    bradley_terry_rankings,
    dawid_skene,
    dawid_skene_posterior,
    flags_dawid_skene,
    majority_vote,
)


def _crowd(seed=0, n_items=1500, n_workers=40, n_classes=2, overlap=3, spammers=0.2):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_classes, n_items)
    acc = rng.uniform(0.65, 0.95, n_workers)
    spam = rng.random(n_workers) < spammers
    items = np.repeat(np.arange(n_items), overlap)
    workers = np.concatenate([rng.choice(n_workers, overlap, replace=False) for _ in range(n_items)])
    correct = rng.random(items.size) < acc[workers]
    wrong = (truth[items] + rng.integers(1, n_classes, items.size)) % n_classes
    labels = np.where(correct, truth[items], wrong)
    random_labels = rng.integers(0, n_classes, items.size)
    labels = np.where(spam[workers], random_labels, labels)
    return truth, items, workers, labels


def test_majority_vote_confidence_and_empty_items():
    answer, confidence = majority_vote([0, 0, 0, 1, 1], [1, 1, 0, 0, 0], n_items=3, n_classes=2)
    assert answer.tolist()[:2] == [1, 0] and answer[2] == -1
    assert confidence[0] == 2 / 3 and confidence[1] == 1.0 and np.isnan(confidence[2])


def test_dawid_skene_beats_majority_with_spammers_and_converges():
    truth, items, workers, labels = _crowd(n_classes=3, spammers=0.3)
    mv, _ = majority_vote(items, labels, n_items=truth.size, n_classes=3)
    ds = dawid_skene(items, workers, labels, n_items=truth.size, n_workers=40, n_classes=3)
    assert ds.converged
    assert (ds.answers == truth).mean() > (mv == truth).mean()
    assert np.allclose(ds.posteriors.sum(axis=1), 1.0)
    # Confidence is calibrated roughly: the confident half is more often right than the rest.
    confident = ds.confidence > np.median(ds.confidence)
    assert (ds.answers == truth)[confident].mean() > (ds.answers == truth)[~confident].mean()


def test_dawid_skene_is_deterministic_and_pins_gold():
    truth, items, workers, labels = _crowd(seed=3)
    gold = {i: int(1 - truth[i]) for i in range(10)}  # deliberately "wrong" gold stays pinned
    a = dawid_skene(items, workers, labels, n_items=truth.size, n_workers=40, n_classes=2, gold=gold, seed=7)
    b = dawid_skene(items, workers, labels, n_items=truth.size, n_workers=40, n_classes=2, gold=gold, seed=7)
    assert np.array_equal(a.answers, b.answers) and np.array_equal(a.posteriors, b.posteriors)
    assert all(a.answers[i] == label and a.confidence[i] == 1.0 for i, label in gold.items())


def test_dawid_skene_posterior_reuses_fitted_parameters():
    truth, items, workers, labels = _crowd(seed=5)
    fit = dawid_skene(items, workers, labels, n_items=truth.size, n_workers=40, n_classes=2)
    sel = items < 50
    answers, confidence, _ = dawid_skene_posterior(items[sel], workers[sel], labels[sel], n_items=50,
                                                   confusions=fit.confusions, priors=fit.priors)
    assert (answers == fit.answers[:50]).mean() > 0.95 and np.all((confidence >= 0.5) & (confidence <= 1))


def test_flags_dawid_skene_recovers_planted_flag_sets():
    rng = np.random.default_rng(11)
    n_items, n_workers, n_flags = 600, 25, 4
    truth = [set(np.nonzero(rng.random(n_flags) < 0.25)[0].tolist()) for _ in range(n_items)]
    items, workers, sets = [], [], []
    for i in range(n_items):
        for w in rng.choice(n_workers, 3, replace=False):
            noisy = {f for f in range(n_flags) if (f in truth[i]) != (rng.random() < 0.1)}
            items.append(i)
            workers.append(w)
            sets.append(sorted(noisy))
    answers, confidence, _ = flags_dawid_skene(items, workers, sets, n_items=n_items, n_workers=n_workers,
                                               n_flags=n_flags)
    exact = np.mean([set(a) == t for a, t in zip(answers, truth, strict=True)])
    assert exact > 0.85 and np.all((confidence > 0) & (confidence <= 1))


def test_bradley_terry_recovers_planted_orders():
    rng = np.random.default_rng(2)
    n_tasks, n_opts = 200, 4
    true_orders = [rng.permutation(n_opts).tolist() for _ in range(n_tasks)]
    items, orders = [], []
    for t, order in enumerate(true_orders):
        for _ in range(3):
            noisy = list(order)
            if rng.random() < 0.3:  # one adjacent swap now and then
                j = int(rng.integers(0, n_opts - 1))
                noisy[j], noisy[j + 1] = noisy[j + 1], noisy[j]
            items.append(t)
            orders.append(noisy)
    consensus, confidence, _ = bradley_terry_rankings(items, orders, n_items=n_tasks, n_options=[n_opts] * n_tasks)
    top_right = np.mean([c[0] == o[0] for c, o in zip(consensus, true_orders, strict=True)])
    assert top_right > 0.95
    assert np.all((confidence > 0.5) & (confidence < 1))


def test_bradley_terry_unanimous_stays_finite_and_no_orders_is_none():
    consensus, confidence, strength = bradley_terry_rankings([0, 0, 0], [[1, 0]] * 3, n_items=2, n_options=[2, 3])
    assert consensus == [[1, 0], None] and np.isfinite(strength).all()
    assert 0.5 < confidence[0] < 1 and np.isnan(confidence[1])
