"""Admin of tasks/: client-facing models here, queue models in admin_queue."""

from tasks import admin_queue  # noqa: F401
