"""Raters who agree with each other far more than with the rest, or keep landing on the same tasks (issue 28).

Pure numpy (no Django). A ring that gives one answer per task and claims together becomes the leave-one-out
consensus of its own tasks: every test that compares a worker with the other raters of the same task reads its
members as honest. What gives them away is between them: pairs of workers who share many more tasks than the
queue would give two independent workers (co-occurrence), and who agree on those far more often than either
agrees with anyone else (agreement).
"""

import math

import numpy as np

from quality.metrics.raters import binomial_sf


def poisson_sf(k: int, lam: float) -> float:
    """P(X >= k) for X ~ Poisson(lam), summed in log space."""
    if k <= 0:
        return 1.0
    if lam <= 0:
        return 0.0
    i = np.arange(k, k + 400, dtype=np.float64)
    log_terms = i * math.log(lam) - lam - np.array([math.lgamma(x + 1) for x in i])
    return float(min(1.0, np.exp(np.logaddexp.reduce(log_terms))))


def co_rater_pairs(items, workers, labels, *, n_workers: int):
    """Every pair of distinct workers who judged the same item: (worker a < worker b, item, agreed) arrays."""
    items = np.asarray(items, dtype=np.int64)
    workers = np.asarray(workers, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    order = np.lexsort((workers, items))
    items, workers, labels = items[order], workers[order], labels[order]
    a_w, b_w, it, agree = [], [], [], []
    for d in range(1, items.size):
        same = items[d:] == items[:-d]
        if not same.any():
            break
        i, j = np.flatnonzero(same), np.flatnonzero(same) + d
        keep = workers[i] != workers[j]
        i, j = i[keep], j[keep]
        a_w.append(np.minimum(workers[i], workers[j]))
        b_w.append(np.maximum(workers[i], workers[j]))
        it.append(items[i])
        agree.append(labels[i] == labels[j])
    if not a_w:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, np.zeros(0, dtype=bool)
    return np.concatenate(a_w), np.concatenate(b_w), np.concatenate(it), np.concatenate(agree)


def collusion_groups(items, workers, labels, *, n_workers: int, min_shared: int, cooccur_p: float,
                     agree_p: float, margin: float) -> list[dict]:
    """Groups of workers linked by suspicious pairs, on the given (real, non-gold) judgments.

    A pair (a, b) is suspicious when it shared at least min_shared items, agreed on them more often than either
    agrees with their other co-raters plus margin (binomial test at agree_p: "agree with each other far more
    than with the rest"), or, when they agree at least as often as the project's co-raters do, shared far more
    items than two independent workers would (Poisson test at cooccur_p / number of worker pairs: "keep landing
    on the same tasks"). Expected shared items for a and b: the slots beside a's judgments times b's share of
    the other judgments (exact for a queue that serves workers independently).

    Returns [{workers: sorted list, pairs: [{a, b, shared, agreed, expected_shared, agree_rest, p_agree,
    p_cooccur}], items: sorted shared items}], largest group first.
    """
    items = np.asarray(items, dtype=np.int64)
    workers = np.asarray(workers, dtype=np.int64)
    if items.size == 0 or n_workers < 2:
        return []
    a, b, it, agreed = co_rater_pairs(items, workers, labels, n_workers=n_workers)
    if a.size == 0:
        return []
    key = a * n_workers + b
    uniq, inverse = np.unique(key, return_inverse=True)
    shared = np.bincount(inverse)
    agree = np.bincount(inverse, weights=agreed.astype(np.float64))
    pa, pb = uniq // n_workers, uniq % n_workers
    # Each worker's agreement with all their co-raters (to take the partner out of it below).
    tot_shared = np.bincount(pa, weights=shared, minlength=n_workers) + np.bincount(pb, weights=shared,
                                                                                     minlength=n_workers)
    tot_agree = np.bincount(pa, weights=agree, minlength=n_workers) + np.bincount(pb, weights=agree,
                                                                                  minlength=n_workers)
    pool_rate = float(agree.sum() / shared.sum())
    counts = np.bincount(items, minlength=int(items.max()) + 1)
    n_by_worker = np.bincount(workers, minlength=n_workers)
    slots = np.bincount(workers, weights=counts[items] - 1, minlength=n_workers)  # co-rater slots beside a worker
    total = items.size
    n_pairs = n_workers * (n_workers - 1) / 2
    suspicious = []
    for idx in np.flatnonzero(shared >= min_shared):
        x, y, s, g = int(pa[idx]), int(pb[idx]), int(shared[idx]), int(agree[idx])
        rest = []
        for w in (x, y):
            other_s = tot_shared[w] - s
            rest.append((tot_agree[w] - g) / other_s if other_s > 0 else pool_rate)
        agree_rest = max(rest)
        p_agree = binomial_sf(g, s, min(0.99, agree_rest + margin))
        expected = 0.5 * (slots[x] * n_by_worker[y] / max(total - n_by_worker[x], 1)
                          + slots[y] * n_by_worker[x] / max(total - n_by_worker[y], 1))
        p_cooccur = poisson_sf(s, expected) if g / s >= pool_rate else 1.0
        if p_agree < agree_p or p_cooccur < cooccur_p / n_pairs:
            suspicious.append({"a": x, "b": y, "shared": s, "agreed": g, "expected_shared": round(expected, 3),
                               "agree_rest": round(float(agree_rest), 4), "p_agree": p_agree,
                               "p_cooccur": p_cooccur})
    if not suspicious:
        return []
    parent = {}

    def find(w):
        while parent.setdefault(w, w) != w:
            parent[w] = parent[parent[w]]
            w = parent[w]
        return w

    for pair in suspicious:
        parent[find(pair["a"])] = find(pair["b"])
    groups: dict[int, dict] = {}
    for pair in suspicious:
        group = groups.setdefault(find(pair["a"]), {"workers": set(), "pairs": []})
        group["workers"].update((pair["a"], pair["b"]))
        group["pairs"].append(pair)
    out = []
    for group in groups.values():
        members = sorted(group["workers"])
        mask = np.isin(a, members) & np.isin(b, members)  # the tasks two or more members shared
        shared_items = sorted(int(i) for i in np.unique(it[mask]))
        out.append({"workers": members, "pairs": group["pairs"], "items": shared_items})
    return sorted(out, key=lambda g: -len(g["workers"]))


def order_agreement(items, workers, labels, *, n_workers: int):
    """Per worker, how often their answer matches co-raters who answered the same item *before* them and *after*
    them: (agreed with earlier, earlier co-raters, agreed with later, later co-raters). Judgments must be in
    the order they were given (the loader reads them by id). An honest rater's answer does not depend on who
    answered first, so both rates estimate the same thing; a rater who copies what the earlier raters gave
    agrees with them far more often than with the raters who come after (rules.rule_copying)."""
    items = np.asarray(items, dtype=np.int64)
    workers = np.asarray(workers, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    zeros = np.zeros(n_workers)
    if items.size < 2:
        return zeros, zeros.copy(), zeros.copy(), zeros.copy()
    order = np.argsort(items, kind="stable")  # by item, in time order within each item
    items, workers, labels = items[order], workers[order], labels[order]
    e_agree, e_n, l_agree, l_n = zeros.copy(), zeros.copy(), zeros.copy(), zeros.copy()
    for d in range(1, items.size):
        same = np.flatnonzero(items[d:] == items[:-d])
        if same.size == 0:
            break
        early, late = same, same + d
        keep = workers[early] != workers[late]
        early, late = early[keep], late[keep]
        agree = (labels[early] == labels[late]).astype(np.float64)
        e_agree += np.bincount(workers[late], weights=agree, minlength=n_workers)
        e_n += np.bincount(workers[late], minlength=n_workers)
        l_agree += np.bincount(workers[early], weights=agree, minlength=n_workers)
        l_n += np.bincount(workers[early], minlength=n_workers)
    return e_agree, e_n, l_agree, l_n
