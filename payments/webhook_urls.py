"""Routes outside /api/v1/ (Stripe's webhook endpoint), included at the root by marketplace/urls.py."""

from django.urls import path

from payments.api.webhooks import StripeWebhookView

urlpatterns = [
    path("webhooks/stripe/", StripeWebhookView.as_view(), name="stripe-webhook"),
]
