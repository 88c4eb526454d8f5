"""The numpy core against the reference libraries (krippendorff, statsmodels, scikit-learn), to 1e-9."""

import math

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from quality.metrics import (
    binomial_sf,
    cohen_kappa,
    fleiss_kappa,
    group_median,
    krippendorff_alpha,
    krippendorff_alpha_long,
    loo_agreement,
    wilson_interval,
)

LEVELS = ["nominal", "ordinal", "interval", "ratio"]
# sklearn warns when both raters used one label; the NaN it then returns is what the test compares.
pytestmark = pytest.mark.filterwarnings("ignore:A single label was found")


@st.composite
def reliability_data(draw):
    """(raters, units) of small integer ratings with some missing values."""
    raters = draw(st.integers(2, 6))
    units = draw(st.integers(2, 25))
    top = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**32 - 1))
    missing = draw(st.floats(0.0, 0.6))
    rng = np.random.default_rng(seed)
    data = rng.integers(0, top + 1, size=(raters, units)).astype(float)
    data[rng.random(data.shape) < missing] = np.nan
    return data


def _reference_alpha(data, level):
    try:
        return krippendorff.alpha(reliability_data=data, level_of_measurement=level)
    except ValueError:  # the package refuses undefined cases; ours answers NaN
        return float("nan")


@settings(max_examples=150, deadline=None)
@given(reliability_data(), st.sampled_from(LEVELS))
def test_alpha_equals_krippendorff_package(data, level):
    ours = krippendorff_alpha(data, level=level)
    theirs = _reference_alpha(data, level)
    if math.isnan(theirs) or not math.isfinite(theirs):
        assert math.isnan(ours) or not math.isfinite(theirs)
    else:
        assert ours == pytest.approx(theirs, abs=1e-9)


def test_alpha_published_example():
    # Krippendorff's own example (also the krippendorff package's doctest).
    data = [[np.nan, np.nan, np.nan, np.nan, np.nan, 3, 4, 1, 2, 1, 1, 3, 3, np.nan, 3],
            [1, np.nan, 2, 1, 3, 3, 4, 3, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan],
            [np.nan, np.nan, 2, 1, 3, 4, 4, np.nan, 2, 1, 1, 3, 3, np.nan, 4]]
    assert round(krippendorff_alpha(data, level="nominal"), 6) == 0.691358
    assert round(krippendorff_alpha(data, level="interval"), 6) == 0.810845


def test_alpha_edge_cases_are_nan_not_errors():
    one_rater = np.array([[1, 2, 3, 1.0]])
    assert math.isnan(krippendorff_alpha(one_rater, level="nominal"))
    all_agree_one_value = np.ones((3, 5))
    assert math.isnan(krippendorff_alpha(all_agree_one_value, level="ordinal"))
    all_missing = np.full((3, 4), np.nan)
    assert math.isnan(krippendorff_alpha(all_missing, level="interval"))
    # Everyone agrees on every unit, with more than one value in use: perfect agreement.
    agree = np.array([[1, 2, 3, 1], [1, 2, 3, 1], [1, 2, np.nan, 1.0]])
    assert krippendorff_alpha(agree, level="nominal") == pytest.approx(1.0)


def test_alpha_long_format_accepts_string_labels_at_nominal_only():
    units = [0, 0, 1, 1, 2, 2]
    values = ["a", "a", "b", "b", "a", "b"]
    expected = krippendorff.alpha(reliability_data=[[1, 2, 1], [1, 2, 2]], level_of_measurement="nominal")
    assert krippendorff_alpha_long(units, values, level="nominal") == pytest.approx(expected, abs=1e-12)
    with pytest.raises(ValueError):
        krippendorff_alpha_long(units, values, level="interval")
    with pytest.raises(ValueError):
        krippendorff_alpha_long(units, [1, 2, 3, 4, 5, 6], level="cardinal")


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 30), st.integers(2, 7), st.integers(2, 5), st.integers(0, 2**32 - 1))
def test_fleiss_equals_statsmodels(subjects, raters, categories, seed):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, categories, size=(subjects, raters))
    table, _ = aggregate_raters(data)
    theirs = sm_fleiss_kappa(table) if table.shape[1] > 1 else float("nan")
    ours = fleiss_kappa(table)
    if math.isnan(theirs):
        assert math.isnan(ours)
    else:
        assert ours == pytest.approx(theirs, abs=1e-9)


def test_fleiss_edge_cases():
    assert math.isnan(fleiss_kappa(np.array([[3, 0], [3, 0]])))  # one category only
    assert math.isnan(fleiss_kappa(np.array([[1, 0], [0, 1]])))  # one rating per subject
    assert fleiss_kappa(np.array([[3, 0], [0, 3]])) == pytest.approx(1.0)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 40), st.integers(2, 6), st.sampled_from([None, "linear", "quadratic"]),
       st.integers(0, 2**32 - 1))
def test_cohen_equals_sklearn(n, categories, weights, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, categories, size=n)
    b = np.where(rng.random(n) < 0.6, a, rng.integers(0, categories, size=n))
    with np.errstate(all="ignore"):
        theirs = cohen_kappa_score(a, b, weights=weights)
    ours = cohen_kappa(a, b, weights=weights)
    if math.isnan(theirs):
        assert math.isnan(ours)
    else:
        assert ours == pytest.approx(theirs, abs=1e-9)


def test_cohen_rejects_bad_input():
    with pytest.raises(ValueError):
        cohen_kappa([1, 2], [1])
    with pytest.raises(ValueError):
        cohen_kappa([1, 2], [1, 2], weights="cubic")
    assert math.isnan(cohen_kappa([], []))


def test_wilson_interval_known_values_and_empty():
    lower, upper = wilson_interval(8, 10)
    assert lower == pytest.approx(0.4901568467, abs=1e-9) and upper == pytest.approx(0.9433190520, abs=1e-9)
    lower, upper = wilson_interval(np.array([0, 5]), np.array([0, 5]))
    assert math.isnan(lower[0]) and math.isnan(upper[0]) and upper[1] == pytest.approx(1.0)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 60), st.floats(0.01, 0.99), st.data())
def test_binomial_sf_equals_scipy(n, p, data):
    from scipy.stats import binom

    k = data.draw(st.integers(0, n + 1))
    assert binomial_sf(k, n, p) == pytest.approx(binom.sf(k - 1, n, p), rel=1e-9, abs=1e-300)


def test_loo_agreement_scores_against_the_others_only():
    # Item 0: workers 0,1,2 say 0,0,1; item 1: 1,1,1.
    items = [0, 0, 0, 1, 1, 1]
    workers = [0, 1, 2, 0, 1, 2]
    labels = [0, 0, 1, 1, 1, 1]
    mean, n = loo_agreement(items, workers, labels, n_workers=4, n_classes=2)
    # Worker 0 on item 0: others are {0, 1} -> tie, credit 1/2; item 1: others agree with it -> 1.
    assert mean[0] == pytest.approx(0.75) and mean[2] == pytest.approx(0.5)  # worker 2: others {0,0} -> 0
    assert n.tolist() == [2, 2, 2, 0] and math.isnan(mean[3])


def test_group_median_ignores_nan_and_empty_groups():
    med = group_median([0, 0, 0, 1, 1, 2], [3.0, 1.0, 2.0, 4.0, np.nan, np.nan], n_groups=4)
    assert med[0] == 2.0 and med[1] == 4.0 and math.isnan(med[2]) and math.isnan(med[3])


@settings(max_examples=60, deadline=None)
@given(reliability_data(), st.sampled_from(LEVELS))
def test_dense_and_pair_list_coincidences_agree(data, level):
    from quality.metrics.alpha import coincidences, coincidences_dense

    rater_idx, unit_idx = np.nonzero(~np.isnan(data))
    _, codes = np.unique(data[rater_idx, unit_idx], return_inverse=True)
    v = int(codes.max()) + 1 if codes.size else 1
    dense = coincidences_dense(unit_idx, codes, data.shape[1], v)
    pairs = coincidences(unit_idx, codes, v)
    assert np.allclose(dense, pairs, atol=1e-12)
