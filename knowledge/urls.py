from django.urls import path

from knowledge import views

app_name = "knowledge"
urlpatterns = [
    path("", views.index, name="index"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:kb_id>/sources/<int:pk>/", views.source_page, name="source"),
    path("api/bases", views.api_bases, name="api_bases"),
    path("api/bases/<int:pk>", views.api_base, name="api_base"),
    path("api/bases/<int:pk>/sources", views.api_base_sources, name="api_base_sources"),
    path("api/bases/<int:pk>/reembed", views.api_base_reembed, name="api_base_reembed"),
    path("api/bases/<int:pk>/search", views.api_base_search, name="api_base_search"),
    path("api/sources/<int:pk>", views.api_source, name="api_source"),
    path("api/sources/<int:pk>/rescrape", views.api_source_rescrape, name="api_source_rescrape"),
    path("api/sources/<int:pk>/reingest", views.api_source_reingest, name="api_source_reingest"),
    path("api/search", views.api_search, name="api_search"),
]
