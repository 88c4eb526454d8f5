"""Per-rater measures: Wilson interval, leave-one-out agreement, group medians, answer concentration, the
binomial tail used to ask "is this far above chance?", and the likelihood ratio of random answering.
Vectorised over workers; no scipy at runtime."""

import math

import numpy as np


def wilson_interval(successes, n, *, z: float = 1.96):
    """Wilson score interval for a proportion, elementwise. Returns (lower, upper); NaN where n == 0."""
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1.0 + z * z / n
        centre = (p + z * z / (2.0 * n)) / denom
        half = z * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
        lower = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
        upper = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    if lower.ndim == 0:
        return float(lower), float(upper)
    return lower, upper


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed in log space (exact for the sizes a worker reaches)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    i = np.arange(k, n + 1, dtype=np.float64)
    log_c = np.array([math.lgamma(n + 1) - math.lgamma(x + 1) - math.lgamma(n - x + 1) for x in i])
    log_terms = log_c + i * math.log(p) + (n - i) * math.log1p(-p)
    return float(min(1.0, np.exp(np.logaddexp.reduce(log_terms))))


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    return 1.0 - binomial_sf(k + 1, n, p) if k < n else 1.0


def loo_plurality_scores(items, labels, *, n_classes: int, min_others: int = 2):
    """Per judgment: 1 when its label is the plurality of the *other* judgments of its item, 1/t when it is
    one of t tied pluralities, 0 otherwise; and whether it has at least min_others other judgments."""
    items = np.asarray(items, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    if items.size == 0:
        return np.zeros(0), np.zeros(0, dtype=bool)
    n_items = int(items.max()) + 1
    counts = np.bincount(items * n_classes + labels, minlength=n_items * n_classes).reshape(n_items, n_classes)
    others = counts[items].copy()
    others[np.arange(items.size), labels] -= 1
    ok = others.sum(axis=1) >= min_others
    top = others.max(axis=1, keepdims=True)
    is_top = (others == top) & (top > 0)
    credit = is_top[np.arange(items.size), labels] / np.maximum(is_top.sum(axis=1), 1)
    return credit, ok


def loo_agreement(items, workers, labels, *, n_workers: int, n_classes: int, min_others: int = 2):
    """Each worker's agreement with the consensus (plurality) of the *other* raters on the same items.

    Scores from loo_plurality_scores; judgments with fewer than min_others other raters are not scored.
    Returns per worker (mean score, number scored); the mean is NaN for a worker with nothing scored.
    """
    workers = np.asarray(workers, dtype=np.int64)
    credit, ok = loo_plurality_scores(items, labels, n_classes=n_classes, min_others=min_others)
    scores = np.bincount(workers[ok], weights=credit[ok], minlength=n_workers)
    scored = np.bincount(workers[ok], minlength=n_workers)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(scored > 0, scores / np.maximum(scored, 1), np.nan)
    return mean, scored


def group_median(groups, values, *, n_groups: int) -> np.ndarray:
    """Median of values per group (NaN values ignored; NaN for an empty group)."""
    groups = np.asarray(groups, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    keep = ~np.isnan(values)
    groups, values = groups[keep], values[keep]
    result = np.full(n_groups, np.nan)
    if values.size == 0:
        return result
    order = np.lexsort((values, groups))
    groups, values = groups[order], values[order]
    counts = np.bincount(groups, minlength=n_groups)
    starts = np.cumsum(counts) - counts
    has = counts > 0
    lo = starts[has] + (counts[has] - 1) // 2
    hi = starts[has] + counts[has] // 2
    result[has] = (values[lo] + values[hi]) / 2.0
    return result


def top_label_share(workers, labels, *, n_workers: int, n_classes: int):
    """Per worker: the label they give most, how often they give it, and how many labels they gave."""
    workers = np.asarray(workers, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    counts = np.bincount(workers * n_classes + labels, minlength=n_workers * n_classes).reshape(n_workers, n_classes)
    top = counts.argmax(axis=1)
    return top, counts[np.arange(n_workers), top], counts.sum(axis=1)


def random_answer_log_lr(reference, *, n_options: int, accuracy_floor: float) -> np.ndarray:
    """Per judgment: the log likelihood ratio of "answers uniformly at random over the n_options answers" to
    "an honest rater whose answer is right with probability accuracy_floor (errors spread over the others)".

    reference: the probability that the judgment's answer is the true one, judged without it (gold: 1 or 0;
    otherwise the leave-one-out consensus of the other raters, or the class prior when there are none). Under
    the honest model P(answer) = r * floor + (1 - r) * (1 - floor) / (n_options - 1); under random answering
    1 / n_options. Summed over a worker's judgments this is Wald's SPRT statistic: positive means random
    answering explains the answers better. Each term is bounded (at most log((n - 1) / (n (1 - floor)))),
    so no single judgment decides. NaN when the floor does not exceed chance (1 / n_options)."""
    r = np.clip(np.asarray(reference, dtype=np.float64), 0.0, 1.0)
    if n_options < 2 or not 1.0 / n_options < accuracy_floor < 1.0:
        return np.full(r.shape, np.nan)
    honest = r * accuracy_floor + (1.0 - r) * (1.0 - accuracy_floor) / (n_options - 1)
    return -math.log(n_options) - np.log(honest)


def random_answer_mixture_log_lr(reference, workers, *, n_workers: int, n_options: int, accuracy_floor: float,
                                 accuracy_ceiling: float, grid: int = 32):
    """Per worker: the log likelihood ratio of "answers uniformly at random" to "honest, with an accuracy somewhere
    between accuracy_floor and accuracy_ceiling (uniform prior)", and the number of judgments it rests on.

    The honest hypothesis is composite: a worker's accuracy is unknown, so their likelihood under it is averaged
    over the prior (a Bayes factor), on `grid` midpoints of [floor, ceiling]. Each accuracy's log likelihood is a
    sum over the worker's judgments (the per-judgment model of random_answer_log_lr), so the figure is built from
    `grid` per-worker sums. With ceiling == floor it is exactly the sum of random_answer_log_lr. Under the honest
    hypothesis the ratio is a martingale of mean 1, so the chance that an honest worker drawn from the prior ever
    reaches log LR h is at most e^-h (Ville), however many judgments they make. Judgments whose reference is NaN
    are left out. Returns (log LR per worker, NaN without judgments; judgments counted per worker)."""
    r = np.asarray(reference, dtype=np.float64)
    workers = np.asarray(workers, dtype=np.int64)
    usable = ~np.isnan(r)
    counts = np.bincount(workers[usable], minlength=n_workers)
    result = np.full(n_workers, np.nan)
    ceiling = max(float(accuracy_ceiling), float(accuracy_floor))
    if n_options < 2 or not 1.0 / n_options < accuracy_floor < 1.0 or ceiling >= 1.0 + 1e-12 or not usable.any():
        return result, counts
    r, w = np.clip(r[usable], 0.0, 1.0), workers[usable]
    accuracies = accuracy_floor + (ceiling - accuracy_floor) * (np.arange(grid) + 0.5) / grid
    honest = np.empty((grid, n_workers))
    for g, a in enumerate(accuracies):
        # Never log(0): a < 1 at every midpoint, so a wrong answer keeps probability (1 - a) / (n - 1) > 0.
        honest[g] = np.bincount(w, weights=np.log(r * a + (1.0 - r) * (1.0 - a) / (n_options - 1)),
                                minlength=n_workers)
    top = honest.max(axis=0)
    log_mean = top + np.log(np.exp(honest - top).mean(axis=0))
    has = counts > 0
    result[has] = -counts[has] * math.log(n_options) - log_mean[has]
    return result, counts


def cusum_log_lr(reference, workers, *, n_workers: int, n_options: int, accuracy: float, min_n: int = 1):
    """Per worker: a CUSUM of the random-answering log likelihood ratio (each judgment's random_answer_log_lr
    against an honest rater at `accuracy`), in the order the judgments are given (time order).

    S_t = max(0, S_{t-1} + x_t): the evidence for "random since some judgment s" for the best s, which forgets
    everything before the last low point, so a rater who turns random after a good start climbs from where they
    turned instead of from the credit their good answers banked (the cumulative test's weakness). Returns
    (highest S_t over t >= min_n, its value now S_T, the judgment number (1-based, among the worker's own) where
    the segment behind the highest S began, and that segment's length); NaN / 0 for a worker with fewer than
    min_n usable judgments. Judgments whose reference is NaN are left out."""
    r = np.asarray(reference, dtype=np.float64)
    workers = np.asarray(workers, dtype=np.int64)
    best = np.full(n_workers, np.nan)
    now = np.full(n_workers, np.nan)
    start = np.zeros(n_workers, dtype=np.int64)
    length = np.zeros(n_workers, dtype=np.int64)
    x = random_answer_log_lr(r, n_options=n_options, accuracy_floor=accuracy)
    usable = ~np.isnan(x)
    if not usable.any():
        return best, now, start, length
    x, w = x[usable], workers[usable]
    order = np.argsort(w, kind="stable")
    x, w = x[order], w[order]
    counts = np.bincount(w, minlength=n_workers)
    ends = np.cumsum(counts)
    for worker in np.flatnonzero(counts >= max(min_n, 1)):
        seg = x[ends[worker] - counts[worker]:ends[worker]]
        total = np.concatenate(([0.0], np.cumsum(seg)))
        low_at = np.maximum.accumulate(np.where(total == np.minimum.accumulate(total), np.arange(total.size), 0))
        s = total - total[low_at]  # S_t = X_t - min_{u <= t} X_u, with X_0 = 0
        t = int(np.argmax(s[max(min_n, 1):])) + max(min_n, 1)
        best[worker], now[worker] = s[t], s[-1]
        start[worker], length[worker] = int(low_at[t]) + 1, t - int(low_at[t])
    return best, now, start, length
