"""Routes of this app under /api/v1/ (included by marketplace/urls.py). The project agreement endpoint is
served by tasks/ (clients) from quality.selectors.project_agreement_get."""

from django.urls import path

from quality import api

urlpatterns = [
    path("flags/", api.FlagListView.as_view(), name="flag-list"),
    path("flags/<int:pk>/", api.FlagDetailView.as_view(), name="flag-detail"),
    path("flags/<int:pk>/resolve/", api.FlagResolveView.as_view(), name="flag-resolve"),
    path("workers/<int:pk>/standing/", api.WorkerStandingView.as_view(), name="worker-standing"),
]
