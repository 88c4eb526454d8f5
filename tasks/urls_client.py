"""Client API routes (Api-Key): projects, ingest, results, exports, webhooks."""

from django.urls import path

from tasks.api import clients, ingest, projects, results

urlpatterns: list = [
    path("client/", clients.ClientMeView.as_view(), name="client-me"),
    path("client/webhook-secret/", clients.WebhookSecretRotateView.as_view(), name="client-webhook-secret"),
    path("client/webhook-deliveries/", clients.WebhookDeliveryListView.as_view(), name="client-webhook-deliveries"),
    path("projects/", projects.ProjectListView.as_view(), name="client-projects"),
    path("projects/<int:project_id>/", projects.ProjectDetailView.as_view(), name="client-project"),
    path("projects/<int:project_id>/pause/", projects.ProjectPauseView.as_view(), name="client-project-pause"),
    path("projects/<int:project_id>/resume/", projects.ProjectResumeView.as_view(), name="client-project-resume"),
    path("projects/<int:project_id>/agreement/", projects.ProjectAgreementView.as_view(), name="client-project-agreement"),
    path("projects/<int:project_id>/tasks/", ingest.IngestView.as_view(), name="client-project-tasks"),
    path("projects/<int:project_id>/results/", results.ResultsView.as_view(), name="client-project-results"),
    path("projects/<int:project_id>/export/preferences.jsonl", results.PreferencesExportView.as_view(),
         name="client-project-preferences"),
    path("projects/<int:project_id>/export/preferences/summary/", results.PreferencesSummaryView.as_view(),
         name="client-project-preferences-summary"),
    path("projects/<int:project_id>/export/results.csv", results.ResultsCSVExportView.as_view(),
         name="client-project-results-csv"),
]
