from django.urls import path

from lms.exports import views

app_name = "lms_exports"

urlpatterns = [
    path("", views.export_index, name="index"),
    path("start/", views.export_start, name="start"),
    path("jobs/<int:pk>/", views.export_job_detail, name="job_detail"),
    path("jobs/<int:pk>/status.json", views.export_job_status, name="job_status"),
    path("jobs/<int:pk>/download/", views.export_job_download, name="job_download"),
]
