"""The workers' web app, mounted at / (marketplace/urls.py). allauth's account pages are mounted there too."""

from django.urls import path

from webapp.views import onboarding, profile

app_name = "webapp"

urlpatterns = [
    path("", onboarding.home, name="home"),
    path("start/", onboarding.onboarding, name="onboarding"),
    path("profile/", profile.profile, name="profile"),
]
