from django.apps import AppConfig


class WebappConfig(AppConfig):
    """The workers' web app: server-rendered pages (htmx) on the same services and selectors as the API."""

    name = "webapp"
    verbose_name = "Workers' web app"
