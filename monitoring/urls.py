from django.urls import path

from monitoring import views

app_name = "monitoring"
urlpatterns = [
    path("", views.index, name="index"),
    path("api/history", views.api_history, name="history"),
    path("api/hosts", views.api_hosts, name="hosts"),
    path("api/alerts", views.api_alerts, name="alerts"),
]
