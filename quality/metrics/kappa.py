"""Fleiss' kappa (many raters) and Cohen's kappa (two raters, optionally weighted)."""

import numpy as np


def fleiss_kappa(table) -> float:
    """Fleiss' kappa of a (subjects, categories) count table.

    Subjects may have different numbers of ratings (dynamic overlap): each subject's observed agreement uses
    its own count, subjects with fewer than two ratings are left out. With equal counts this is exactly
    statsmodels' fleiss_kappa. NaN when undefined (no subject with two ratings, or one category only).
    """
    table = np.asarray(table, dtype=np.float64)
    m = table.sum(axis=1)
    table = table[m >= 2]
    m = m[m >= 2]
    if table.shape[0] == 0:
        return float("nan")
    p_cat = table.sum(axis=0) / table.sum()
    p_subject = ((table * table).sum(axis=1) - m) / (m * (m - 1.0))
    p_mean = p_subject.mean()
    p_exp = (p_cat * p_cat).sum()
    if p_exp == 1.0:
        return float("nan")
    return float((p_mean - p_exp) / (1.0 - p_exp))


def fleiss_kappa_long(units, labels, n_classes: int | None = None) -> float:
    """Fleiss' kappa from one row per judgment (unit index, integer label code)."""
    units = np.asarray(units, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    if units.size == 0:
        return float("nan")
    _, unit_codes = np.unique(units, return_inverse=True)
    k = int(n_classes or labels.max() + 1)
    n_units = int(unit_codes.max()) + 1
    table = np.bincount(unit_codes * k + labels, minlength=n_units * k).reshape(n_units, k)
    return fleiss_kappa(table)


def cohen_kappa(a, b, *, weights: str | None = None) -> float:
    """Cohen's kappa of two raters' labels on the same items (sklearn's cohen_kappa_score semantics).

    weights: None, "linear" or "quadratic" (distances between positions in the sorted label set).
    NaN when undefined (both raters used one and the same label throughout, or no items).
    """
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError("a and b must be 1-d arrays of the same length")
    if a.size == 0:
        return float("nan")
    labels, codes = np.unique(np.concatenate([a, b]), return_inverse=True)
    k = len(labels)
    ca, cb = codes[: a.size], codes[a.size:]
    confusion = np.bincount(ca * k + cb, minlength=k * k).reshape(k, k).astype(np.float64)
    expected = np.outer(confusion.sum(axis=1), confusion.sum(axis=0)) / confusion.sum()
    i = np.arange(k)
    if weights is None:
        w = 1.0 - np.eye(k)
    elif weights == "linear":
        w = np.abs(i[:, None] - i[None, :]).astype(np.float64)
    elif weights == "quadratic":
        w = ((i[:, None] - i[None, :]) ** 2).astype(np.float64)
    else:
        raise ValueError("weights must be None, 'linear' or 'quadratic'")
    denominator = (w * expected).sum()
    if denominator == 0:
        return float("nan")
    return float(1.0 - (w * confusion).sum() / denominator)
