from django.urls import re_path

from chat.consumers import ProtocolConsumer

websocket_urlpatterns = [re_path(r"^ws/?$", ProtocolConsumer.as_asgi())]
