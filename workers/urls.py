"""Routes of this app under /api/v1/ (included by marketplace/urls.py)."""

from django.urls import path

from workers import api

urlpatterns = [
    path("me/", api.MeView.as_view(), name="me"),
]
