from django.apps import AppConfig


class UpgradesConfig(AppConfig):
    name = "upgrades"
    default_auto_field = "django.db.models.BigAutoField"
