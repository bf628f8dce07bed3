from django.urls import path

from upgrades.live.consumers import DagConsumer, FeedConsumer

websocket_urlpatterns = [
    path("ws/dags/<int:dag_id>/", DagConsumer.as_asgi()),
    path("ws/feed/", FeedConsumer.as_asgi()),
]
