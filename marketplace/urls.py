from allauth.account import views as account_views
from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from marketplace import views
from marketplace.observability import console_views
from marketplace.observability.views import metrics_view

handler400 = "marketplace.api.errors.json_400"
handler403 = "marketplace.api.errors.json_403"
handler404 = "marketplace.api.errors.json_404"
handler500 = "marketplace.api.errors.json_500"

# Each app owns its routes in <app>/urls.py (api_urlpatterns under /api/v1/, urlpatterns at the root).
api_v1 = [
    path("", include("workers.urls")),
    path("", include("tasks.urls")),
    path("", include("quality.urls")),
    path("", include("payments.urls")),
]

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    # The ops and finance consoles (admin pages, before the admin's own catch-all).
    *console_views.urlpatterns(),
    path("admin/", admin.site.urls),
    # allauth's own account pages (HEADLESS_ONLY leaves them out of allauth.urls, so they are named here):
    # the workers' web app signs up and signs in with them, and admin.site.login sends a browser here
    # (marketplace/admin.py), so both get allauth's rate limits and, for staff, MFA. The links in mails lead
    # to the account/... pages below (HEADLESS_FRONTEND_URLS), shared with apps.
    path("accounts/signup/", account_views.signup, name="account_signup"),
    path("accounts/login/", account_views.login, name="account_login"),
    path("accounts/logout/", account_views.logout, name="account_logout"),
    path("accounts/inactive/", account_views.account_inactive, name="account_inactive"),
    path("accounts/confirm-email/", account_views.email_verification_sent, name="account_email_verification_sent"),
    # Before a staff member turns two-factor on or off, allauth asks for the password (or a mailed code) again.
    path("accounts/reauthenticate/", account_views.reauthenticate, name="account_reauthenticate"),
    path("accounts/reauthenticate/code/", account_views.request_reauthentication_code,
         name="account_request_reauthentication_code"),
    path("accounts/reauthenticate/code/confirm/", account_views.confirm_reauthentication_code,
         name="account_confirm_reauthentication_code"),
    # Two-factor sign-in, and its setup (TOTP, recovery codes) for staff: allauth's own MFA pages.
    path("accounts/2fa/", include("allauth.mfa.urls")),
    path("_allauth/", include("allauth.headless.urls")),
    path("account/verify-email/<str:key>", views.verify_email_link, name="verify-email-link"),
    path("account/reset-password", views.reset_password_request, name="reset-password"),
    path("account/reset-password/<str:key>", views.reset_password_from_key, name="reset-password-from-key"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script, so the CSP can forbid them.
    # Its page has one inline <style> block: that page alone allows inline styles (never inline script).
    path("api/docs/", csp_update({"style-src": ["'unsafe-inline'"]})(SpectacularSwaggerSplitView.as_view(url_name="schema")),
         name="docs"),
    path("api/v1/", include(api_v1)),
    path("", include("payments.webhook_urls")),
    path("", include("webapp.urls")),
]
