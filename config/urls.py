from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/links/", include("lms.urls")),
    path("accounts/", include("accounts.urls")),
    path("api/", include("lms.api.urls")),
    path("staff/exports/", include("lms.exports.urls")),
    path("staff/exports/", include("lms.qti.urls")),
    path("scorm/", include("lms.scorm.urls")),
    path("lti/", include("lms.lti.urls")),
    path("", include("curriculum.urls")),
    path("", include("quizzes.urls")),
    path("", include("credits.urls")),
]
