"""Agreement and consensus of line-anchored flags (a flags answer's spans): pure numpy, no Django.

A judgment's spans are (start_line, end_line, category code) triples, 1-based and inclusive. A judgment
*localises* a task when it gives spans, or when it says the code has no problem (then every line is "no
flag"); a judgment that names problems without pointing at lines says nothing about the lines and is left
out (None here), never read as "no flag on every line".

- Line alpha: Krippendorff's alpha over per-line nominal labels. The units are the lines of each task, the
  value of a line for one rater the set of categories their spans put on it ("no flag" is the empty set, a
  value like any other). This is the line-level equivalent of unitized alpha (Krippendorff's u-alpha) with
  the line as the atom: two raters who flag overlapping but unequal ranges agree on the shared lines and
  disagree on the others, and lines nobody flagged count as agreement, weighed against chance as alpha does.
- Line overlap per category: over every pair of raters of a task, the lines each puts in the category;
  F1 (Dice) = 2 |A & B| / (|A| + |B|) and Jaccard = |A & B| / |A | B|, pooled (sums over pairs, then the
  ratio), per category and over all categories (micro). Pairs where neither rater uses the category do not
  count for it.
- Consensus spans: a line is in the consensus for a category when more than half of the task's localising
  raters put it there; consecutive such lines make one span, whose support is the smallest share of raters
  behind any of its lines (so at least that share agreed on every line of it).
"""

from __future__ import annotations

import numpy as np

from quality.metrics.alpha import krippendorff_alpha_long


def _intervals(spans, code: int) -> list[tuple[int, int]]:
    """The lines one judgment puts in one category, as disjoint sorted inclusive intervals."""
    merged: list[list[int]] = []
    for start, end, _c in sorted((s for s in spans if s[2] == code), key=lambda s: s[0]):
        if merged and start <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged]


def _size(intervals) -> int:
    return sum(b - a + 1 for a, b in intervals)


def _overlap(a, b) -> int:
    """Lines in both interval lists (each disjoint and sorted): one sweep."""
    i = j = total = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            total += hi - lo + 1
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def _task_lines(spans_list, n_lines: int) -> int:
    """A task's line count; without one (0), the last line any span names."""
    last = max((s[1] for spans in spans_list for s in spans), default=0)
    return max(int(n_lines), last)


def line_overlap(items, spans, *, n_categories: int) -> dict:
    """Pooled F1 and Jaccard of the lines raters put in each category (see the module's docstring).

    items: item index per judgment; spans: per judgment a list of (start, end, code), or None (not
    localised, left out). Returns {"categories": {code: {"f1", "jaccard", "pairs"}}, "f1", "jaccard",
    "pairs"}: pairs counts (rater pair, category) couples where at least one of the two used it; f1 and
    jaccard are None where no pair counts."""
    by_item: dict[int, list] = {}
    for item, s in zip(np.asarray(items, dtype=np.int64).tolist(), spans, strict=True):
        if s is not None:
            by_item.setdefault(item, []).append(s)
    inter = np.zeros(n_categories)
    sizes = np.zeros(n_categories)
    pairs = np.zeros(n_categories, dtype=np.int64)
    for judged in by_item.values():
        if len(judged) < 2:
            continue
        codes = sorted({c for s in judged for _, _, c in s})
        for c in codes:
            sets = [_intervals(s, c) for s in judged]
            for x in range(len(sets)):
                for y in range(x + 1, len(sets)):
                    a, b = sets[x], sets[y]
                    if not a and not b:
                        continue
                    inter[c] += _overlap(a, b)
                    sizes[c] += _size(a) + _size(b)
                    pairs[c] += 1
    union = sizes - inter

    def ratio(num, den):
        return float(num / den) if den > 0 else None

    categories = {c: {"f1": ratio(2 * inter[c], sizes[c]), "jaccard": ratio(inter[c], union[c]),
                      "pairs": int(pairs[c])} for c in range(n_categories) if pairs[c]}
    return {"categories": categories, "f1": ratio(2 * inter.sum(), sizes.sum()),
            "jaccard": ratio(inter.sum(), union.sum()), "pairs": int(pairs.sum())}


def _line_codes(spans, n_lines: int, label_codes: dict) -> np.ndarray:
    """Per line of the task (0-based), the code of the set of categories the judgment's spans put there.
    A line's set is a bitmask over the judgment's own categories (at most MAX_SPANS, 50: fits an int64)."""
    categories = sorted({c for _, _, c in spans})
    if not categories:
        return np.zeros(n_lines, dtype=np.int64)  # 0: the empty set, "no flag"
    mask = np.zeros(n_lines, dtype=np.int64)
    for bit, c in enumerate(categories):
        cover = np.zeros(n_lines + 1, dtype=np.int64)
        for start, end, code in spans:
            if code == c:
                cover[start - 1] += 1
                cover[end] -= 1
        mask |= (np.cumsum(cover)[:n_lines] > 0).astype(np.int64) << bit
    masks, inverse = np.unique(mask, return_inverse=True)
    lookup = np.array([label_codes.setdefault(frozenset(c for bit, c in enumerate(categories) if int(m) >> bit & 1),
                                              len(label_codes)) for m in masks.tolist()], dtype=np.int64)
    return lookup[np.asarray(inverse).ravel()]


def line_alpha(items, spans, n_lines) -> tuple[float, int, int]:
    """Krippendorff's alpha (nominal) over per-line labels: (alpha, lines with two or more localising
    raters, tasks with two or more localising raters). NaN when undefined (one value throughout, or no
    line rated twice).

    items: item index per judgment; spans: per judgment a list of (start, end, code) or None; n_lines: the
    line count per item (0 when unknown: the last line any span names). Vectorised: every line starts as
    "no flag" in one array; only the lines a judgment's spans cover are written, by slices (a judgment with
    spans of two or more categories has its label sets computed per line, by _line_codes)."""
    items = np.asarray(items, dtype=np.int64)
    by_item: dict[int, list] = {}
    for item, s in zip(items.tolist(), spans, strict=True):
        if s is not None:
            by_item.setdefault(item, []).append(s)
    label_codes: dict[frozenset, int] = {frozenset(): 0}
    unit_start, lengths, judged_spans = [], [], []
    offset = n_tasks = 0
    for item, judged in sorted(by_item.items()):
        if len(judged) < 2:
            continue
        length = _task_lines(judged, n_lines[item] if n_lines is not None else 0)
        if length == 0:
            continue
        for s in judged:
            unit_start.append(offset)
            lengths.append(length)
            judged_spans.append(s)
        offset += length
        n_tasks += 1
    if not lengths:
        return float("nan"), 0, 0
    lengths_arr = np.asarray(lengths, dtype=np.int64)
    row_start = np.cumsum(lengths_arr) - lengths_arr  # where each judgment's lines begin in the long arrays
    total = int(lengths_arr.sum())
    units = np.repeat(np.asarray(unit_start, dtype=np.int64) - row_start, lengths_arr) + np.arange(total)
    values = np.zeros(total, dtype=np.int64)  # 0: "no flag"
    for row, s in enumerate(judged_spans):
        if not s:
            continue
        base = int(row_start[row])
        if len({c for _, _, c in s}) == 1:
            code = label_codes.setdefault(frozenset((s[0][2],)), len(label_codes))
            for start, end, _c in s:
                values[base + start - 1: base + end] = code
        else:
            values[base: base + lengths[row]] = _line_codes(s, lengths[row], label_codes)
    alpha = krippendorff_alpha_long(units, values, level="nominal")
    return alpha, offset, n_tasks


def span_consensus(spans_list: list, n_lines: int = 0) -> list[tuple[int, int, int, float]]:
    """The consensus spans of one task from its localising judgments' spans: (start, end, code, support),
    sorted by start line then category code. Empty without judgments or without a majority anywhere."""
    n = len(spans_list)
    if n == 0:
        return []
    length = _task_lines(spans_list, n_lines)
    out = []
    for c in sorted({c for spans in spans_list for _, _, c in spans}):
        count = np.zeros(length + 2, dtype=np.int64)
        for spans in spans_list:
            for a, b in _intervals(spans, c):  # merged, so a rater counts once per line
                count[a] += 1
                count[b + 1] -= 1
        per_line = np.cumsum(count)[: length + 1]  # per_line[l]: raters on line l (index 0 unused)
        majority = per_line * 2 > n
        majority[0] = False
        line = 1
        while line <= length:
            if not majority[line]:
                line += 1
                continue
            start = line
            while line <= length and majority[line]:
                line += 1
            support = float(per_line[start:line].min()) / n
            out.append((start, line - 1, c, support))
    out.sort(key=lambda s: (s[0], s[2], s[1]))
    return out
