from django.urls import path

from llm import views

app_name = "llm"
urlpatterns = [
    path("", views.panel, name="panel"),
    path("backends/new/", views.backend_edit, name="backend_new"),
    path("backends/<slug:name>/edit/", views.backend_edit, name="backend_edit"),
    path("api/state", views.state_json, name="state"),
    path("api/models", views.models_json, name="models"),
    path("api/backends/test", views.backend_test, name="backend_test"),
    path("api/backends/<slug:name>/<str:action>", views.model_action, name="model_action"),
    path("api/benchmark", views.benchmark_start, name="benchmark_start"),
    path("api/benchmark/<str:job_id>", views.job_status, name="benchmark_job_status"),
    path("api/compare", views.compare, name="compare"),
    path("api/longtext", views.long_text_start, name="long_text"),
    path("api/jobs/<str:job_id>", views.job_status, name="job_status"),
    path("api/jobs/<str:job_id>/cancel", views.job_cancel, name="job_cancel"),
    path("api/tokenize", views.tokenize, name="tokenize"),
]
