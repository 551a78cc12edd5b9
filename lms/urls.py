"""Learner pages for organisation link requests, under /accounts/links/."""

from django.urls import path

from lms import views

app_name = "lms_links"

urlpatterns = [
    path("", views.LinkListView.as_view(), name="link_list"),
    path("<int:pk>/", views.LinkDetailView.as_view(), name="link_detail"),
]
