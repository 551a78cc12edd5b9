from django.urls import path

from quizzes import views

app_name = "quizzes"

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("courses/<slug:course_slug>/quizzes/<slug:kind>/", views.quiz_detail, name="quiz_detail"),
    path("courses/<slug:course_slug>/quizzes/<slug:kind>/start/", views.quiz_start, name="quiz_start"),
    path("courses/<slug:course_slug>/lessons/<slug:lesson_slug>/check/", views.check_detail, name="check_detail"),
    path(
        "courses/<slug:course_slug>/lessons/<slug:lesson_slug>/check/start/",
        views.check_start,
        name="check_start",
    ),
    path("attempts/<int:pk>/", views.attempt_detail, name="attempt_detail"),
    path("attempts/<int:pk>/check/", views.attempt_check, name="attempt_check"),
    path("attempts/<int:pk>/result/", views.attempt_result, name="attempt_result"),
    path("staff/quizzes/", views.staff_quiz_list, name="staff_quiz_list"),
    path("staff/quizzes/<int:pk>/analysis/", views.item_analysis, name="item_analysis"),
    path("staff/courses/<slug:course_slug>/myths/", views.myth_report, name="myth_report"),
    path("staff/quizzes/<int:pk>/analysis.csv", views.item_analysis_csv, name="item_analysis_csv"),
]
