from django.urls import path

from chat import api, views

app_name = "chat"
urlpatterns = [
    path("", views.index, name="index"),
    path("c/<int:conversation_id>/", views.index, name="conversation"),
    path("api/conversations", api.conversation_list, name="conversations"),
    path("api/conversations/<int:pk>", api.conversation_detail, name="conversation_api"),
    path("api/messages/<int:pk>/rate", api.message_rate, name="message_rate"),
    path("api/messages/<int:pk>/regenerate", api.message_regenerate, name="message_regenerate"),
    path("api/messages/<int:pk>/show", api.message_show, name="message_show"),
    path("api/connections", api.connection_counts, name="connections"),
]
