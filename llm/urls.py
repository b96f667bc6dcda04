from django.urls import path

from llm import api, views

app_name = "llm"
urlpatterns = [
    path("", views.panel, name="panel"),
    path("backends/new/", views.backend_edit, name="backend_new"),
    path("backends/<slug:name>/edit/", views.backend_edit, name="backend_edit"),
    path("api/state", api.state_json, name="state"),
    path("api/models", api.models_json, name="models"),
    path("api/backends/test", api.backend_test, name="backend_test"),
    path("api/backends/<slug:name>/<str:action>", api.model_action, name="model_action"),
    path("api/benchmark", api.benchmark_start, name="benchmark_start"),
    path("api/benchmark/<str:job_id>", api.job_status, name="benchmark_job_status"),
    path("api/compare", api.compare, name="compare"),
    path("api/longtext", api.long_text_start, name="long_text"),
    path("api/jobs/<str:job_id>", api.job_status, name="job_status"),
    path("api/jobs/<str:job_id>/cancel", api.job_cancel, name="job_cancel"),
    path("api/tokenize", api.tokenize, name="tokenize"),
]
