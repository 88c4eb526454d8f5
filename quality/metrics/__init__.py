"""Agreement and rater metrics: pure numpy, no Django (the benchmarks and the jobs call the same code)."""

from quality.metrics.alpha import krippendorff_alpha, krippendorff_alpha_long
from quality.metrics.kappa import cohen_kappa, fleiss_kappa, fleiss_kappa_long
from quality.metrics.raters import (
    binomial_sf,
    cusum_log_lr,
    group_median,
    loo_agreement,
    loo_plurality_scores,
    random_answer_log_lr,
    random_answer_mixture_log_lr,
    top_label_share,
    wilson_interval,
)
from quality.metrics.spans import line_alpha, line_overlap, span_consensus

__all__ = [
    "binomial_sf",
    "cusum_log_lr",
    "cohen_kappa",
    "fleiss_kappa",
    "fleiss_kappa_long",
    "group_median",
    "krippendorff_alpha",
    "krippendorff_alpha_long",
    "line_alpha",
    "line_overlap",
    "loo_agreement",
    "loo_plurality_scores",
    "random_answer_log_lr",
    "random_answer_mixture_log_lr",
    "span_consensus",
    "top_label_share",
    "wilson_interval",
]
