"""Every write of quality/ (docs/internal-interfaces.md lists what other apps call)."""

from quality.services.consensus import task_consensus_compute
from quality.services.flags import flag_raise, flag_resolve, standing_status_refresh
from quality.services.recompute import (
    project_agreement_ensure,
    project_first_figures,
    project_quality_recompute,
    project_refit_needed,
    projects_changed,
    worker_global_standing_refresh,
)
from quality.services.reviews import review_scores_apply

__all__ = [
    "flag_raise",
    "flag_resolve",
    "project_agreement_ensure",
    "project_first_figures",
    "project_quality_recompute",
    "project_refit_needed",
    "projects_changed",
    "review_scores_apply",
    "standing_status_refresh",
    "task_consensus_compute",
    "worker_global_standing_refresh",
]
