"""Majority (plurality) vote with a confidence: the share of votes the winning label got."""

import numpy as np


def vote_counts(items, labels, *, n_items: int, n_classes: int, weights=None) -> np.ndarray:
    items = np.asarray(items, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    return np.bincount(items * n_classes + labels, weights=weights,
                       minlength=n_items * n_classes).reshape(n_items, n_classes).astype(np.float64)


def majority_vote(items, labels, *, n_items: int, n_classes: int, seed: int = 0):
    """(answer code per item, confidence per item). Items without votes get answer -1 and confidence NaN.

    Ties are broken at random with a fixed seed (so the same data gives the same answers every run, and a
    tie is not always resolved toward the first label, which would favour position "a").
    """
    counts = vote_counts(items, labels, n_items=n_items, n_classes=n_classes)
    total = counts.sum(axis=1)
    jitter = np.random.default_rng(seed).random(counts.shape) * 1e-3  # < 1 vote: only breaks exact ties
    answer = np.argmax(counts + jitter, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        confidence = np.where(total > 0, counts[np.arange(n_items), answer] / total, np.nan)
    answer = np.where(total > 0, answer, -1)
    return answer, confidence
