"""Consensus (label aggregation): pure numpy, no Django. Inputs are parallel integer arrays, one row per
judgment: item index, worker index, label code (0 <= code < n_classes)."""

from quality.consensus.bradley_terry import bradley_terry_rankings, pairs_from_orders
from quality.consensus.dawid_skene import (
    DawidSkeneResult,
    dawid_skene,
    dawid_skene_posterior,
    flags_dawid_skene,
    loo_agreement_scores,
)
from quality.consensus.majority import majority_vote

__all__ = [
    "DawidSkeneResult",
    "bradley_terry_rankings",
    "dawid_skene",
    "dawid_skene_posterior",
    "flags_dawid_skene",
    "loo_agreement_scores",
    "majority_vote",
    "pairs_from_orders",
]
