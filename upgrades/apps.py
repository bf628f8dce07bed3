from django.apps import AppConfig


class UpgradesConfig(AppConfig):
    name = "upgrades"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from upgrades import events
        from upgrades.live import publish
        from upgrades.services import real_clusters, real_upgrades  # noqa: F401  (register their periodic jobs)

        def publish_live(messages):
            # Looked up per call, so a test can stand in for publish_dag_events.
            publish.publish_dag_events(messages)

        events.set_publisher(publish_live)
        events.set_feed_publisher(lambda message: publish.publish_feed_message(message))

        # Every log line of a request carries its trace id (upgrades/operations/logs.py).
        from django.core.signals import request_finished, request_started

        from upgrades.operations import logs

        request_started.connect(logs.on_request_started, dispatch_uid="obdash-log-trace-id")
        request_finished.connect(logs.on_request_finished, dispatch_uid="obdash-log-trace-id-end")

        # Periodic jobs owned outside the engine's worker module: registered at import, in every process.
        import upgrades.engine.stalls
        import upgrades.services.campaign_scheduler
        import upgrades.services.retention  # noqa: F401
