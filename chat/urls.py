from django.urls import path

from chat import views

app_name = "chat"
urlpatterns = [
    path("", views.index, name="index"),
    path("c/<int:conversation_id>/", views.index, name="conversation"),
    path("api/conversations", views.conversations, name="conversations"),
    path("api/conversations/<int:pk>", views.conversation, name="conversation_api"),
    path("api/messages/<int:pk>/rate", views.message_rate, name="message_rate"),
    path("api/messages/<int:pk>/regenerate", views.message_regenerate, name="message_regenerate"),
    path("api/messages/<int:pk>/show", views.message_show, name="message_show"),
    path("api/connections", views.connection_counts, name="connections"),
]
