from django.urls import path

from credits import views

app_name = "credits"

urlpatterns = [
    path("courses/<slug:course_slug>/credit/", views.activity_detail, name="activity_detail"),
    path("courses/<slug:course_slug>/credit/evaluation/", views.evaluation_form, name="evaluation_form"),
    path("courses/<slug:course_slug>/credit/claim/", views.claim_form, name="claim_form"),
    path("certificates/<int:pk>/", views.certificate_detail, name="certificate_detail"),
    path("certificates/<int:pk>/pdf/", views.certificate_pdf, name="certificate_pdf"),
    # Printed on certificates and in their QR codes: keep this path stable.
    path("verify/<str:code>/", views.certificate_verify, name="certificate_verify"),
    path("transcript/", views.transcript, name="transcript"),
    path("transcript.csv", views.transcript_csv, name="transcript_csv"),
    path("staff/credits/", views.report_index, name="report_index"),
    path("staff/credits/<slug:name>.csv", views.report_csv, name="report_csv"),
]
