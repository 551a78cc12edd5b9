"""The site's URLs plus /bench/floor/<bytes>/; served only by the bench's gunicorn (BENCH_SERVER=true)."""

from django.urls import path

from bench import views
from config.urls import urlpatterns as site_urlpatterns

urlpatterns = [
    path("bench/floor/<int:size>/", views.floor, name="bench-floor"),
    *site_urlpatterns,
]
