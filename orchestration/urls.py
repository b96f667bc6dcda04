from django.urls import path

from orchestration import api, views

app_name = "orchestration"
urlpatterns = [
    path("", views.index, name="index"),
    path("tasks/new/", views.task_new, name="task_new"),
    path("tasks/<int:pk>/", views.task_detail, name="task"),
    path("workflows/", views.workflow_list, name="workflows"),
    path("workflows/new/", views.workflow_new, name="workflow_new"),
    path("workflows/<int:pk>/", views.workflow_edit, name="workflow"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("templates/", views.template_list, name="templates"),
    path("instructions/", views.instruction_list, name="instructions"),
    path("api/openapi.json", api.api_openapi, name="api_openapi"),
    path("api/models", api.api_models, name="api_models"),
    path("api/tasks", api.api_tasks, name="api_tasks"),
    path("api/tasks/<int:pk>", api.api_task, name="api_task"),
    path("api/tasks/<int:pk>/cancel", api.api_task_cancel, name="api_task_cancel"),
    path("api/tasks/<int:pk>/rerun", api.api_task_rerun, name="api_task_rerun"),
    path("api/instructions", api.api_instructions, name="api_instructions"),
    path("api/instructions/<int:pk>", api.api_instruction, name="api_instruction"),
    path("api/templates", api.api_templates, name="api_templates"),
    path("api/templates/<int:pk>", api.api_template, name="api_template"),
    path("api/templates/<int:pk>/render", api.api_template_render, name="api_template_render"),
    path("api/workflows", api.api_workflows, name="api_workflows"),
    path("api/workflows/<int:pk>", api.api_workflow, name="api_workflow"),
    path("api/workflows/<int:pk>/runs", api.api_workflow_runs, name="api_workflow_runs"),
    path("api/runs", api.api_runs, name="api_runs"),
    path("api/runs/<int:pk>", api.api_run, name="api_run"),
    path("api/runs/<int:pk>/cancel", api.api_run_cancel, name="api_run_cancel"),
]
