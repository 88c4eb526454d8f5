from django.apps import AppConfig


class SandboxConfig(AppConfig):
    # An app only so Celery's autodiscovery finds sandbox/jobs.py; it has no models.
    name = "sandbox"
    default_auto_field = "django.db.models.BigAutoField"
