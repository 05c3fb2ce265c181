"""The Django app ``dsr``: one app label for every part, so tables keep their names."""

from importlib import import_module

from django.apps import AppConfig


class DsrConfig(AppConfig):
    name = "dsr"
    verbose_name = "Data-subject requests"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .core import checks  # noqa: F401  (registers the deployment checks)
        from .core.queue import TASK_MODULES
        from .desk import admin  # noqa: F401  (the admin site and its models)

        # Register every task, so that services can queue them by name in any process.
        for module in TASK_MODULES:
            import_module(module)
