from django.apps import AppConfig
from django.db.models.signals import post_migrate


class MarketplaceConfig(AppConfig):
    name = "marketplace"
    verbose_name = "Marketplace"

    def ready(self):
        from marketplace.api import schema  # noqa: F401  (registers the OpenAPI auth extension)
        from marketplace.roles import sync_role_permissions

        post_migrate.connect(sync_role_permissions, dispatch_uid="marketplace.sync_role_permissions")
