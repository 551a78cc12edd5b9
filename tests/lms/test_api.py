"""API v1: authentication, scopes, organisation isolation, errors, feeds, query counts.

Every response checked here is also validated against the committed
docs/openapi.yaml (tests/lms/schema.py).
"""

import datetime as dt
import json
from http import HTTPStatus

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from curriculum.models import LearnerEvent, LessonProgress
from curriculum.services import lesson_progress_complete, lesson_progress_open
from lms.models import Enrolment, ExternalLearner, IntegrationToken, Scope
from tests.factories import CourseFactory, LessonFactory, UserFactory
from tests.lms.factories import EnrolmentFactory, ExternalLearnerFactory, token_for
from tests.lms.schema import SchemaCheckedAPIClient as APIClient
from tests.lms.schema import assert_matches_schema

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttle_cache():
    cache.clear()  # throttle history is keyed by token id, which a rolled-back test may reuse
    yield
    cache.clear()


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert_matches_schema(response)
    return body["error"]


def enrol_payload(**overrides) -> dict:
    course = overrides.pop("course_obj", None)
    data = {
        "external_id": "emp-001",
        "email": "new.learner@example.org",
        "full_name": "New Learner",
        "course": course.slug if course else "missing",
        "status": "active",
    }
    data.update(overrides)
    return data


# --- authentication and scopes --------------------------------------------------------


def test_request_without_credentials_is_401_with_bearer_challenge(api_client):
    CourseFactory()
    response = api_client.get(reverse("v1:course-list"))
    assert_error(response, HTTPStatus.UNAUTHORIZED, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    ["Bearer ce_nothere_secret", "Bearer not-a-token", "Bearer", "Bearer a b", "Bearer ce__"],
)
def test_malformed_or_unknown_token_is_401(api_client, header):
    api_client.credentials(HTTP_AUTHORIZATION=header)
    response = api_client.get(reverse("v1:course-list"))
    assert_error(response, HTTPStatus.UNAUTHORIZED, "authentication_failed")


def test_token_with_right_lookup_but_wrong_secret_is_401(api_client, organisation):
    raw = token_for(organisation, [Scope.CATALOG_READ])
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw[:-4]}AAAA")
    assert_error(api_client.get(reverse("v1:course-list")), HTTPStatus.UNAUTHORIZED, "authentication_failed")


def test_token_is_stored_only_as_a_hash(organisation):
    raw = token_for(organisation, [Scope.CATALOG_READ])
    token = IntegrationToken.objects.get()
    secret = raw.split("_", 2)[2]  # ce_<lookup>_<secret>; the secret may contain "_"
    stored = json.dumps([token.lookup, token.digest, token.name, token.scopes])
    assert secret not in stored
    assert len(token.digest) == 64


def test_revoked_token_is_401(api_client, organisation):
    from lms.services import integration_token_revoke

    raw = token_for(organisation, [Scope.CATALOG_READ])
    integration_token_revoke(token=IntegrationToken.objects.get())
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert_error(api_client.get(reverse("v1:course-list")), HTTPStatus.UNAUTHORIZED, "authentication_failed")


def test_token_of_inactive_organisation_is_401(api_client, organisation):
    raw = token_for(organisation, [Scope.CATALOG_READ])
    organisation.is_active = False
    organisation.save()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert_error(api_client.get(reverse("v1:course-list")), HTTPStatus.UNAUTHORIZED, "authentication_failed")


def test_token_use_records_last_used_time(token_client):
    client = token_client(Scope.CATALOG_READ)
    assert IntegrationToken.objects.get().last_used_at is None
    client.get(reverse("v1:course-list"))
    assert IntegrationToken.objects.get().last_used_at is not None


ENDPOINT_SCOPES = [
    ("get", "v1:course-list", {}, Scope.CATALOG_READ),
    ("post", "v1:enrolment-sync", {}, Scope.ENROLMENTS_WRITE),
    ("get", "v1:learner-detail", {"external_id": "x"}, Scope.PROGRESS_READ),
    ("get", "v1:progress-feed-list", {}, Scope.PROGRESS_READ),
    ("get", "v1:completion-feed-list", {}, Scope.COMPLETIONS_READ),
]


@pytest.mark.parametrize(("method", "name", "kwargs", "scope"), ENDPOINT_SCOPES)
def test_token_without_the_endpoint_scope_is_403(token_client, method, name, kwargs, scope):
    others = [s for s in Scope.values if s != scope]
    response = getattr(token_client(*others), method)(reverse(name, kwargs=kwargs), {}, format="json")
    error = assert_error(response, HTTPStatus.FORBIDDEN, "missing_scope")
    assert scope in error["message"]


@pytest.mark.parametrize(("method", "name", "kwargs", "scope"), [e for e in ENDPOINT_SCOPES if e[1] != "v1:course-list"])
def test_signed_in_learner_cannot_call_integrator_endpoints(learner_api, method, name, kwargs, scope):
    response = getattr(learner_api, method)(reverse(name, kwargs=kwargs), {}, format="json")
    assert_error(response, HTTPStatus.FORBIDDEN, "permission_denied")


def test_token_cannot_call_learner_endpoints(token_client):
    lesson = LessonFactory()
    client = token_client(*Scope.values)
    assert_error(client.get(reverse("v1:my-progress-list")), HTTPStatus.FORBIDDEN, "permission_denied")
    url = reverse("v1:lesson-complete", args=[lesson.course.slug, lesson.slug])
    assert_error(client.post(url, {}, format="json"), HTTPStatus.FORBIDDEN, "permission_denied")
    assert not LessonProgress.objects.exists()


def test_session_learner_needs_csrf_token_to_write():
    lesson = LessonFactory()
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(UserFactory())
    url = reverse("v1:lesson-complete", args=[lesson.course.slug, lesson.slug])
    assert_error(client.post(url, {}, format="json"), HTTPStatus.FORBIDDEN, "permission_denied")
    assert not LessonProgress.objects.exists()


def test_token_is_throttled_per_token_with_retry_after(token_client, settings):
    settings.LMS_API_TOKEN_RATE = "2/min"
    client = token_client(Scope.CATALOG_READ)
    url = reverse("v1:course-list")
    assert client.get(url).status_code == HTTPStatus.OK
    assert client.get(url).status_code == HTTPStatus.OK
    response = client.get(url)
    assert_error(response, HTTPStatus.TOO_MANY_REQUESTS, "throttled")
    assert int(response["Retry-After"]) > 0
    assert token_client(Scope.CATALOG_READ).get(url).status_code == HTTPStatus.OK  # another token is not


# --- catalogue ---------------------------------------------------------------------------


def test_course_list_shows_published_courses_with_lesson_counts(token_client):
    course = CourseFactory()
    LessonFactory.create_batch(2, course=course)
    CourseFactory(is_published=False)
    response = token_client(Scope.CATALOG_READ).get(reverse("v1:course-list"))
    assert response.status_code == HTTPStatus.OK
    assert_matches_schema(response)
    assert [(c["slug"], c["lesson_count"]) for c in response.json()] == [(course.slug, 2)]


def test_course_list_rows_equal_the_serializers_output(token_client):
    """The list is built without DRF's serializer (`course_list_rows`): it must say exactly what the
    serializer, the schema's description, says of the same courses, in the same bytes."""
    from rest_framework.renderers import JSONRenderer

    from curriculum.selectors import catalogue_list
    from lms.api.v1.views import CourseListOutputSerializer

    LessonFactory.create_batch(3, course=CourseFactory(title="Ä course", summary='Says "why" — <b>bold</b>\n'))
    CourseFactory(estimated_minutes=0, release_date=dt.date(2025, 12, 31), expiry_date=dt.date(2030, 2, 28))
    courses = catalogue_list()
    expected = CourseListOutputSerializer(courses, many=True).data
    response = token_client(Scope.CATALOG_READ).get(reverse("v1:course-list"))
    assert response.json() == expected
    assert response.content == JSONRenderer().render(expected)
    assert sorted(c["lesson_count"] for c in expected) == [0, 3]


@pytest.mark.parametrize("n", [1, 5])
def test_course_list_query_count_is_constant(token_client, django_assert_num_queries, n):
    for _ in range(n):
        LessonFactory(course=CourseFactory())
    client = token_client(Scope.CATALOG_READ)
    with django_assert_num_queries(3):  # token, last-used update, courses
        response = client.get(reverse("v1:course-list"))
    assert len(response.json()) == n


def test_course_detail_has_lessons_objectives_and_credit_text(learner_api):
    course = CourseFactory(accreditation_notice="Placeholder credit statement.")
    first, second = LessonFactory(course=course, position=1), LessonFactory(course=course, position=2)
    response = learner_api.get(reverse("v1:course-detail", args=[course.slug]))
    assert response.status_code == HTTPStatus.OK
    assert_matches_schema(response)
    body = response.json()
    assert body["credit_text"] == "Placeholder credit statement."
    assert [lesson["slug"] for lesson in body["lessons"]] == [first.slug, second.slug]
    assert {o["lesson"] for o in body["objectives"]} == {first.slug, second.slug}


@pytest.mark.parametrize("n", [1, 5])
def test_course_detail_query_count_is_constant(token_client, django_assert_num_queries, n):
    course = CourseFactory()
    LessonFactory.create_batch(n, course=course)
    client = token_client(Scope.CATALOG_READ)
    with django_assert_num_queries(5):  # token, last-used update, course, lessons, objectives
        response = client.get(reverse("v1:course-detail", args=[course.slug]))
    assert len(response.json()["lessons"]) == n


def test_lesson_detail_serves_stored_html_objectives_and_references(token_client):
    lesson = LessonFactory()
    response = token_client(Scope.CATALOG_READ).get(
        reverse("v1:lesson-detail", args=[lesson.course.slug, lesson.slug])
    )
    assert response.status_code == HTTPStatus.OK
    assert_matches_schema(response)
    body = response.json()
    assert body["body_html"] == lesson.current_version.body_html
    assert body["references"][0]["citation"] == "Placeholder citation."
    assert body["objectives"] == lesson.current_version.objectives


@pytest.mark.parametrize("which", ["course", "lesson", "unpublished"])
def test_missing_or_unpublished_catalogue_entries_are_404(token_client, which):
    lesson = LessonFactory()
    client = token_client(Scope.CATALOG_READ)
    if which == "course":
        url = reverse("v1:course-detail", args=["no-such-course"])
    elif which == "lesson":
        url = reverse("v1:lesson-detail", args=[lesson.course.slug, "no-such-lesson"])
    else:
        lesson.course.is_published = False
        lesson.course.save()
        url = reverse("v1:course-detail", args=[lesson.course.slug])
    assert_error(client.get(url), HTTPStatus.NOT_FOUND, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/nothing-here/"),
        ("get", "/api/v1/courses/a%0Ab/lessons/c/"),  # a newline in the path (found by the fuzzer)
        ("post", "/api/v1/courses/%1F/lessons/0/complete/"),  # no CSRF HTML page (found by the fuzzer)
    ],
)
def test_unknown_api_url_is_a_json_404(method, path):
    response = getattr(APIClient(enforce_csrf_checks=True), method)(path)
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json()["error"]["code"] == "not_found"


# --- the signed-in learner -------------------------------------------------------------


def test_learner_sees_only_their_own_progress(learner, other_learner, learner_api):
    lesson = LessonFactory()
    lesson_progress_open(learner=learner, lesson=lesson)
    lesson_progress_open(learner=other_learner, lesson=lesson)
    response = learner_api.get(reverse("v1:my-progress-list"))
    assert response.status_code == HTTPStatus.OK
    assert_matches_schema(response)
    assert len(response.json()) == 1


def test_my_progress_rows_equal_the_serializers_output(learner, learner_api):
    """The hand-built rows are exactly what ProgressOutputSerializer (the schema's description) gives."""
    from curriculum.models import LessonProgress
    from curriculum.services import lesson_progress_complete
    from lms.api.v1.views import ProgressOutputSerializer

    lessons = LessonFactory.create_batch(2)
    for lesson in lessons:
        lesson_progress_open(learner=learner, lesson=lesson)
    lesson_progress_complete(learner=learner, lesson=lessons[0], served_token=None, max_minutes=60)
    models = list(LessonProgress.objects.filter(learner=learner).order_by("-last_opened_at", "-pk"))
    body = learner_api.get(reverse("v1:my-progress-list")).json()
    expected = ProgressOutputSerializer(models, many=True).data
    assert body == expected
    assert [list(row) for row in body] == [list(row) for row in expected]
    assert any(row["completed_at"] for row in body) and any(row["completed_at"] is None for row in body)


@pytest.mark.parametrize("n", [1, 5])
def test_my_progress_query_count_is_constant(learner, learner_api, django_assert_num_queries, n):
    for lesson in LessonFactory.create_batch(n):
        lesson_progress_open(learner=learner, lesson=lesson)
    with django_assert_num_queries(1):
        response = learner_api.get(reverse("v1:my-progress-list"))
    assert len(response.json()) == n


def test_completing_a_lesson_twice_records_one_completion_and_one_event(learner, learner_api):
    lesson = LessonFactory()
    url = reverse("v1:lesson-complete", args=[lesson.course.slug, lesson.slug])
    first = learner_api.post(url, {}, format="json")
    second = learner_api.post(url, {}, format="json")
    assert first.status_code == second.status_code == HTTPStatus.OK
    assert_matches_schema(first)
    assert first.json()["completed_at"] == second.json()["completed_at"] is not None
    assert LessonProgress.objects.get(learner=learner, lesson=lesson).completed_version == lesson.current_version
    assert LearnerEvent.objects.filter(verb="completed").count() == 1


@pytest.mark.parametrize(
    "body",
    [{"served_token": "x" * 201}, {"served_token": ["a"]}, "not json"],
    ids=["too-long", "wrong-type", "malformed"],
)
def test_bad_completion_input_is_400_and_writes_nothing(learner_api, body):
    lesson = LessonFactory()
    url = reverse("v1:lesson-complete", args=[lesson.course.slug, lesson.slug])
    if isinstance(body, str):
        response = learner_api.post(url, body, content_type="application/json")
        assert_error(response, HTTPStatus.BAD_REQUEST, "malformed_request")
    else:
        response = learner_api.post(url, body, format="json")
        error = assert_error(response, HTTPStatus.BAD_REQUEST, "invalid")
        assert "served_token" in error["fields"]
    assert not LessonProgress.objects.exists()


def test_completing_a_missing_lesson_is_404(learner_api):
    course = CourseFactory()
    url = reverse("v1:lesson-complete", args=[course.slug, "nope"])
    assert_error(learner_api.post(url, {}, format="json"), HTTPStatus.NOT_FOUND, "not_found")


# --- enrolment sync -------------------------------------------------------------------


def test_enrolment_sync_creates_learner_and_enrolment(token_client, organisation):
    course = CourseFactory()
    response = token_client(Scope.ENROLMENTS_WRITE).post(
        reverse("v1:enrolment-sync"), enrol_payload(course_obj=course), format="json"
    )
    assert response.status_code == HTTPStatus.CREATED
    assert_matches_schema(response)
    identity = ExternalLearner.objects.get(organisation=organisation, external_id="emp-001")
    assert identity.user.email == "new.learner@example.org"
    assert not identity.user.has_usable_password()
    assert Enrolment.objects.get().course == course


def test_same_enrolment_request_twice_makes_one_record(token_client):
    course = CourseFactory()
    client = token_client(Scope.ENROLMENTS_WRITE)
    first = client.post(reverse("v1:enrolment-sync"), enrol_payload(course_obj=course), format="json")
    second = client.post(reverse("v1:enrolment-sync"), enrol_payload(course_obj=course), format="json")
    assert (first.status_code, second.status_code) == (HTTPStatus.CREATED, HTTPStatus.OK)
    assert_matches_schema(second)
    assert first.json()["created_at"] == second.json()["created_at"]
    assert (User.objects.count(), ExternalLearner.objects.count(), Enrolment.objects.count()) == (1, 1, 1)


def test_enrolment_sync_updates_name_email_and_status(token_client):
    course = CourseFactory()
    client = token_client(Scope.ENROLMENTS_WRITE)
    client.post(reverse("v1:enrolment-sync"), enrol_payload(course_obj=course), format="json")
    changed = enrol_payload(course_obj=course, full_name="Renamed", email="moved@example.org", status="withdrawn")
    response = client.post(reverse("v1:enrolment-sync"), changed, format="json")
    assert response.status_code == HTTPStatus.OK
    assert (response.json()["full_name"], response.json()["email"], response.json()["status"]) == (
        "Renamed", "moved@example.org", "withdrawn",
    )
    assert User.objects.get().email == "moved@example.org"


def test_enrolment_sync_never_links_an_existing_account_by_email_alone(token_client):
    """The account holder must confirm first (tests/lms/test_links.py): 202, nothing linked."""
    course = CourseFactory()
    UserFactory(email="taken@example.org")
    response = token_client(Scope.ENROLMENTS_WRITE).post(
        reverse("v1:enrolment-sync"), enrol_payload(course_obj=course, email="TAKEN@example.org"), format="json"
    )
    assert response.status_code == HTTPStatus.ACCEPTED
    assert response.json()["link_status"] == "link_pending"
    assert not ExternalLearner.objects.exists()
    assert not Enrolment.objects.exists()


def test_an_existing_learner_cannot_move_to_another_accounts_email(token_client):
    course = CourseFactory()
    UserFactory(email="taken@example.org")
    client = token_client(Scope.ENROLMENTS_WRITE)
    client.post(reverse("v1:enrolment-sync"), enrol_payload(course_obj=course), format="json")
    response = client.post(
        reverse("v1:enrolment-sync"), enrol_payload(course_obj=course, email="taken@example.org"), format="json"
    )
    assert_error(response, HTTPStatus.CONFLICT, "email_taken")


def test_same_external_id_in_two_organisations_is_two_learners(token_client, organisation, other_organisation):
    course = CourseFactory()
    token_client(Scope.ENROLMENTS_WRITE).post(
        reverse("v1:enrolment-sync"), enrol_payload(course_obj=course), format="json"
    )
    response = token_client(Scope.ENROLMENTS_WRITE, organisation=other_organisation).post(
        reverse("v1:enrolment-sync"), enrol_payload(course_obj=course, email="other@example.org"), format="json"
    )
    assert response.status_code == HTTPStatus.CREATED
    assert ExternalLearner.objects.filter(external_id="emp-001").count() == 2


BAD_ENROLMENTS = {
    "missing-everything": ({}, {"external_id", "email", "full_name", "course"}),
    "bad-email": ({"email": "not-an-email"}, {"email"}),
    "bad-external-id": ({"external_id": "has spaces/and slashes"}, {"external_id"}),
    "long-external-id": ({"external_id": "a" * 201}, {"external_id"}),
    "empty-name": ({"full_name": ""}, {"full_name"}),
    "bad-status": ({"status": "deleted"}, {"status"}),
    "unknown-course": ({"course": "no-such-course"}, {"course"}),
    "bad-course-slug": ({"course": "Not A Slug!"}, {"course"}),
    "wrong-types": ({"external_id": 5, "email": ["a@b.org"], "full_name": {"x": 1}}, {"email", "full_name"}),
}


@pytest.mark.parametrize("case", BAD_ENROLMENTS, ids=list(BAD_ENROLMENTS))
def test_bad_enrolment_input_is_400_with_fields_and_writes_nothing(token_client, case):
    course = CourseFactory()
    overrides, fields = BAD_ENROLMENTS[case]
    payload = {} if case == "missing-everything" else enrol_payload(course_obj=course, **overrides)
    response = token_client(Scope.ENROLMENTS_WRITE).post(reverse("v1:enrolment-sync"), payload, format="json")
    error = assert_error(response, HTTPStatus.BAD_REQUEST, "invalid")
    assert fields <= set(error["fields"])
    assert (User.objects.count(), ExternalLearner.objects.count(), Enrolment.objects.count()) == (0, 0, 0)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        ("{not json", "application/json", HTTPStatus.BAD_REQUEST, "malformed_request"),
        ("[1, 2]", "application/json", HTTPStatus.BAD_REQUEST, "invalid"),
        ("external_id=x", "application/x-www-form-urlencoded", HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
    ],
    ids=["malformed-json", "json-list", "form-encoded"],
)
def test_unparseable_enrolment_body_is_4xx_and_writes_nothing(token_client, body, content_type, status, code):
    response = token_client(Scope.ENROLMENTS_WRITE).post(reverse("v1:enrolment-sync"), body, content_type=content_type)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert not ExternalLearner.objects.exists()


def test_wrong_method_is_405_in_the_error_shape(token_client):
    response = token_client(Scope.ENROLMENTS_WRITE).get(reverse("v1:enrolment-sync"))
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response.json()["error"]["code"] == "method_not_allowed"


# --- learners and feeds: organisation isolation ---------------------------------------


def test_learner_detail_shows_own_learner_and_hides_other_organisations(token_client, organisation, other_organisation):
    mine = EnrolmentFactory(learner__organisation=organisation).learner
    theirs = EnrolmentFactory(learner__organisation=other_organisation).learner
    client = token_client(Scope.PROGRESS_READ)
    response = client.get(reverse("v1:learner-detail", args=[mine.external_id]))
    assert response.status_code == HTTPStatus.OK
    assert_matches_schema(response)
    assert len(response.json()["enrolments"]) == 1
    assert_error(client.get(reverse("v1:learner-detail", args=[theirs.external_id])), HTTPStatus.NOT_FOUND, "not_found")


@pytest.mark.parametrize("n", [1, 5])
def test_learner_detail_query_count_is_constant(token_client, organisation, django_assert_num_queries, n):
    identity = ExternalLearnerFactory(organisation=organisation)
    for _ in range(n):
        EnrolmentFactory(learner=identity)
    client = token_client(Scope.PROGRESS_READ)
    with django_assert_num_queries(4):  # token, last-used update, learner, enrolments
        response = client.get(reverse("v1:learner-detail", args=[identity.external_id]))
    assert len(response.json()["enrolments"]) == n


def _learner_with_progress(organisation, *, lessons: int = 1, complete: bool = False) -> ExternalLearner:
    course = CourseFactory()
    identity = EnrolmentFactory(learner__organisation=organisation, course=course).learner
    for lesson in LessonFactory.create_batch(lessons, course=course):
        lesson_progress_open(learner=identity.user, lesson=lesson)
        if complete:
            lesson_progress_complete(learner=identity.user, lesson=lesson, served_token=None, max_minutes=60)
    return identity


def test_progress_feed_shows_only_own_organisations_enrolled_learners(token_client, organisation, other_organisation):
    mine = _learner_with_progress(organisation, lessons=2)
    _learner_with_progress(other_organisation, lessons=3)
    unenrolled_lesson = LessonFactory()  # progress on a course this organisation did not enrol them in
    lesson_progress_open(learner=mine.user, lesson=unenrolled_lesson)
    response = token_client(Scope.PROGRESS_READ).get(reverse("v1:progress-feed-list"))
    assert response.status_code == HTTPStatus.OK
    assert_matches_schema(response)
    rows = response.json()["results"]
    assert {row["external_id"] for row in rows} == {mine.external_id}
    assert len(rows) == 2


def test_progress_feed_pages_with_a_cursor_without_gaps_or_repeats(token_client, organisation):
    _learner_with_progress(organisation, lessons=5)
    client = token_client(Scope.PROGRESS_READ)
    url, seen = reverse("v1:progress-feed-list") + "?page_size=2", []
    while url:
        response = client.get(url)
        assert_matches_schema(response)
        seen += [(row["course"], row["lesson"]) for row in response.json()["results"]]
        url = response.json()["next"]
    assert len(seen) == len(set(seen)) == 5


def test_progress_feed_updated_since_returns_only_later_changes(token_client, organisation):
    identity = _learner_with_progress(organisation, lessons=3)
    cutoff = timezone.now() - dt.timedelta(hours=1)
    old = LessonProgress.objects.filter(learner=identity.user).order_by("pk")
    LessonProgress.objects.filter(pk__in=[p.pk for p in old[:2]]).update(
        first_opened_at=cutoff - dt.timedelta(days=1), last_opened_at=cutoff - dt.timedelta(days=1)
    )
    response = token_client(Scope.PROGRESS_READ).get(
        reverse("v1:progress-feed-list"), {"updated_since": cutoff.isoformat()}
    )
    assert_matches_schema(response)
    assert len(response.json()["results"]) == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"updated_since": "yesterday"}, "updated_since"),
        ({"updated_since": ""}, "updated_since"),
        ({"cursor": "!!not-a-cursor"}, "cursor"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "many"}, "page_size"),
    ],
    ids=["bad-date", "blank-date", "bad-cursor", "zero-page-size", "word-page-size"],
)
def test_bad_feed_parameters_are_400(token_client, params, field):
    response = token_client(Scope.PROGRESS_READ).get(reverse("v1:progress-feed-list"), params)
    error = assert_error(response, HTTPStatus.BAD_REQUEST, "invalid")
    assert field in error["fields"]


@pytest.mark.parametrize("position", [b"not-a-date", b"2026-13-45 10:00:00+00:00"], ids=["word", "month-13"])
def test_forged_cursor_position_is_400_not_500(token_client, position):
    import base64

    cursor = base64.b64encode(b"p=" + position).decode()
    response = token_client(Scope.PROGRESS_READ).get(reverse("v1:progress-feed-list"), {"cursor": cursor})
    assert_error(response, HTTPStatus.BAD_REQUEST, "invalid")


@pytest.mark.parametrize("n", [1, 5])
def test_progress_feed_query_count_is_constant(token_client, organisation, django_assert_num_queries, n):
    _learner_with_progress(organisation, lessons=n, complete=True)
    client = token_client(Scope.PROGRESS_READ)
    with django_assert_num_queries(3):  # token, last-used update, one page
        response = client.get(reverse("v1:progress-feed-list"))
    assert len(response.json()["results"]) == n


def test_completions_feed_lists_completions_in_order_and_filters_by_completion_time(token_client, organisation):
    identity = _learner_with_progress(organisation, lessons=3)
    lessons = [p.lesson for p in LessonProgress.objects.filter(learner=identity.user).order_by("pk")]
    for lesson in lessons[:2]:
        lesson_progress_complete(learner=identity.user, lesson=lesson, served_token=None, max_minutes=60)
    client = token_client(Scope.COMPLETIONS_READ)
    response = client.get(reverse("v1:completion-feed-list"))
    assert_matches_schema(response)
    assert [row["lesson"] for row in response.json()["results"]] == [lessons[0].slug, lessons[1].slug]
    later = client.get(reverse("v1:completion-feed-list"), {"updated_since": (timezone.now() + dt.timedelta(seconds=1)).isoformat()})
    assert later.json()["results"] == []


def test_completions_feed_hides_other_organisations(token_client, organisation, other_organisation):
    _learner_with_progress(other_organisation, lessons=2, complete=True)
    response = token_client(Scope.COMPLETIONS_READ).get(reverse("v1:completion-feed-list"))
    assert response.json()["results"] == []
