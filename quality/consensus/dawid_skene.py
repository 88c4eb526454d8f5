"""Dawid-Skene (1979): each worker has a confusion matrix P(label | true class); EM alternates the items'
posteriors over the true class (E) and the workers' confusion matrices and the class priors (M).

Vectorised: one M-step is n_classes bincounts over the judgments, one E-step a gather of log-confusions
and n_classes bincounts. Items with a known answer (gold) stay pinned to it, so they anchor the workers'
matrices. Initialised from the majority vote; converges when the log-likelihood's relative change is under tol.
"""

from dataclasses import dataclass

import numpy as np

from quality.consensus.majority import vote_counts


@dataclass
class DawidSkeneResult:
    posteriors: np.ndarray  # (n_items, n_classes)
    answers: np.ndarray  # (n_items,), -1 for items without labels
    confidence: np.ndarray  # (n_items,), max posterior; NaN without labels
    confusions: np.ndarray  # (n_workers, n_classes, n_classes): [w, true, given]
    priors: np.ndarray  # (n_classes,)
    n_iter: int
    converged: bool


def _m_step(items, workers, labels, posteriors, n_workers, n_classes, smoothing):
    per_judgment = posteriors[items]  # (n_judgments, K)
    flat = workers * n_classes + labels
    confusions = np.empty((n_workers, n_classes, n_classes))
    for k in range(n_classes):
        confusions[:, k, :] = np.bincount(flat, weights=per_judgment[:, k],
                                          minlength=n_workers * n_classes).reshape(n_workers, n_classes)
    confusions += smoothing
    confusions /= confusions.sum(axis=2, keepdims=True)
    priors = posteriors.sum(axis=0) + smoothing
    return confusions, priors / priors.sum()


def _e_step(items, workers, labels, log_confusions, log_priors, n_items, n_classes):
    # log P(given label | true k) for every judgment and every k: (n_judgments, K)
    per_judgment = log_confusions[workers, :, labels]
    log_post = np.empty((n_items, n_classes))
    for k in range(n_classes):
        log_post[:, k] = np.bincount(items, weights=per_judgment[:, k], minlength=n_items)
    log_post += log_priors
    top = log_post.max(axis=1, keepdims=True)
    post = np.exp(log_post - top)
    norm = post.sum(axis=1, keepdims=True)
    log_likelihood = float((np.log(norm) + top).sum())
    return post / norm, log_likelihood


def _pin(posteriors, gold_items, gold_labels):
    if gold_items.size:
        posteriors[gold_items] = 0.0
        posteriors[gold_items, gold_labels] = 1.0


def dawid_skene(items, workers, labels, *, n_items: int, n_workers: int, n_classes: int,
                gold: dict[int, int] | None = None, max_iter: int = 200, tol: float = 1e-7,
                smoothing: float = 0.01, seed: int = 0) -> DawidSkeneResult:
    """Fit Dawid-Skene. gold maps item index -> true label code (pinned). Deterministic for a given seed."""
    items = np.asarray(items, dtype=np.int64)
    workers = np.asarray(workers, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    gold = gold or {}
    gold_items = np.fromiter(gold.keys(), dtype=np.int64, count=len(gold))
    gold_labels = np.fromiter(gold.values(), dtype=np.int64, count=len(gold))

    counts = vote_counts(items, labels, n_items=n_items, n_classes=n_classes)
    has_votes = counts.sum(axis=1) > 0
    posteriors = np.full((n_items, n_classes), 1.0 / n_classes)
    posteriors[has_votes] = counts[has_votes] / counts[has_votes].sum(axis=1, keepdims=True)
    _pin(posteriors, gold_items, gold_labels)

    converged = False
    n_iter = 0
    previous = -np.inf
    for n_iter in range(1, max_iter + 1):  # noqa: B007 - n_iter is reported
        confusions, priors = _m_step(items, workers, labels, posteriors, n_workers, n_classes, smoothing)
        posteriors, log_likelihood = _e_step(items, workers, labels, np.log(confusions), np.log(priors),
                                             n_items, n_classes)
        _pin(posteriors, gold_items, gold_labels)
        # Converged when the (observed-data) log-likelihood stops improving relative to its size.
        if abs(log_likelihood - previous) <= tol * max(1.0, abs(log_likelihood)):
            converged = True
            break
        previous = log_likelihood
    confusions, priors = _m_step(items, workers, labels, posteriors, n_workers, n_classes, smoothing)
    answers, confidence = _answers(posteriors, has_votes, seed)
    return DawidSkeneResult(posteriors, answers, confidence, confusions, priors, n_iter, converged)


def _answers(posteriors, has_votes, seed):
    jitter = np.random.default_rng(seed).random(posteriors.shape) * 1e-12  # breaks exact ties, reproducibly
    answers = np.argmax(posteriors + jitter, axis=1)
    confidence = posteriors[np.arange(len(answers)), answers]
    return np.where(has_votes, answers, -1), np.where(has_votes, confidence, np.nan)


def dawid_skene_posterior(items, workers, labels, *, n_items: int, confusions: np.ndarray, priors: np.ndarray,
                          seed: int = 0):
    """One E-step with fitted parameters: the posterior of new items (e.g. a task that just completed).

    workers index into confusions; use an index of a pooled (average) matrix for workers not in the fit.
    Returns (answers, confidence, posteriors).
    """
    items = np.asarray(items, dtype=np.int64)
    workers = np.asarray(workers, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    n_classes = len(priors)
    post, _ = _e_step(items, workers, labels, np.log(confusions), np.log(priors), n_items, n_classes)
    has_votes = np.bincount(items, minlength=n_items) > 0
    answers, confidence = _answers(post, has_votes, seed)
    return answers, confidence, post


def flags_dawid_skene(items, workers, flag_sets: list, *, n_items: int, n_workers: int, n_flags: int,
                      gold: dict[int, set[int]] | None = None, **kwargs):
    """Per-flag binary Dawid-Skene for multi-label answers (a set of flag codes per judgment).

    Each flag is its own present/absent question with its own 2x2 confusion per worker (a worker may be good
    at spotting off-by-one errors and blind to infinite loops). Returns (answer sets, confidence per item:
    the product over flags of the posterior of the chosen state, i.e. the probability the whole set is right,
    posterior of each flag being present (n_items, n_flags)).
    """
    items = np.asarray(items, dtype=np.int64)
    workers = np.asarray(workers, dtype=np.int64)
    present = np.zeros((items.size, n_flags), dtype=np.int64)
    for row, flags in enumerate(flag_sets):
        for flag in flags:
            present[row, flag] = 1
    p_present = np.zeros((n_items, n_flags))
    confidence = np.ones(n_items)
    for flag in range(n_flags):
        flag_gold = {i: int(flag in s) for i, s in (gold or {}).items()}
        result = dawid_skene(items, workers, present[:, flag], n_items=n_items, n_workers=n_workers, n_classes=2,
                             gold=flag_gold, **kwargs)
        p_present[:, flag] = result.posteriors[:, 1]
        confidence *= np.maximum(result.posteriors[:, 1], result.posteriors[:, 0])
    has_votes = np.bincount(items, minlength=n_items) > 0
    answers = [sorted(np.nonzero(p_present[i] > 0.5)[0].tolist()) if has_votes[i] else None for i in range(n_items)]
    return answers, np.where(has_votes, confidence, np.nan), p_present


def loo_agreement_scores(items, workers, labels, *, confusions: np.ndarray, priors: np.ndarray, n_items: int):
    """Per judgment: the probability that its label is the true class, judged from the *other* judgments of
    the item (their Dawid-Skene posterior: each other rater weighted by their own fitted reliability), and
    how many other judgments that posterior rests on. Leave-one-out: the rater's own label never votes."""
    items = np.asarray(items, dtype=np.int64)
    workers = np.asarray(workers, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    log_conf = np.log(confusions)
    per_judgment = log_conf[workers, :, labels]
    n_classes = len(priors)
    item_sum = np.empty((n_items, n_classes))
    for k in range(n_classes):
        item_sum[:, k] = np.bincount(items, weights=per_judgment[:, k], minlength=n_items)
    others = item_sum[items] - per_judgment + np.log(priors)
    others -= others.max(axis=1, keepdims=True)
    post = np.exp(others)
    post /= post.sum(axis=1, keepdims=True)
    n_others = np.bincount(items, minlength=n_items)[items] - 1
    return post[np.arange(items.size), labels], n_others
