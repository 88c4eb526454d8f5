from django.apps import AppConfig


class SimulationConfig(AppConfig):
    """The simulator stands above every app: it drives them through the API and reads them for its report."""

    name = "simulation"
    default_auto_field = "django.db.models.BigAutoField"
