"""Routes of tasks/ under /api/v1/: the client API (urls_client) and the worker queue (urls_queue)."""

from django.urls import include, path

urlpatterns = [
    path("", include("tasks.urls_client")),
    path("", include("tasks.urls_queue")),
]
