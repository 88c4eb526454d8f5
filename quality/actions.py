"""quality's levers in other apps, imported lazily (the apps are built in parallel and must not import
quality at load time). A lever that does not exist is reported (None) rather than crashing a job: the flag
records it under actions["missing"] and the audit log says so, so ops can act by hand."""

import importlib
import logging

logger = logging.getLogger(__name__)

# (module, function) for each lever, as named in docs/internal-interfaces.md.
LEVERS = {
    "worker_suspend": ("workers.services", "worker_suspend"),
    "worker_reinstate": ("workers.services", "worker_reinstate"),
    "pool_membership_suspend": ("workers.services", "pool_membership_suspend"),
    "pool_membership_reinstate": ("workers.services", "pool_membership_reinstate"),
    "judgments_requeue_for_worker": ("tasks.services.queue_requeue", "judgments_requeue_for_worker"),
    "project_overlap_extend": ("tasks.services.queue_requeue", "project_overlap_extend"),
    "earnings_hold": ("payments.services", "earnings_hold"),
    "earnings_hold_release": ("payments.services", "earnings_hold_release"),
    "earnings_hold_forfeit": ("payments.services", "earnings_hold_forfeit"),
}


def lever(name: str):
    """The function behind a lever, or None when its app does not provide it (yet)."""
    module, attr = LEVERS[name]
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        logger.warning("quality lever %s (%s.%s) is not available", name, module, attr)
        return None


def missing_levers() -> list[str]:
    return [name for name in LEVERS if lever(name) is None]
