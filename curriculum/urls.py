from django.urls import path

from curriculum import views

app_name = "curriculum"

# The loader writes links in this shape (content.UrlScheme); keep them in step.
urlpatterns = [
    path("", views.catalogue, name="catalogue"),
    path("courses/<slug:course_slug>/", views.course_detail, name="course_detail"),
    path(
        "courses/<slug:course_slug>/interactions/",
        views.interaction_explorer,
        name="interaction_explorer",
    ),
    path(
        "courses/<slug:course_slug>/lessons/<slug:lesson_slug>/",
        views.lesson_detail,
        name="lesson_detail",
    ),
    path(
        "courses/<slug:course_slug>/lessons/<slug:lesson_slug>/complete/",
        views.lesson_complete,
        name="lesson_complete",
    ),
]
