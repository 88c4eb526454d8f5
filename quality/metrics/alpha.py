"""Krippendorff's alpha for nominal, ordinal, interval and ratio data, with missing values.

Works on the long format the database gives (one row per judgment: unit index, value) so a 100k x 3 project
never becomes a dense (units x raters x values) cube: the coincidence matrix is one matrix product of the
(units x values) count table (or, when values are many, one np.bincount over the pairable value pairs inside
each unit), each pair weighted 1 / (m_u - 1) (Krippendorff 2011, "Computing
Krippendorff's alpha-reliability"). Distances follow the krippendorff package exactly (the ordinal metric
uses the marginal value counts), so the results agree with it to floating-point rounding.
"""

import numpy as np

LEVELS = ("nominal", "ordinal", "interval", "ratio")


def _distances(domain: np.ndarray, n_v: np.ndarray, level: str) -> np.ndarray:
    if level == "nominal":
        return 1.0 - np.eye(len(domain))
    if level == "ordinal":
        # d(c, k) = (sum of n_g for g between c and k inclusive - (n_c + n_k) / 2) ** 2
        cum = np.concatenate(([0.0], np.cumsum(n_v)))
        i = np.arange(len(domain))
        lo, hi = np.minimum.outer(i, i), np.maximum.outer(i, i)
        between = cum[hi + 1] - cum[lo]
        return (between - (n_v[:, None] + n_v[None, :]) / 2.0) ** 2
    values = domain.astype(np.float64)
    diff = values[:, None] - values[None, :]
    if level == "interval":
        return diff**2
    if level == "ratio":
        total = values[:, None] + values[None, :]
        return np.divide(diff, total, out=np.zeros_like(diff), where=total != 0) ** 2
    raise ValueError(f"level must be one of {', '.join(LEVELS)}")


def coincidences(units: np.ndarray, codes: np.ndarray, n_values: int) -> np.ndarray:
    """The (V, V) coincidence matrix from parallel arrays (unit index, value code) of the non-missing values."""
    units = np.asarray(units, dtype=np.int64)
    codes = np.asarray(codes, dtype=np.int64)
    if units.size == 0:
        return np.zeros((n_values, n_values))
    order = np.argsort(units, kind="stable")
    units, codes = units[order], codes[order]
    _, start, m = np.unique(units, return_index=True, return_counts=True)
    keep_unit = m >= 2  # a value alone in its unit has no partner: it is not pairable
    m_item = np.repeat(m, m)
    start_item = np.repeat(start, m)
    pairable = np.repeat(keep_unit, m)
    idx = np.nonzero(pairable)[0]
    reps = m_item[idx]
    # Every item paired with every position of its unit (self included, dropped below).
    left = np.repeat(idx, reps)
    offset = np.arange(left.size) - np.repeat(np.cumsum(reps) - reps, reps)
    right = start_item[left] + offset
    other = left != right
    left, right = left[other], right[other]
    weights = 1.0 / (m_item[left] - 1)
    flat = codes[left] * n_values + codes[right]
    return np.bincount(flat, weights=weights, minlength=n_values * n_values).reshape(n_values, n_values)


def coincidences_dense(unit_idx: np.ndarray, codes: np.ndarray, n_units: int, n_values: int) -> np.ndarray:
    """The same matrix from a (units, values) count table: o = C^T diag(1/(m-1)) C - diag(column sums),
    one matrix product; used when units x values is small enough to hold (it usually is: few values)."""
    counts = np.bincount(unit_idx * n_values + codes, minlength=n_units * n_values).reshape(n_units, n_values)
    m = counts.sum(axis=1)
    keep = m >= 2
    c = counts[keep].astype(np.float64)
    weighted = c / (m[keep] - 1.0)[:, None]
    return weighted.T @ c - np.diag(weighted.sum(axis=0))


DENSE_LIMIT = 20_000_000  # units x values cells above which the pair list is cheaper than a dense table


def _unit_index(units: np.ndarray) -> tuple[np.ndarray, int]:
    if units.dtype.kind in "iu" and units.size and units.min() >= 0 and units.max() < 4 * units.size + 16:
        return units.astype(np.int64), int(units.max()) + 1  # already small indexes: no sort needed
    _, idx = np.unique(units, return_inverse=True)
    return idx.astype(np.int64), int(idx.max()) + 1 if idx.size else 0


def _encode(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct values, code of each value). Small integer scales (ratings, choices) skip the sort."""
    if values.dtype.kind in "iuf":
        low, high = values.min(), values.max()
        if high - low <= 10_000:
            shifted = values - low
            as_int = shifted.astype(np.int64)
            if np.array_equal(as_int, shifted):
                present = np.bincount(as_int, minlength=int(high - low) + 1) > 0
                lookup = np.cumsum(present) - 1
                return np.flatnonzero(present).astype(values.dtype) + low, lookup[as_int]
    domain, codes = np.unique(values, return_inverse=True)
    return domain, codes.ravel()


def krippendorff_alpha_long(units, values, *, level: str) -> float:
    """Alpha from one row per judgment (unit id, numeric or string value). NaN when undefined.

    Undefined means fewer than two distinct values, or no unit with two or more values (the krippendorff
    package raises ValueError in both cases).
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    values = np.asarray(values)
    units = np.asarray(units)
    if values.dtype.kind == "f":
        present = ~np.isnan(values)
        values, units = values[present], units[present]
    if values.size == 0:
        return float("nan")
    domain, codes = _encode(values)
    if len(domain) <= 1:
        return float("nan")
    if domain.dtype.kind not in "iuf" and level != "nominal":
        raise ValueError("only the nominal level accepts non-numeric values")
    unit_idx, n_units = _unit_index(units)
    if n_units * len(domain) <= DENSE_LIMIT:
        o = coincidences_dense(unit_idx, codes, n_units, len(domain))
    else:
        o = coincidences(unit_idx, codes, len(domain))
    return _alpha_from_coincidences(o, domain, level)


def krippendorff_alpha(reliability_data, *, level: str) -> float:
    """Alpha of a (raters, units) matrix with NaN for missing values, as krippendorff.alpha takes it."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    data = np.asarray(reliability_data, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError("reliability_data must be a (raters, units) matrix")
    present = ~np.isnan(data)
    if not present.any():
        return float("nan")
    domain, codes = _encode(data[present])
    n_units, v = data.shape[1], len(domain)
    if len(domain) <= 1 or n_units * (v + 1) > DENSE_LIMIT:
        rater_idx, unit_idx = np.nonzero(present)
        return krippendorff_alpha_long(unit_idx, data[rater_idx, unit_idx], level=level)
    # Every cell at once: missing cells count in an extra column that is dropped (no gather of positions).
    cell_codes = np.full(data.shape, v, dtype=np.int64)
    cell_codes[present] = codes
    flat = (np.arange(n_units, dtype=np.int64) * (v + 1) + cell_codes).ravel()
    counts = np.bincount(flat, minlength=n_units * (v + 1)).reshape(n_units, v + 1)[:, :v]
    return _alpha_from_counts(counts, domain, level)


def _alpha_from_counts(counts: np.ndarray, domain: np.ndarray, level: str) -> float:
    m = counts.sum(axis=1)
    keep = m >= 2
    c = counts[keep].astype(np.float64)
    weighted = c / (m[keep] - 1.0)[:, None]
    o = weighted.T @ c - np.diag(weighted.sum(axis=0))
    return _alpha_from_coincidences(o, domain, level)


def _alpha_from_coincidences(o: np.ndarray, domain: np.ndarray, level: str) -> float:
    n_v = o.sum(axis=0)
    n = n_v.sum()
    if n <= 1:
        return float("nan")
    e = (np.outer(n_v, n_v) - np.diag(n_v)) / (n - 1)
    d = _distances(domain, n_v, level)
    expected = (e * d).sum()
    if expected == 0:
        return float("nan")
    return float(1.0 - (o * d).sum() / expected)
