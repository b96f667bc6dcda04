"""HTTP through Django, WebSockets through Channels (/ws per shared/protocol.md)."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orchestrator_site.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chat.generation import install_graceful_shutdown  # noqa: E402
from core.auth import TokenAuthMiddlewareStack, WebsocketOriginGuard  # noqa: E402
from orchestrator_site.daphne_tuning import websocket_compression_enable  # noqa: E402
from orchestrator_site.routing import websocket_urlpatterns  # noqa: E402

install_graceful_shutdown()
websocket_compression_enable()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": WebsocketOriginGuard(TokenAuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

# Everything imported so far lives as long as the process: move it out of the collector's way, so
# a full collection under load scans what requests allocate, not all of Django (pauses of tens of ms).
# Young collections less often too: a streaming process allocates many short-lived frames and dicts.
gc.collect()
gc.freeze()
gc.set_threshold(50_000, 20, 20)
