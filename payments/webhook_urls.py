"""Routes outside /api/v1/ (Stripe's webhook endpoint), included at the root by marketplace/urls.py."""

urlpatterns: list = []
