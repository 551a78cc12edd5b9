"""API v1 endpoints. Views parse, call one selector or service, and render.

Reads are `GenericViewSet`s with only the mixins they need, their queryset
from a selector scoped to who asks; each write is its own `*Api` class.
Lesson completion calls `curriculum.services.lesson_progress_complete`, the
same service as the lesson page's button.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from curriculum import selectors as curriculum_selectors
from curriculum import services as curriculum_services
from curriculum.models import Course
from lms import selectors, services
from lms.api.v1.base import ApiPolicy, FeedCursorPagination, render_json
from lms.models import Enrolment, Scope

EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@\-]{0,199}$"

# --- catalogue -------------------------------------------------------------------------


class FacultySerializer(serializers.Serializer):
    name = serializers.CharField()
    role = serializers.CharField(required=False, allow_blank=True)
    credentials = serializers.CharField(required=False, allow_blank=True)
    disclosure = serializers.CharField(required=False, allow_blank=True)


class CourseListOutputSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    title = serializers.CharField()
    summary = serializers.CharField()
    estimated_minutes = serializers.IntegerField()
    lesson_count = serializers.IntegerField()
    release_date = serializers.DateField()
    expiry_date = serializers.DateField()


class LessonSummarySerializer(serializers.Serializer):
    slug = serializers.SlugField()
    position = serializers.IntegerField()
    title = serializers.CharField(source="current_version.title")
    estimated_minutes = serializers.IntegerField(source="current_version.estimated_minutes")


class ObjectiveSerializer(serializers.Serializer):
    key = serializers.CharField()
    text = serializers.CharField()
    lesson = serializers.SlugField(source="lesson_slug", allow_null=True, help_text="Null if that lesson is unpublished.")


class CourseDetailOutputSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    title = serializers.CharField()
    summary = serializers.CharField()
    description_html = serializers.CharField(help_text="Sanitised HTML, rendered at load.")
    estimated_minutes = serializers.IntegerField()
    target_audience = serializers.CharField()
    release_date = serializers.DateField()
    review_date = serializers.DateField()
    expiry_date = serializers.DateField()
    faculty = FacultySerializer(many=True)
    commercial_support = serializers.CharField()
    credit_text = serializers.CharField(source="accreditation_notice", help_text="The accreditation and credit statement.")
    lessons = LessonSummarySerializer(many=True, source="published_lessons")
    objectives = ObjectiveSerializer(many=True, source="active_objectives")


class CourseViewSet(ApiPolicy, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Published courses: the list, and one course with its lessons and objectives."""

    required_scope = Scope.CATALOG_READ
    session_allowed = True
    lookup_field = "slug"
    pagination_class = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: the model, for the slug's type
            return Course.objects.none()
        return curriculum_selectors.catalogue_list()  # one query, a list

    def get_object(self):
        # Three queries: course, lessons (titles), objectives.
        course = curriculum_selectors.course_outline_get(slug=self.kwargs["slug"])
        slugs = {lesson.pk: lesson.slug for lesson in course.published_lessons}
        for objective in course.active_objectives:
            objective.lesson_slug = slugs.get(objective.lesson_id)  # no query per objective
        return course

    def get_serializer_class(self):
        return CourseListOutputSerializer if self.action == "list" else CourseDetailOutputSerializer

    def list(self, request, *args, **kwargs):
        return Response(course_list_rows(self.get_queryset()))


def course_list_rows(courses: list[Course]) -> list[dict]:
    """The catalogue (`catalogue_list`'s courses) as CourseListOutputSerializer(many=True) gives it.

    Same keys, order and strings. Through the serializer, the request took
    1.43-1.58 ms of CPU in process; built here, 1.11-1.26 (2,000 requests,
    six rounds each, alternated; issue #8). tests/lms/test_api.py checks it
    against the serializer, which stays the schema's description. Every field
    is required on the model.
    """
    return [
        {
            "slug": course.slug,
            "title": course.title,
            "summary": course.summary,
            "estimated_minutes": course.estimated_minutes,
            "lesson_count": course.lesson_count,
            "release_date": course.release_date.isoformat(),
            "expiry_date": course.expiry_date.isoformat(),
        }
        for course in courses
    ]


class ReferenceSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    key = serializers.CharField()
    citation = serializers.CharField()
    pmid = serializers.CharField(allow_blank=True, required=False)
    doi = serializers.CharField(allow_blank=True, required=False)
    url = serializers.CharField(allow_blank=True, required=False)


class VersionObjectiveSerializer(serializers.Serializer):
    key = serializers.CharField()
    text = serializers.CharField()


class LessonDetailApi(ApiPolicy, APIView):
    required_scope = Scope.CATALOG_READ
    session_allowed = True

    class OutputSerializer(serializers.Serializer):
        course = serializers.SlugField(source="course.slug")
        slug = serializers.SlugField()
        position = serializers.IntegerField()
        version = serializers.IntegerField(source="current_version.number")
        title = serializers.CharField(source="current_version.title")
        estimated_minutes = serializers.IntegerField(source="current_version.estimated_minutes")
        last_reviewed = serializers.DateField(source="current_version.last_reviewed")
        body_html = serializers.CharField(source="current_version.body_html", help_text="Sanitised HTML.")
        toc_html = serializers.CharField(source="current_version.toc_html")
        objectives = VersionObjectiveSerializer(many=True, source="current_version.objectives")
        references = ReferenceSerializer(many=True, source="current_version.references")

    @extend_schema(responses=OutputSerializer, operation_id="lesson_retrieve")
    def get(self, request, course_slug: str, lesson_slug: str) -> Response:
        # One small query for the key; the lesson's text (about 80 kB with its
        # source) is read and serialised only when this process has not yet.
        key = (course_slug, lesson_slug, *selectors.lesson_content_key(course_slug=course_slug, lesson_slug=lesson_slug))
        body = _LESSON_PAYLOADS.get(key)
        if body is None:
            lesson = curriculum_selectors.lesson_detail_get(course_slug=course_slug, lesson_slug=lesson_slug)
            body = render_json(self.OutputSerializer(lesson).data)  # the JSON bytes, rendered once
            if key[2:] == (lesson.pk, lesson.current_version_id, lesson.position):  # not revised in between
                _lesson_payload_store(key, body)
        return Response(body)


# The lesson payload per process, keyed by what it is built from: (course slug,
# lesson slug, lesson id, current version id, position). A revision creates a
# new version, hence a new key, so an entry is never stale, only unused; the
# oldest go once there are _LESSON_PAYLOADS_MAX (a course has a handful of
# lessons, each revised now and then). Per process, so nothing to invalidate
# across servers.
_LESSON_PAYLOADS: dict[tuple, bytes] = {}
_LESSON_PAYLOADS_MAX = 256


def _lesson_payload_store(key: tuple, data: bytes) -> None:
    while len(_LESSON_PAYLOADS) >= _LESSON_PAYLOADS_MAX:
        _LESSON_PAYLOADS.pop(next(iter(_LESSON_PAYLOADS)), None)
    _LESSON_PAYLOADS[key] = data


# --- the signed-in learner's progress --------------------------------------------------


class ProgressOutputSerializer(serializers.Serializer):
    course = serializers.SlugField(source="lesson.course.slug")
    lesson = serializers.SlugField(source="lesson.slug")
    first_opened_at = serializers.DateTimeField()
    last_opened_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    completed_version = serializers.IntegerField(source="completed_version.number", allow_null=True)
    seconds_on_page = serializers.IntegerField()
    visits = serializers.IntegerField()


class MyProgressViewSet(ApiPolicy, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The signed-in learner's lesson progress."""

    session_allowed = True
    serializer_class = ProgressOutputSerializer
    pagination_class = None

    def get_queryset(self):
        return selectors.learner_progress_list(learner=self.request.user)  # one query

    def list(self, request, *args, **kwargs) -> Response:
        return Response(progress_rows(self.get_queryset()))


def progress_rows(rows) -> list[dict]:
    """`selectors.PROGRESS_VALUES` dicts as ProgressOutputSerializer(many=True).data gives them (tested equal)."""
    when = iso_datetime_writer()
    return [
        {
            "course": row["lesson__course__slug"],
            "lesson": row["lesson__slug"],
            "first_opened_at": when(row["first_opened_at"]),
            "last_opened_at": when(row["last_opened_at"]),
            "completed_at": when(row["completed_at"]),
            "completed_version": row["completed_version__number"],
            "seconds_on_page": row["seconds_on_page"],
            "visits": row["visits"],
        }
        for row in rows
    ]


class LessonCompleteApi(ApiPolicy, APIView):
    """Mark a lesson complete for the signed-in learner, once; a repeat returns the same record."""

    session_allowed = True

    class InputSerializer(serializers.Serializer):
        served_token = serializers.CharField(
            required=False, max_length=200, help_text="The lesson page's signed stamp, to count time on page."
        )

    @extend_schema(request=InputSerializer, responses={200: ProgressOutputSerializer}, operation_id="lesson_complete")
    def post(self, request, course_slug: str, lesson_slug: str) -> Response:
        data = self.validate_input(request)
        lesson = curriculum_selectors.lesson_detail_get(course_slug=course_slug, lesson_slug=lesson_slug)
        progress = curriculum_services.lesson_progress_complete(
            learner=request.user,
            lesson=lesson,
            served_token=data.get("served_token"),
            max_minutes=settings.CURRICULUM_MAX_MINUTES_PER_VISIT,
        )
        progress.lesson = lesson
        return Response(ProgressOutputSerializer(progress).data)


# --- integrators: enrolment sync, learners, feeds -------------------------------------


class EnrolmentOutputSerializer(serializers.Serializer):
    course = serializers.SlugField(source="course.slug")
    status = serializers.ChoiceField(choices=Enrolment.Status.choices)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class EnrolmentSyncApi(ApiPolicy, APIView):
    """Create or update a learner and their enrolment by your ID for them. Idempotent.

    If the e-mail address already has an account here, it is not linked to
    you by the address alone: the account holder is asked to confirm, and you
    get 202 with `link_status: link_pending` (the same body, echoing what you
    sent, whether the address is new or not). Once they confirm, the learner
    and enrolment exist and the same request answers 200 `linked`; until then
    the learner's endpoints answer 404 and the feeds do not include them.
    """

    required_scope = Scope.ENROLMENTS_WRITE

    class InputSerializer(serializers.Serializer):
        external_id = serializers.RegexField(
            EXTERNAL_ID_PATTERN,
            help_text="Your ID for the learner: letters, digits, . _ : @ -; up to 200.",
            error_messages={
                "invalid": "Use 1 to 200 letters, digits or . _ : @ - characters, starting with a letter or digit."
            },
        )
        email = serializers.EmailField(max_length=254)
        full_name = serializers.CharField(max_length=200, help_text="As it should appear on certificates.")
        course = serializers.SlugField(max_length=80)
        status = serializers.ChoiceField(choices=Enrolment.Status.choices, default=Enrolment.Status.ACTIVE)

    class OutputSerializer(serializers.Serializer):
        # One shape for 200, 201 and 202. For 202 every field echoes the
        # request (or the link request's times), never the existing account.
        external_id = serializers.CharField()
        email = serializers.EmailField()
        full_name = serializers.CharField()
        course = serializers.SlugField()
        status = serializers.ChoiceField(choices=Enrolment.Status.choices, help_text="The enrolment's status.")
        link_status = serializers.ChoiceField(
            choices=[("linked", "linked"), ("link_pending", "link_pending")],
            help_text="`linked`: the learner is yours. `link_pending`: the account holder must confirm first.",
        )
        created_at = serializers.DateTimeField()
        updated_at = serializers.DateTimeField()

    @extend_schema(
        request=InputSerializer,
        responses={
            200: OpenApiResponse(OutputSerializer, description="Already existed; updated if it differed."),
            201: OpenApiResponse(OutputSerializer, description="The enrolment was created."),
            202: OpenApiResponse(
                OutputSerializer,
                description="Accepted, waiting for the account holder to confirm the link (`link_pending`).",
            ),
        },
        operation_id="enrolment_sync",
    )
    def post(self, request) -> Response:
        data = self.validate_input(request)
        result = services.enrolment_request(
            organisation=self.organisation(),
            external_id=data["external_id"],
            email=data["email"],
            full_name=data["full_name"],
            course_slug=data["course"],
            status=data["status"],
        )
        if result.link is not None:
            link = result.link
            body = {
                **{k: data[k] for k in ("external_id", "email", "full_name", "course", "status")},
                "link_status": "link_pending",
                "created_at": link.created_at,
                "updated_at": link.updated_at,
            }
            return Response(self.OutputSerializer(body).data, status=status.HTTP_202_ACCEPTED)
        enrolment = result.enrolment
        body = {
            "external_id": enrolment.learner.external_id,
            "email": enrolment.learner.user.email,
            "full_name": enrolment.learner.user.full_name,
            "course": enrolment.course.slug,
            "status": enrolment.status,
            "link_status": "linked",
            "created_at": enrolment.created_at,
            "updated_at": enrolment.updated_at,
        }
        return Response(
            self.OutputSerializer(body).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class LearnerDetailApi(ApiPolicy, APIView):
    """One of your organisation's learners with their enrolments."""

    required_scope = Scope.PROGRESS_READ

    class OutputSerializer(serializers.Serializer):
        external_id = serializers.CharField()
        email = serializers.EmailField(source="user.email")
        full_name = serializers.CharField(source="user.full_name")
        enrolments = EnrolmentOutputSerializer(many=True)

    @extend_schema(responses=OutputSerializer, operation_id="learner_retrieve")
    def get(self, request, external_id: str) -> Response:
        learner = selectors.external_learner_get(organisation=self.organisation(), external_id=external_id)
        return Response(self.OutputSerializer(learner).data)


class FeedRowSerializer(serializers.Serializer):
    external_id = serializers.CharField(help_text="Your ID for the learner.")
    course = serializers.SlugField(source="lesson.course.slug")
    lesson = serializers.SlugField(source="lesson.slug")
    first_opened_at = serializers.DateTimeField()
    last_opened_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    completed_version = serializers.IntegerField(source="completed_version.number", allow_null=True)
    seconds_on_page = serializers.IntegerField()
    updated_at = serializers.DateTimeField(help_text="The later of last opened and completed; the feed's order.")


def iso_datetime_writer():
    """DRF's DateTimeField.to_representation for aware datetimes, with the time zone looked up once.

    ISO 8601 in the current time zone, "Z" for UTC, None for None: the same
    strings (tests/lms/test_api_feeds.py compares them), without DRF's
    per-value time zone lookups.
    """
    zone = timezone.get_current_timezone()

    def write(value):
        if value is None:
            return None
        text = value.astimezone(zone).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return write


def feed_rows(page: list[dict]) -> list[dict]:
    """A feed page (`selectors.FeedQuery` rows) as FeedRowSerializer(many=True).data gives it for the rows.

    Fifty rows times nine fields through DRF's fields cost more than the
    page's query (issue #8); this builds the same dicts, same keys and order,
    from rows whose times the database already wrote as the API writes them.
    tests/lms/test_api_feeds.py checks it against the serializer, which stays
    the schema's description.
    """
    return [
        {
            "external_id": row["external_id"],
            "course": row["lesson__course__slug"],
            "lesson": row["lesson__slug"],
            "first_opened_at": row["first_opened_at"],
            "last_opened_at": row["last_opened_at"],
            "completed_at": row["completed_at"],
            "completed_version": row["completed_version__number"],
            "seconds_on_page": row["seconds_on_page"],
            "updated_at": row["updated_at"],
        }
        for row in page
    ]


class FeedListMixin:
    def list(self, request, *args, **kwargs) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(feed_rows(page))

    def _feed_input(self) -> dict:
        """The query parameters, validated (FeedQuerySerializer, below); none given, nothing to check."""
        if not self.request.query_params:
            return {}
        return self.validate_input(self.request, FeedQuerySerializer, data=self.request.query_params.dict())


class FeedQuerySerializer(serializers.Serializer):
    # Validated from a plain dict, not the QueryDict: DRF reads a blank form
    # value as "not given", but `?updated_since=` is a mistake to report.
    updated_since = serializers.DateTimeField(
        required=False, help_text="ISO 8601; only rows changed at or after it. Overlap your last sync a little."
    )
    page_size = serializers.IntegerField(
        required=False, min_value=1, max_value=FeedCursorPagination.max_page_size, help_text="Rows per page (default 50)."
    )
    cursor = serializers.CharField(required=False, help_text="Opaque: follow `next` or `previous`.")


@extend_schema(parameters=[FeedQuerySerializer])
class ProgressFeedViewSet(ApiPolicy, FeedListMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Lesson progress of your learners on the courses you enrolled them in, oldest change first."""

    required_scope = Scope.PROGRESS_READ
    serializer_class = FeedRowSerializer
    pagination_class = FeedCursorPagination

    def get_queryset(self) -> selectors.FeedQuery:
        if getattr(self, "swagger_fake_view", False):  # schema generation; runs no query
            return selectors.FeedQuery(organisation_id=0)
        query = self._feed_input()
        return selectors.FeedQuery(organisation_id=self.organisation().pk, updated_since=query.get("updated_since"))


class CompletionFeedPagination(FeedCursorPagination):
    ordering = ("completed_at", "pk")


@extend_schema(parameters=[FeedQuerySerializer])
class CompletionFeedViewSet(ApiPolicy, FeedListMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Lesson completions of your learners, in completion order; `updated_since` filters on completed_at."""

    required_scope = Scope.COMPLETIONS_READ
    serializer_class = FeedRowSerializer
    pagination_class = CompletionFeedPagination

    def get_queryset(self) -> selectors.FeedQuery:
        if getattr(self, "swagger_fake_view", False):  # schema generation; runs no query
            return selectors.FeedQuery(organisation_id=0, completed_only=True)
        query = self._feed_input()
        return selectors.FeedQuery(
            organisation_id=self.organisation().pk, updated_since=query.get("updated_since"), completed_only=True
        )
