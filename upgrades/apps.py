from django.apps import AppConfig


class UpgradesConfig(AppConfig):
    name = "upgrades"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from upgrades import events
        from upgrades.live import publish

        def publish_live(messages):
            # Looked up per call, so a test can stand in for publish_dag_events.
            publish.publish_dag_events(messages)

        events.set_publisher(publish_live)
