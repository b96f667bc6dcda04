from django.urls import path

from orchestration import pages, views

app_name = "orchestration"
urlpatterns = [
    path("", pages.index, name="index"),
    path("tasks/new/", pages.task_new, name="task_new"),
    path("tasks/<int:pk>/", pages.task_detail, name="task"),
    path("workflows/", pages.workflow_list, name="workflows"),
    path("workflows/new/", pages.workflow_new, name="workflow_new"),
    path("workflows/<int:pk>/", pages.workflow_edit, name="workflow"),
    path("runs/<int:pk>/", pages.run_detail, name="run"),
    path("templates/", pages.template_list, name="templates"),
    path("instructions/", pages.instruction_list, name="instructions"),
    path("api/openapi.json", views.api_openapi, name="api_openapi"),
    path("api/models", views.api_models, name="api_models"),
    path("api/tasks", views.api_tasks, name="api_tasks"),
    path("api/tasks/<int:pk>", views.api_task, name="api_task"),
    path("api/tasks/<int:pk>/cancel", views.api_task_cancel, name="api_task_cancel"),
    path("api/tasks/<int:pk>/rerun", views.api_task_rerun, name="api_task_rerun"),
    path("api/instructions", views.api_instructions, name="api_instructions"),
    path("api/instructions/<int:pk>", views.api_instruction, name="api_instruction"),
    path("api/templates", views.api_templates, name="api_templates"),
    path("api/templates/<int:pk>", views.api_template, name="api_template"),
    path("api/templates/<int:pk>/render", views.api_template_render, name="api_template_render"),
    path("api/workflows", views.api_workflows, name="api_workflows"),
    path("api/workflows/<int:pk>", views.api_workflow, name="api_workflow"),
    path("api/workflows/<int:pk>/runs", views.api_workflow_runs, name="api_workflow_runs"),
    path("api/runs", views.api_runs, name="api_runs"),
    path("api/runs/<int:pk>", views.api_run, name="api_run"),
    path("api/runs/<int:pk>/cancel", views.api_run_cancel, name="api_run_cancel"),
]
