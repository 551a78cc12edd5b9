from django.urls import path

from lms.qti import views

app_name = "lms_qti"

urlpatterns = [
    path("<slug:course_slug>/qti.zip", views.qti_export, name="export"),
]
