"""Daphne settings it has no option for: permessage-deflate on WebSockets.

Streamed answers are many small JSON frames with the same envelope; with compression (offered
by every browser and the websockets client) a frame costs a few bytes more than its text.
Autobahn, under daphne, accepts no compression unless told to.
"""

from __future__ import annotations

import sys


def websocket_compression_enable() -> None:
    if "daphne.server" not in sys.modules:
        return  # not a daphne process
    from autobahn.websocket.compress import PerMessageDeflateOffer, PerMessageDeflateOfferAccept
    from daphne.ws_protocol import WebSocketFactory

    if getattr(WebSocketFactory, "_orch_compression", False):
        return

    def accept(offers):
        for offer in offers:
            if isinstance(offer, PerMessageDeflateOffer):
                return PerMessageDeflateOfferAccept(offer)
        return None

    original_init = WebSocketFactory.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.setProtocolOptions(perMessageCompressionAccept=accept)

    WebSocketFactory.__init__ = init
    WebSocketFactory._orch_compression = True
