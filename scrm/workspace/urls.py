from django.urls import path

from . import api, views

urlpatterns = [
    path("workspace/", views.workspace, name="workspace"),
    path("workspace/tasks/<int:task_id>/done/", views.task_done, name="workspace-task-done"),
    path("workspace/tasks/<int:task_id>/skip/", views.task_skip, name="workspace-task-skip"),
    path("workspace/tasks/<int:task_id>/act/", views.task_act, name="workspace-task-act"),
    path("api/workspace/tasks/", api.WorklistApi.as_view(), name="api-workspace"),
    path("api/workspace/tasks/<int:task_id>/done/", api.TaskDoneApi.as_view()),
    path("api/workspace/tasks/<int:task_id>/skip/", api.TaskSkipApi.as_view()),
    path("api/workspace/tasks/<int:task_id>/act/", api.TaskActApi.as_view()),
]
