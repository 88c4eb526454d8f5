"""Bradley-Terry for rankings: each ranking of a task's responses becomes pairwise comparisons, and each task's
responses get strengths fitted by Hunter's (2004) MM algorithm, all tasks at once (vectorised).

A prior of `prior` virtual wins each way between every pair of a task's responses keeps the strengths finite
when raters are unanimous (the plain MLE diverges) and shrinks thin evidence toward a tie.
"""

import numpy as np


def pairs_from_orders(orders: list[list[int]]):
    """(winner, loser, judgment row) for every pair in each order (best first)."""
    winners, losers, rows = [], [], []
    for row, order in enumerate(orders):
        for i, better in enumerate(order):
            for worse in order[i + 1:]:
                winners.append(better)
                losers.append(worse)
                rows.append(row)
    return np.array(winners, dtype=np.int64), np.array(losers, dtype=np.int64), np.array(rows, dtype=np.int64)


def bradley_terry_rankings(items, orders: list[list[int]], *, n_items: int, n_options, prior: float = 0.5,
                           max_iter: int = 200, tol: float = 1e-8):
    """Consensus ranking per item (task) from the workers' orders.

    items[r] is the task of order r; n_options[i] the number of responses of task i. Returns (consensus order
    per task, best first; None without orders), confidence per task (mean over adjacent pairs of the consensus
    of the probability that the higher one beats the lower one; NaN without orders) and the strengths.
    """
    items = np.asarray(items, dtype=np.int64)
    n_options = np.asarray(n_options, dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(n_options)))
    n_nodes = int(offsets[-1])
    winners, losers, rows = pairs_from_orders(orders)
    task_of_pair = items[rows] if rows.size else rows
    gw, gl = winners + offsets[task_of_pair], losers + offsets[task_of_pair]
    # Prior: every unordered pair within every task, `prior` wins each way.
    pw, pl = [], []
    for task in range(n_items):
        base, n = offsets[task], n_options[task]
        ii, jj = np.triu_indices(n, k=1)
        pw.append(base + ii)
        pl.append(base + jj)
    pw = np.concatenate(pw) if pw else np.zeros(0, dtype=np.int64)
    pl = np.concatenate(pl) if pl else np.zeros(0, dtype=np.int64)
    a = np.concatenate([gw, pw, pl])  # winner
    b = np.concatenate([gl, pl, pw])  # loser
    w = np.concatenate([np.ones(gw.size), np.full(pw.size, prior), np.full(pl.size, prior)])
    wins = np.bincount(a, weights=w, minlength=n_nodes)
    node_task = np.repeat(np.arange(n_items), n_options)
    strength = np.ones(n_nodes)
    for _ in range(max_iter):
        inv = w / (strength[a] + strength[b])
        denom = np.bincount(a, weights=inv, minlength=n_nodes) + np.bincount(b, weights=inv, minlength=n_nodes)
        new = np.divide(wins, denom, out=np.ones(n_nodes), where=denom > 0)
        # Normalise per task (geometric mean 1): strengths are only defined up to a factor per task.
        log_new = np.log(new)
        mean_log = np.bincount(node_task, weights=log_new, minlength=n_items) / np.maximum(n_options, 1)
        new = np.exp(log_new - mean_log[node_task])
        done = np.abs(new - strength).max() < tol if n_nodes else True
        strength = new
        if done:
            break
    has = np.bincount(items, minlength=n_items) > 0
    consensus, confidence = [], np.full(n_items, np.nan)
    for task in range(n_items):
        s = strength[offsets[task]:offsets[task + 1]]
        if not has[task]:
            consensus.append(None)
            continue
        order = np.argsort(-s, kind="stable")
        consensus.append(order.tolist())
        if len(order) >= 2:
            hi, lo = s[order[:-1]], s[order[1:]]
            confidence[task] = float(np.mean(hi / (hi + lo)))
        else:
            confidence[task] = 1.0
    return consensus, confidence, strength
