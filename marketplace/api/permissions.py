"""Role permissions. Ops and finance are Django groups created by a migration (marketplace 0002)."""

from rest_framework.permissions import BasePermission

from marketplace.models import FINANCE_GROUP, OPS_GROUP


class IsOps(BasePermission):
    message = "This endpoint is for ops staff."

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.has_role(OPS_GROUP))


class IsFinance(BasePermission):
    message = "This endpoint is for finance staff."

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.has_role(FINANCE_GROUP))


class IsWorker(BasePermission):
    """Any signed-in person; worker-only rules (onboarding state, suspension) live in services."""

    message = "Sign in first."

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and getattr(user, "pk", None))
