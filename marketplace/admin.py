"""Admin of the project package: users, and the guards every account-security model gets.

The admin signs in through allauth (rate limits, MFA): admin.site.login is wrapped with
allauth.account.decorators.secure_admin_login, which sends a signed-out browser to allauth's login
(/accounts/login/, marketplace/urls.py) instead of Django's password-only form (issue 13 rows 2 and 3).
"""

from allauth.account.admin import EmailAddressAdmin
from allauth.account.decorators import secure_admin_login
from allauth.account.models import EmailAddress
from allauth.mfa.admin import AuthenticatorAdmin
from allauth.mfa.models import Authenticator
from django.contrib import admin
from django.contrib.admin.options import FORMFIELD_FOR_DBFIELD_DEFAULTS
from django.contrib.auth.admin import GroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from django.db import models
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from marketplace.admin_json import LimitedJSONField
from marketplace.models import Heartbeat, OutboxEvent, User

admin.site.login = secure_admin_login(admin.site.login)
# Every ModelAdmin registered after this (the apps after marketplace in INSTALLED_APPS) edits JSON with the
# API's input limits: a form error, not a 500, for nesting, NUL, surrogates or numbers past 64 bits.
FORMFIELD_FOR_DBFIELD_DEFAULTS[models.JSONField] = {"form_class": LimitedJSONField}


def _is_superuser(request) -> bool:
    return bool(request.user.is_active and request.user.is_superuser)


class SuperuserWritesOnly:
    """Account security (users, email addresses, groups, MFA authenticators, API keys): only a superuser
    adds, changes or deletes these rows or runs actions on them, whatever permissions a group holds. A staff
    role that could change an address could point the superuser's at a mailbox it owns and reset the
    password (issue 13 row 1); one that could change users or groups could promote itself. Roles may still
    view where their group has the view permission (marketplace.roles)."""

    def has_add_permission(self, request, *args, **kwargs):
        return _is_superuser(request)

    def has_change_permission(self, request, obj=None):
        return _is_superuser(request)

    def has_delete_permission(self, request, obj=None):
        return _is_superuser(request)

    def get_actions(self, request):
        return super().get_actions(request) if _is_superuser(request) else {}


def _guard(model, admin_class) -> None:
    """Re-registers a third-party model's admin with SuperuserWritesOnly in front."""
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, type(f"Guarded{admin_class.__name__}", (SuperuserWritesOnly, admin_class), {}))


for _model, _admin_class in ((Group, GroupAdmin), (EmailAddress, EmailAddressAdmin),
                             (Authenticator, AuthenticatorAdmin), (APIKey, APIKeyModelAdmin)):
    _guard(_model, _admin_class)


@admin.register(User)
class UserAdmin(SuperuserWritesOnly, BaseUserAdmin):
    ordering = ["id"]
    list_display = ["email", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_active", "groups"]
    search_fields = ["email"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Roles", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "beat_at"]
    readonly_fields = ["name", "beat_at"]


@admin.register(OutboxEvent)
class OutboxEventAdmin(admin.ModelAdmin):
    """Jobs committed writes caused (marketplace.outbox): read-only, to see what waits or never finished."""

    list_display = ["id", "job", "args", "created_at", "sent_at", "done_at", "publishes"]
    list_filter = ["job"]
    readonly_fields = list_display

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
