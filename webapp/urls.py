"""The workers' web app, mounted at / (marketplace/urls.py). allauth's account pages are mounted there too."""

from django.urls import path

from webapp.views import money, onboarding, profile, quizzes, standing, unsubscribe, work

app_name = "webapp"

urlpatterns = [
    path("", onboarding.home, name="home"),
    path("favicon.ico", onboarding.favicon, name="favicon"),
    path("start/", onboarding.onboarding, name="onboarding"),
    path("profile/", profile.profile, name="profile"),
    path("quizzes/", quizzes.quiz_list, name="quizzes"),
    path("quizzes/<slug:slug>/start", quizzes.quiz_start, name="quiz-start"),
    path("quizzes/attempts/<int:pk>/", quizzes.quiz_attempt, name="quiz-attempt"),
    path("quizzes/attempts/<int:pk>/submit", quizzes.quiz_submit, name="quiz-submit"),
    path("earnings/", money.earnings, name="earnings"),
    path("earnings/connect", money.connect, name="connect"),
    path("standing/", standing.standing, name="standing"),
    path("standing/appeal", standing.appeal, name="appeal"),
    path("work/", work.work, name="work"),
    path("work/projects/<int:pk>/", work.project_brief, name="project"),
    path("work/projects/<int:pk>/claim", work.claim, name="claim"),
    path("work/tasks/<int:pk>/", work.task, name="task"),
    path("work/tasks/<int:pk>/submit", work.submit, name="submit"),
    path("work/tasks/<int:pk>/skip", work.skip, name="skip"),
    path("work/tasks/<int:pk>/return", work.give_back, name="return"),
    path("unsubscribe/<str:token>", unsubscribe.unsubscribe, name="unsubscribe"),
]
