"""ASGI wrapper that stamps when a request arrived, before Django reads its body (spec 2.2: a header's expiry
is judged at receipt, so a large upload that started in time is not refused for taking long)."""

import time


def stamp_receipt_time(app):
    async def application(scope, receive, send):
        if scope.get("type") == "http":
            scope = {**scope, "ocs_received_at": time.time()}
        await app(scope, receive, send)

    return application
