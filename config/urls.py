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

# Error pages that keep the reason (config/errors.py).
handler400 = "config.errors.bad_request"
handler403 = "config.errors.permission_denied"
handler404 = "config.errors.page_not_found"
handler500 = "config.errors.server_error"
