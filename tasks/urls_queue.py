"""Worker queue routes (X-Session-Token): claim, submit, release, list."""

from django.urls import path

from tasks.api.assignments import AssignmentListView, ClaimView, ReleaseView, SubmitView

urlpatterns = [
    path("assignments/", AssignmentListView.as_view(), name="assignment-list"),
    path("assignments/claim/", ClaimView.as_view(), name="assignment-claim"),
    path("assignments/<int:pk>/submit/", SubmitView.as_view(), name="assignment-submit"),
    path("assignments/<int:pk>/release/", ReleaseView.as_view(), name="assignment-release"),
]
