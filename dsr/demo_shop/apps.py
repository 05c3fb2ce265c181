from django.apps import AppConfig


class DemoShopConfig(AppConfig):
    """A small shop database for the demo: the kind of system the handler connects to."""

    name = "dsr.demo_shop"
    label = "demo_shop"
    verbose_name = "Demo shop (connected-system example)"
    default_auto_field = "django.db.models.BigAutoField"
