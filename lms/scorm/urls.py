from django.urls import path

from lms.scorm import views

app_name = "lms_scorm"

urlpatterns = [
    path("session/", views.scorm_session, name="session"),
    path("launch/<str:token>/", views.scorm_launch, name="launch"),
    path("status/<str:token>/", views.scorm_status_view, name="status"),
    path("staff/<slug:course_slug>/package.zip", views.scorm_export, name="export"),
]
