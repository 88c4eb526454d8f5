"""Dawid-Skene (1979): each worker has a confusion matrix P(label | true class); EM alternates the items'
posteriors over the true class (E) and the workers' confusion matrices and the class priors (M).

Vectorised (see _Layout): one M-step is a single bincount over the judgments, one E-step a row gather of
log-confusions and one np.add.reduceat. Items with a known answer (gold) stay pinned to it, so they anchor the workers'
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


class _Layout:
    """Judgments sorted by item, with precomputed indices, so each EM step is a few flat numpy passes.

    Posteriors are kept class-major, (n_classes, n_items), inside the fit: each class is one contiguous
    vector, so the per-item max/exp/sum of the E-step and the gathers run on contiguous memory. The M-step
    is one gather and one bincount over (true class, worker, given label); the E-step one gather of
    log-confusions and one np.add.reduceat over each item's judgments.
    """

    def __init__(self, items, workers, labels, n_items, n_workers, n_classes):
        order = np.argsort(items, kind="stable")
        self.items, self.workers, self.labels = items[order], workers[order], labels[order]
        self.n_items, self.n_workers, self.n_classes = n_items, n_workers, n_classes
        self.row = self.workers * n_classes + self.labels  # (worker, given label)
        self.cells = (np.arange(n_classes)[:, None] * (n_workers * n_classes) + self.row[None, :]).ravel()
        if self.items.size:
            self.starts = np.flatnonzero(np.r_[True, self.items[1:] != self.items[:-1]])
        else:
            self.starts = np.zeros(0, dtype=np.int64)
        self.labelled = self.items[self.starts]


def _symmetric_prior(counts, n_classes):
    """The crowd's symmetric confusion: its pooled accuracy on the diagonal, the rest spread evenly.

    The accuracy is kept above chance (1/K + 0.05): a rater nobody knows anything about is taken to be a
    little better than a coin, never worse, so only their own evidence can make their answer count against
    itself. It is symmetric on purpose: the pooled matrix carries the crowd's biases (e.g. always-"a" raters
    make "a" look likely whatever the truth) and would lend them to every newcomer."""
    total = counts.sum()
    accuracy = float(np.trace(counts.sum(axis=0)) / total) if total > 0 else 0.75
    accuracy = min(max(accuracy, 1.0 / n_classes + 0.05), 0.99)
    prior = np.full((n_classes, n_classes), (1.0 - accuracy) / max(n_classes - 1, 1))
    np.fill_diagonal(prior, accuracy)
    return prior


def _m_step(layout: _Layout, post_t, smoothing, shrinkage=0.0, class_prior=0.0):
    k, w = layout.n_classes, layout.n_workers
    weights = np.take(post_t, layout.items, axis=1).ravel()  # P(true class k) of each judgment's item
    counts = np.bincount(layout.cells, weights=weights, minlength=k * w * k).reshape(k, w, k)
    confusions = counts.transpose(1, 0, 2).copy()  # [worker, true, given]
    if shrinkage:
        # A Dirichlet prior centred on the crowd's symmetric matrix, worth `shrinkage` judgments per row: the
        # posterior mean weighs a rater's own counts n against the prior as n : shrinkage, so a rater seen a
        # few times stays close to the crowd, and one seen hundreds of times is judged on their own record.
        confusions += shrinkage * _symmetric_prior(confusions, k)
    confusions += smoothing
    confusions /= confusions.sum(axis=2, keepdims=True)
    # Class priors get `class_prior` pseudo-items per class: on a handful of items EM can otherwise drive a
    # class's prior to ~0 and turn every vote for it into evidence against it.
    priors = post_t.sum(axis=1) + smoothing + class_prior
    return confusions, priors / priors.sum()


def _e_step_layout(layout: _Layout, log_confusions, log_priors):
    """Class-major posteriors (K, n_items) and the log-likelihood."""
    k = layout.n_classes
    # rows_t[true, (worker, given)] = log P(given | true)
    rows_t = np.ascontiguousarray(log_confusions.transpose(1, 0, 2).reshape(k, layout.n_workers * k))
    if layout.items.size == 0:
        return _normalise(np.repeat(log_priors[:, None], layout.n_items, axis=1).astype(np.float64))
    sums = np.add.reduceat(np.take(rows_t, layout.row, axis=1), layout.starts, axis=1)
    if layout.labelled.size == layout.n_items:  # every item has labels: no scatter needed
        sums += log_priors[:, None]
        return _normalise(sums)
    log_post = np.repeat(log_priors[:, None], layout.n_items, axis=1).astype(np.float64)
    log_post[:, layout.labelled] += sums
    return _normalise(log_post)


def _normalise(log_post_t):
    """Posteriors from class-major unnormalised log posteriors, in place, and the log-likelihood."""
    top = log_post_t.max(axis=0)
    log_post_t -= top
    np.exp(log_post_t, out=log_post_t)
    norm = log_post_t.sum(axis=0)
    log_likelihood = float(np.log(norm).sum() + top.sum())
    log_post_t /= norm
    return log_post_t, log_likelihood


def _e_step(items, workers, labels, log_confusions, log_priors, n_items, n_classes):
    """Item-major posteriors (n_items, K) of the given judgments under fixed parameters."""
    layout = _Layout(items, workers, labels, n_items, log_confusions.shape[0], n_classes)
    post_t, log_likelihood = _e_step_layout(layout, log_confusions, log_priors)
    return np.ascontiguousarray(post_t.T), log_likelihood


def _pin(post_t, gold_items, gold_labels):
    if gold_items.size:
        post_t[:, gold_items] = 0.0
        post_t[gold_labels, gold_items] = 1.0


def dawid_skene(items, workers, labels, *, n_items: int, n_workers: int, n_classes: int,
                gold: dict[int, int] | None = None, max_iter: int = 200, tol: float = 1e-7,
                smoothing: float = 0.01, shrinkage: float = 3.0, class_prior: float = 1.0,
                seed: int = 0) -> DawidSkeneResult:
    """Fit Dawid-Skene. gold maps item index -> true label code (pinned). Deterministic for a given seed.

    shrinkage: pseudo-judgments per confusion row drawn toward the crowd's symmetric confusion (0 = the
    classic maximum-likelihood estimate, as crowd-kit computes it); class_prior: pseudo-items per class for
    the class priors. Unanimous items are never overturned by the fit alone (see _answers)."""
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
    post_t = np.ascontiguousarray(posteriors.T)
    _pin(post_t, gold_items, gold_labels)

    layout = _Layout(items, workers, labels, n_items, n_workers, n_classes)
    converged = False
    n_iter = 0
    previous = -np.inf
    for n_iter in range(1, max_iter + 1):  # noqa: B007 - n_iter is reported
        confusions, priors = _m_step(layout, post_t, smoothing, shrinkage, class_prior)
        post_t, log_likelihood = _e_step_layout(layout, np.log(confusions), np.log(priors))
        _pin(post_t, gold_items, gold_labels)
        # Converged when the (observed-data) log-likelihood stops improving relative to its size.
        if abs(log_likelihood - previous) <= tol * max(1.0, abs(log_likelihood)):
            converged = True
            break
        previous = log_likelihood
    confusions, priors = _m_step(layout, post_t, smoothing, shrinkage, class_prior)
    posteriors = np.ascontiguousarray(post_t.T)
    answers, confidence = _answers(posteriors, has_votes, seed, layout=layout, confusions=confusions, gold=gold)
    return DawidSkeneResult(posteriors, answers, confidence, confusions, priors, n_iter, converged)


def _answers(posteriors, has_votes, seed, *, layout=None, confusions=None, gold=None):
    jitter = np.random.default_rng(seed).random(posteriors.shape) * 1e-12  # breaks exact ties, reproducibly
    answers = np.argmax(posteriors + jitter, axis=1)
    if layout is not None:
        kept = unanimous_kept(layout, confusions, answers, gold or {})
        answers[kept] = layout.labels[layout.starts][np.searchsorted(layout.labelled, kept)]
    confidence = posteriors[np.arange(len(answers)), answers]
    return np.where(has_votes, answers, -1), np.where(has_votes, confidence, np.nan)


MIN_UNANIMOUS = 3
# How strongly the raters' own records must favour another answer before their unanimous vote is overturned:
# their confusion ratios multiplied together make it at least e times as likely as their answer. Raters at
# chance (random clickers, always-"a") hover around a ratio of 1 and must not flip a vote on noise.
UNANIMOUS_MARGIN = 1.0


def unanimous_kept(layout: _Layout, confusions, answers, gold) -> np.ndarray:
    """Items whose unanimous vote (MIN_UNANIMOUS or more raters, all the same label) the fit overturned
    although the raters' own evidence does not show them worse than chance.

    A rater's vote for label a counts against a only when their confusion row says they give a more often
    when the truth is c than when it is a: log(C[a, a] / C[c, a]) < 0. Summed over the item's raters, that is
    the vote's evidence for a over c with the class priors left out. The vote stands unless this sum is
    below -UNANIMOUS_MARGIN for some class c (the raters' records show them clearly worse than chance at
    telling a from c): the class priors (the project's base rates) alone never overturn it, and neither does
    an EM fixed point that a handful of judgments cannot pin down. Gold items are pinned to their known answer
    and are left alone."""
    k = layout.n_classes
    if layout.items.size == 0 or not len(layout.starts):
        return np.zeros(0, dtype=np.int64)
    ends = np.r_[layout.starts[1:], layout.items.size]
    sizes = ends - layout.starts
    first = layout.labels[layout.starts]
    same = np.minimum.reduceat((layout.labels == np.repeat(first, sizes)).astype(np.int8), layout.starts) == 1
    candidates = same & (sizes >= MIN_UNANIMOUS) & (answers[layout.labelled] != first)
    if gold:
        candidates &= ~np.isin(layout.labelled, np.fromiter(gold.keys(), dtype=np.int64, count=len(gold)))
    if not candidates.any():
        return np.zeros(0, dtype=np.int64)
    log_conf = np.log(confusions)
    # evidence[j, c] = log C[w, a, a] - log C[w, c, a] for judgment j with worker w and label a
    given = log_conf[layout.workers, :, layout.labels]  # (n_judgments, K): log P(label | true c)
    own = given[np.arange(layout.items.size), layout.labels]
    evidence = np.add.reduceat(own[:, None] - given, layout.starts, axis=0)  # (n_labelled, K)
    evidence[np.arange(len(first)), first] = np.inf
    keep = candidates & (evidence.min(axis=1) > -UNANIMOUS_MARGIN) if k > 1 else candidates
    return layout.labelled[keep]


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
    layout = _Layout(items, workers, labels, n_items, confusions.shape[0], n_classes)
    post_t, _ = _e_step_layout(layout, np.log(confusions), np.log(priors))
    post = np.ascontiguousarray(post_t.T)
    has_votes = np.bincount(items, minlength=n_items) > 0
    answers, confidence = _answers(post, has_votes, seed, layout=layout, confusions=confusions)
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
    present_answer = np.zeros((n_items, n_flags), dtype=bool)
    confidence = np.ones(n_items)
    for flag in range(n_flags):
        flag_gold = {i: int(flag in s) for i, s in (gold or {}).items()}
        result = dawid_skene(items, workers, present[:, flag], n_items=n_items, n_workers=n_workers, n_classes=2,
                             gold=flag_gold, **kwargs)
        p_present[:, flag] = result.posteriors[:, 1]
        present_answer[:, flag] = result.answers == 1  # the fit's answer: keeps unanimous votes (see _answers)
        confidence *= np.where(result.answers == 1, result.posteriors[:, 1], result.posteriors[:, 0])
    has_votes = np.bincount(items, minlength=n_items) > 0
    answers = [sorted(np.nonzero(present_answer[i])[0].tolist()) if has_votes[i] else None for i in range(n_items)]
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
