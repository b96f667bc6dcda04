from django.urls import path

from monitoring import api, views

app_name = "monitoring"
urlpatterns = [
    path("", views.index, name="index"),
    path("api/history", api.history_series, name="history"),
    path("api/hosts", api.hosts, name="hosts"),
    path("api/alerts", api.alert_list, name="alerts"),
]
