"""Every write in the workers app. Other apps import from here (docs/internal-interfaces.md)."""

from workers.services.standing import (
    pool_membership_reinstate,
    pool_membership_suspend,
    worker_ban,
    worker_payouts_enabled_set,
    worker_profile_ensure,
    worker_reinstate,
    worker_suspend,
)

__all__ = [
    "pool_membership_reinstate",
    "pool_membership_suspend",
    "worker_ban",
    "worker_payouts_enabled_set",
    "worker_profile_ensure",
    "worker_reinstate",
    "worker_suspend",
]
