import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from upgrades.api.asgi import stamp_receipt_time  # noqa: E402
from upgrades.live.origins import SameOriginValidator  # noqa: E402
from upgrades.live.routing import websocket_urlpatterns  # noqa: E402
from upgrades.operations.logs import with_trace_ids  # noqa: E402
from upgrades.services.workers import with_embedded_workers  # noqa: E402

application = with_embedded_workers(
    with_trace_ids(
        ProtocolTypeRouter(
            {
                "http": stamp_receipt_time(django_asgi_app),
                # Same scheme, host and port as the page (or a CSRF_TRUSTED_ORIGINS entry): upgrades/live/origins.py.
                "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
            }
        )
    )
)
