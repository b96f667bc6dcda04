from django.urls import path

from browser import views

app_name = "browser"
urlpatterns = [
    path("", views.index, name="index"),
    path("jobs/<int:pk>/", views.job_detail, name="job"),
    path("jobs/<int:pk>/files/<str:name>", views.job_file, name="file"),
    path("api/scrape", views.api_scrape, name="api_scrape"),
    path("api/automate", views.api_automate, name="api_automate"),
    path("api/jobs", views.api_jobs, name="api_jobs"),
    path("api/jobs/<int:pk>", views.api_job, name="api_job"),
    path("api/jobs/<int:pk>/cancel", views.api_cancel, name="api_cancel"),
    path("api/jobs/<int:pk>/retry", views.api_retry, name="api_retry"),
]
