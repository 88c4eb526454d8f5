"""Worker queue routes (X-Session-Token): claim, submit, release, list; the claimable projects."""

from django.urls import path

from tasks.api.assignments import AssignmentListView, ClaimView, ReleaseView, SubmitView
from tasks.api.work import WorkProjectListView

urlpatterns = [
    path("assignments/", AssignmentListView.as_view(), name="assignment-list"),
    path("assignments/claim/", ClaimView.as_view(), name="assignment-claim"),
    path("assignments/<int:pk>/submit/", SubmitView.as_view(), name="assignment-submit"),
    path("assignments/<int:pk>/release/", ReleaseView.as_view(), name="assignment-release"),
    path("work/projects/", WorkProjectListView.as_view(), name="work-projects"),
]
