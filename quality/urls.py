"""Routes of this app under /api/v1/ (included by marketplace/urls.py)."""

urlpatterns: list = []
