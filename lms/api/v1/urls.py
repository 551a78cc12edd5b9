"""/api/v1/: the namespace `v1` is the version (NamespaceVersioning)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from lms.api.v1 import attempts, credits, views
from lms.api.v1.checks import AttemptCheckApi, CheckDetailApi, CheckStartApi

app_name = "v1"

router = SimpleRouter()
router.register("courses", views.CourseViewSet, basename="course")
router.register("me/progress", views.MyProgressViewSet, basename="my-progress")
router.register("me/certificates", credits.MyCertificateViewSet, basename="my-certificate")
router.register("certificates", credits.CertificateFeedViewSet, basename="certificate-feed")
router.register("progress", views.ProgressFeedViewSet, basename="progress-feed")
router.register("completions", views.CompletionFeedViewSet, basename="completion-feed")

urlpatterns = [
    path(
        "courses/<slug:course_slug>/lessons/<slug:lesson_slug>/",
        views.LessonDetailApi.as_view(),
        name="lesson-detail",
    ),
    path(
        "courses/<slug:course_slug>/lessons/<slug:lesson_slug>/complete/",
        views.LessonCompleteApi.as_view(),
        name="lesson-complete",
    ),
    path("enrolments/", views.EnrolmentSyncApi.as_view(), name="enrolment-sync"),
    path("learners/<str:external_id>/", views.LearnerDetailApi.as_view(), name="learner-detail"),
    path("courses/<slug:course_slug>/quizzes/<str:kind>/", attempts.QuizDetailApi.as_view(), name="quiz-detail"),
    path(
        "courses/<slug:course_slug>/quizzes/<str:kind>/attempts/",
        attempts.AttemptStartApi.as_view(),
        name="attempt-start",
    ),
    path(
        "courses/<slug:course_slug>/lessons/<slug:lesson_slug>/check/",
        CheckDetailApi.as_view(),
        name="check-detail",
    ),
    path(
        "courses/<slug:course_slug>/lessons/<slug:lesson_slug>/check/attempts/",
        CheckStartApi.as_view(),
        name="check-start",
    ),
    path("attempts/<int:attempt_id>/check/", AttemptCheckApi.as_view(), name="attempt-check"),
    path("attempts/<int:attempt_id>/", attempts.AttemptDetailApi.as_view(), name="attempt-detail"),
    path("attempts/<int:attempt_id>/answers/", attempts.AttemptAnswersSaveApi.as_view(), name="attempt-answers"),
    path("attempts/<int:attempt_id>/submit/", attempts.AttemptSubmitApi.as_view(), name="attempt-submit"),
    path("attempts/<int:attempt_id>/result/", attempts.AttemptResultApi.as_view(), name="attempt-result"),
    path("attempts/<int:attempt_id>/review/", attempts.AttemptReviewApi.as_view(), name="attempt-review"),
    path("courses/<slug:course_slug>/completion/", credits.CompletionStatusApi.as_view(), name="completion-detail"),
    path("courses/<slug:course_slug>/evaluation/", credits.EvaluationSubmitApi.as_view(), name="evaluation-submit"),
    path("courses/<slug:course_slug>/claim/", credits.ClaimCreateApi.as_view(), name="claim-create"),
    path("certificates/verify/<str:code>/", credits.CertificateVerifyApi.as_view(), name="certificate-verify"),
    *router.urls,
]
