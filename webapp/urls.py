"""The workers' web app, mounted at / (marketplace/urls.py). allauth's account pages are mounted there too."""

from django.urls import path

from webapp.views import onboarding, profile, work

app_name = "webapp"

urlpatterns = [
    path("", onboarding.home, name="home"),
    path("start/", onboarding.onboarding, name="onboarding"),
    path("profile/", profile.profile, name="profile"),
    path("work/", work.work, name="work"),
    path("work/projects/<int:pk>/", work.project_brief, name="project"),
    path("work/projects/<int:pk>/claim", work.claim, name="claim"),
    path("work/tasks/<int:pk>/", work.task, name="task"),
    path("work/tasks/<int:pk>/submit", work.submit, name="submit"),
    path("work/tasks/<int:pk>/skip", work.skip, name="skip"),
]
