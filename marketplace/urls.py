from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from marketplace import views

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
    path("admin/", admin.site.urls),
    path("_allauth/", include("allauth.headless.urls")),
    path("account/verify-email/<str:key>", views.verify_email_link, name="verify-email-link"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script, so the CSP can forbid them.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    path("api/v1/", include(api_v1)),
    path("", include("payments.webhook_urls")),
]
