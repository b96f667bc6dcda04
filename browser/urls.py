from django.urls import path

from browser import api, views

app_name = "browser"
urlpatterns = [
    path("", views.index, name="index"),
    path("jobs/<int:pk>/", views.job_detail, name="job"),
    path("jobs/<int:pk>/files/<str:name>", views.job_file, name="file"),
    path("api/scrape", api.scrape, name="api_scrape"),
    path("api/automate", api.automate, name="api_automate"),
    path("api/jobs", api.job_list, name="api_jobs"),
    path("api/jobs/<int:pk>", api.job_detail, name="api_job"),
    path("api/jobs/<int:pk>/cancel", api.job_cancel, name="api_cancel"),
    path("api/jobs/<int:pk>/retry", api.job_retry, name="api_retry"),
]
