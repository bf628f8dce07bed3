from django.urls import path

from dashboard.run_page import run_operate, run_page, sub_task_log

urlpatterns = [
    path("runs/<int:dag_id>/", run_page, name="run"),
    path("runs/<int:dag_id>/operate/", run_operate, name="run_operate"),
    path("runs/<int:dag_id>/subtasks/<int:sub_task_id>/log.txt", sub_task_log, name="run_sub_task_log"),
]
