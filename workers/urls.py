"""Routes of this app under /api/v1/ (included by marketplace/urls.py)."""

from django.urls import path

from workers.api import me, ops, quizzes

urlpatterns = [
    path("me/", me.MeView.as_view(), name="me"),
    path("quizzes/", quizzes.QuizListView.as_view(), name="quiz-list"),
    path("quizzes/<slug:slug>/", ops.QuizAuthoringDetailView.as_view(), name="quiz-detail"),
    path("quizzes/<slug:slug>/attempts/", quizzes.AttemptStartView.as_view(), name="quiz-attempt-start"),
    path("quizzes/<slug:slug>/questions/", ops.QuestionListView.as_view(), name="quiz-question-list"),
    path("quiz-questions/<int:pk>/", ops.QuestionDetailView.as_view(), name="quiz-question-detail"),
    path("quiz-attempts/<int:pk>/", quizzes.AttemptDetailView.as_view(), name="quiz-attempt-detail"),
    path("quiz-attempts/<int:pk>/submit/", quizzes.AttemptSubmitView.as_view(), name="quiz-attempt-submit"),
    path("pools/", ops.PoolListView.as_view(), name="pool-list"),
    path("pools/<int:pk>/", ops.PoolDetailView.as_view(), name="pool-detail"),
    path("pools/<int:pk>/members/", ops.PoolMembersView.as_view(), name="pool-members"),
    path("workers/<int:pk>/suspend/", ops.WorkerSuspendView.as_view(action="suspend"), name="worker-suspend"),
    path("workers/<int:pk>/reinstate/", ops.WorkerSuspendView.as_view(action="reinstate"), name="worker-reinstate"),
]
