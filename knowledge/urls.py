from django.urls import path

from knowledge import api, views

app_name = "knowledge"
urlpatterns = [
    path("", views.index, name="index"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:kb_id>/sources/<int:pk>/", views.source_page, name="source"),
    path("api/bases", api.api_bases, name="api_bases"),
    path("api/bases/<int:pk>", api.api_base, name="api_base"),
    path("api/bases/<int:pk>/sources", api.api_base_sources, name="api_base_sources"),
    path("api/bases/<int:pk>/reembed", api.api_base_reembed, name="api_base_reembed"),
    path("api/bases/<int:pk>/search", api.api_base_search, name="api_base_search"),
    path("api/sources/<int:pk>", api.api_source, name="api_source"),
    path("api/sources/<int:pk>/rescrape", api.api_source_rescrape, name="api_source_rescrape"),
    path("api/sources/<int:pk>/reingest", api.api_source_reingest, name="api_source_reingest"),
    path("api/search", api.api_search, name="api_search"),
]
