"""The progress and completions feeds over the stored `LessonProgress.updated_at` (issue #8).

The feeds are ordered and paged by a generated, indexed column; these tests
pin what must not change with it: pages without gaps or repeats when many
rows share one timestamp (ties broken by id), `updated_since`, the column
following every write path, and a query count independent of the number of
learners. They run on SQLite and, under `make test-pg`, on PostgreSQL.
"""

import datetime as dt
from http import HTTPStatus

import pytest
from django.core.cache import cache
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from curriculum.models import LessonProgress
from curriculum.services import lesson_progress_complete, lesson_progress_open
from lms.models import Scope
from tests.factories import CourseFactory, LessonFactory
from tests.lms.factories import EnrolmentFactory
from tests.lms.schema import assert_matches_schema
from tests.scale import plan_node, plans_of, selects_captured

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _fresh_throttle_cache():
    cache.clear()
    yield
    cache.clear()


def _progress(organisation, *, learners: int, lessons: int = 2) -> list[LessonProgress]:
    """`learners` enrolled learners, each having opened `lessons` lessons of one course."""
    course = CourseFactory()
    course_lessons = LessonFactory.create_batch(lessons, course=course)
    for _ in range(learners):
        user = EnrolmentFactory(learner__organisation=organisation, course=course).learner.user
        for lesson in course_lessons:
            lesson_progress_open(learner=user, lesson=lesson)
    return list(LessonProgress.objects.filter(lesson__course=course).order_by("pk"))


def _walk(client, url: str, params: dict) -> list[dict]:
    rows, first = [], True
    while url:
        response = client.get(url, params if first else None)
        assert response.status_code == HTTPStatus.OK, response.content
        assert_matches_schema(response)
        rows += response.json()["results"]
        url, first = response.json()["next"], False
    return rows


def test_updated_at_is_the_later_of_last_opened_and_completed_on_every_write_path(organisation):
    rows = _progress(organisation, learners=1, lessons=2)
    LessonProgress.objects.filter(pk=rows[0].pk).update(last_opened_at=T0, first_opened_at=T0, completed_at=None)
    assert LessonProgress.objects.get(pk=rows[0].pk).updated_at == T0
    later = T0 + dt.timedelta(hours=2)
    LessonProgress.objects.filter(pk=rows[0].pk).update(completed_at=later, completed_version=rows[0].lesson.current_version)
    assert LessonProgress.objects.get(pk=rows[0].pk).updated_at == later
    LessonProgress.objects.filter(pk=rows[0].pk).update(last_opened_at=later + dt.timedelta(hours=1))
    assert LessonProgress.objects.get(pk=rows[0].pk).updated_at == later + dt.timedelta(hours=1)
    # ... and through the service the lesson page calls
    lesson_progress_complete(learner=rows[1].learner, lesson=rows[1].lesson, served_token=None, max_minutes=60)
    done = LessonProgress.objects.get(pk=rows[1].pk)
    assert done.updated_at == max(done.last_opened_at, done.completed_at)


def test_progress_feed_pages_through_tied_timestamps_in_id_order(token_client, organisation):
    """Seven rows share one updated_at across pages of two: each once, ties in id order."""
    rows = _progress(organisation, learners=4, lessons=2)  # 8 rows
    tied, later = rows[:7], rows[7]
    LessonProgress.objects.filter(pk__in=[p.pk for p in tied]).update(first_opened_at=T0, last_opened_at=T0)
    LessonProgress.objects.filter(pk=later.pk).update(first_opened_at=T0, last_opened_at=T0 + dt.timedelta(seconds=1))
    client = token_client(Scope.PROGRESS_READ)
    seen = _walk(client, reverse("v1:progress-feed-list"), {"page_size": 2})
    # The seven tied rows in id order, then the later one: no gap, no repeat.
    assert [(r["external_id"], r["lesson"]) for r in seen] == [(_ext(p.learner_id), p.lesson.slug) for p in rows]
    assert [r["updated_at"] for r in seen] == [_iso(T0)] * 7 + [_iso(T0 + dt.timedelta(seconds=1))]


def test_progress_feed_updated_since_includes_rows_at_exactly_that_time(token_client, organisation):
    rows = _progress(organisation, learners=3, lessons=1)
    LessonProgress.objects.filter(pk=rows[0].pk).update(first_opened_at=T0, last_opened_at=T0 - dt.timedelta(seconds=1))
    LessonProgress.objects.filter(pk__in=[rows[1].pk, rows[2].pk]).update(first_opened_at=T0, last_opened_at=T0)
    client = token_client(Scope.PROGRESS_READ)
    seen = _walk(client, reverse("v1:progress-feed-list"), {"page_size": 1, "updated_since": T0.isoformat()})
    assert [r["updated_at"] for r in seen] == [_iso(T0), _iso(T0)]
    assert {r["external_id"] for r in seen} == {_ext(rows[1].learner_id), _ext(rows[2].learner_id)}


def test_completions_feed_pages_through_tied_completion_times(token_client, organisation):
    rows = _progress(organisation, learners=3, lessons=2)  # 6 rows, 5 completed at one instant
    for p in rows[:5]:
        LessonProgress.objects.filter(pk=p.pk).update(completed_at=T0, completed_version=p.lesson.current_version)
    client = token_client(Scope.COMPLETIONS_READ)
    seen = _walk(client, reverse("v1:completion-feed-list"), {"page_size": 2})
    assert [(r["external_id"], r["lesson"]) for r in seen] == [
        (_ext(p.learner_id), p.lesson.slug) for p in rows[:5]
    ]
    since = _walk(client, reverse("v1:completion-feed-list"), {"updated_since": (T0 + dt.timedelta(seconds=1)).isoformat()})
    assert since == []


@pytest.mark.parametrize("learners", [3, 30])
def test_feed_query_counts_do_not_grow_with_learners(token_client, organisation, django_assert_num_queries, learners):
    _progress(organisation, learners=learners, lessons=2)
    progress = token_client(Scope.PROGRESS_READ)
    progress.get(reverse("v1:course-list"))  # the token's last-used time is written once a minute, not here
    with django_assert_num_queries(2):  # token, one page
        response = progress.get(reverse("v1:progress-feed-list"), {"page_size": 10})
    assert len(response.json()["results"]) == min(10, 2 * learners)
    completions = token_client(Scope.COMPLETIONS_READ)
    completions.get(reverse("v1:course-list"))
    with django_assert_num_queries(2):  # token, one page
        completions.get(reverse("v1:completion-feed-list"), {"page_size": 10})


@pytest.mark.postgres
@pytest.mark.parametrize(("feed", "scope", "fragment"), [
    ("v1:progress-feed-list", Scope.PROGRESS_READ, "FROM curriculum_lessonprogress progress"),
    ("v1:completion-feed-list", Scope.COMPLETIONS_READ, "FROM curriculum_lessonprogress progress"),
    ("v1:certificate-feed-list", Scope.COMPLETIONS_READ, "FROM credits_certificaterevocation revocation"),
])
def test_a_feed_page_is_planned_once_per_connection_not_per_request(token_client, organisation, feed, scope,
                                                                     fragment):
    """psycopg prepares a statement a connection runs five times (settings.py); PostgreSQL then
    plans five times for the parameters given and, if a plan for any parameters costs no more,
    keeps that one. Planning a feed page cost more than running it (0.5-0.9 ms at 10,000
    learners, issue #8), and with the page's limit sent as a parameter PostgreSQL never kept a
    plan. Every feed sends the same page twenty times: after the first ten it is no longer planned."""
    from tests.credits.factories import activity_with_course, everything_complete
    from tests.lms.factories import ExternalLearnerFactory
    from tests.lms.test_api_credits import certificate_of

    for row in _progress(organisation, learners=3, lessons=2):
        lesson_progress_complete(learner=row.learner, lesson=row.lesson, served_token=None, max_minutes=60)
    identity = ExternalLearnerFactory(organisation=organisation)
    activity = activity_with_course(n_lessons=1)
    everything_complete(identity.user, activity)
    certificate_of(identity.user, activity)
    client = token_client(scope)
    client.get(reverse("v1:course-list"))  # the token's last-used time is written once a minute, not here
    for _ in range(10):
        assert client.get(reverse(feed), {"page_size": 2}).status_code == HTTPStatus.OK
    generic, custom = plans_of(fragment)
    for _ in range(10):
        assert client.get(reverse(feed), {"page_size": 2}).status_code == HTTPStatus.OK
    assert plans_of(fragment) == (generic + 10, custom)


def _ext(user_id: int) -> str:
    from lms.models import ExternalLearner

    return ExternalLearner.objects.get(user_id=user_id).external_id


def _iso(value: dt.datetime) -> str:
    return value.astimezone(timezone.get_current_timezone()).isoformat().replace("+00:00", "Z")


def _feed_by_orm(organisation, *, completed_only: bool = False):
    """The feeds' definition in the ORM, to hold `selectors.FeedQuery`'s written-out SQL to: the
    organisation's learners' progress on courses it enrolled them in, each with its external id."""
    from django.db.models import OuterRef, Subquery

    from lms.models import Enrolment, ExternalLearner

    identity = ExternalLearner.objects.filter(organisation=organisation, user=OuterRef("learner"))
    enrolled = Enrolment.objects.filter(
        learner__organisation=organisation, learner__user=OuterRef("learner"), course=OuterRef("lesson__course")
    )
    rows = LessonProgress.objects.annotate(
        external_id=Subquery(identity.values("external_id")[:1]), enrolment=Subquery(enrolled.values("pk")[:1])
    ).filter(enrolment__isnull=False)
    if completed_only:
        return list(rows.filter(completed_at__isnull=False).order_by("completed_at", "pk"))
    return list(rows.order_by("updated_at", "pk"))


@pytest.mark.parametrize("completed_only", [False, True], ids=["progress", "completions"])
def test_feed_rows_equal_the_orm_definition_through_the_serializer(organisation, other_organisation, completed_only,
                                                                   feed_branch):
    """FeedQuery's SQL picks the rows the ORM definition picks, and `feed_rows` turns them into exactly
    what FeedRowSerializer (the schema's description) gives, keys in order."""
    from lms import selectors
    from lms.api.v1.views import FeedRowSerializer, feed_rows

    rows = _progress(organisation, learners=3, lessons=2)
    for row in rows[:3]:
        lesson_progress_complete(learner=row.learner, lesson=row.lesson, served_token=None, max_minutes=60)
    # Times on a whole second are written without a fraction (the database formats them).
    LessonProgress.objects.filter(pk__in=[rows[0].pk, rows[4].pk]).update(first_opened_at=T0, last_opened_at=T0)
    LessonProgress.objects.filter(pk=rows[0].pk).update(completed_at=T0 + dt.timedelta(seconds=1))
    _progress(other_organisation, learners=2, lessons=1)  # another organisation's learners
    lesson_progress_open(learner=rows[0].learner, lesson=LessonFactory())  # a course not enrolled in
    expected = _feed_by_orm(organisation, completed_only=completed_only)
    assert len(expected) == (3 if completed_only else 6)
    assert any(p.completed_at for p in expected) and (completed_only or any(p.completed_at is None for p in expected))
    query = selectors.FeedQuery(organisation_id=organisation.pk, completed_only=completed_only)
    page = query.order_by(*query.ordering)[0:100]
    assert [row["pk"] for row in page] == [p.pk for p in expected]
    assert [list(row.items()) for row in feed_rows(page)] == [
        list(row.items()) for row in FeedRowSerializer(expected, many=True).data
    ]
    assert "2026-03-01T09:00:00Z" in {row["first_opened_at"] for row in feed_rows(page)}
    # Backwards, from past the last row: the same rows, reversed.
    back = query.order_by(*(f"-{field}" for field in query.ordering))
    assert [row["pk"] for row in back[0:100]] == [p.pk for p in reversed(expected)]


@pytest.mark.postgres
@pytest.mark.parametrize("completed_only", [False, True], ids=["progress", "completions"])
def test_a_small_organisations_page_gathers_its_own_learners_rows_and_a_large_one_walks(
        organisation, other_organisation, completed_only, monkeypatch):
    """PostgreSQL runs one branch of the page query (`lms.selectors._FEED_SCOPED_SQL`): for an
    organisation with fewer learners than the threshold, the branch that gathers its learners'
    rows; the walk over every organisation's progress, which for ten learners among 10,000 took
    57-270 ms a page (issue #8), is never run. With the threshold at 0 (a large organisation), the
    walk runs and the gathering does not. Both give the organisation's rows."""
    from lms import selectors
    from tests.scale import rows_read

    mine = _progress(organisation, learners=2, lessons=2)
    others = _progress(other_organisation, learners=20, lessons=2)
    if completed_only:
        for row in mine + others:
            lesson_progress_complete(learner=row.learner, lesson=row.lesson, served_token=None, max_minutes=60)
    query = selectors.FeedQuery(organisation_id=organisation.pk, completed_only=completed_only)
    progress = frozenset({"curriculum_lessonprogress"})

    def branch_reads() -> tuple[int, int]:
        """Progress rows the walk and the gathering read, by EXPLAIN ANALYZE of the page."""
        with selects_captured() as ran:
            page = query.order_by(*query.ordering)[0:51]
        assert sorted(row["pk"] for row in page) == sorted(row.pk for row in mine)
        ((sql, params),) = ran
        with connection.connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params, prepare=False)
            (document,) = cursor.fetchone()
        plan = document[0]["Plan"]
        append = plan_node(plan, ("Append", "Merge Append"))
        walk, gather = append["Plans"]
        return rows_read(walk, progress), rows_read(gather, progress)

    walked, gathered = branch_reads()
    assert walked == 0 and gathered >= len(mine)
    monkeypatch.setattr(selectors, "_FEED_THRESHOLD_SQL", "0")
    walked, gathered = branch_reads()
    assert walked >= len(mine) and gathered == 0


def test_progress_feed_previous_links_walk_back_over_the_same_pages(token_client, organisation):
    rows = _progress(organisation, learners=4, lessons=2)
    LessonProgress.objects.filter(pk__in=[r.pk for r in rows[2:6]]).update(last_opened_at=T0, first_opened_at=T0)
    client = token_client(Scope.PROGRESS_READ)
    url, pages = reverse("v1:progress-feed-list") + "?page_size=3", []
    while url:
        body = client.get(url).json()
        pages.append([row["external_id"] + row["lesson"] for row in body["results"]])
        last_previous, url = body["previous"], body["next"]
    assert sum(len(page) for page in pages) == 8 and len(pages) == 3
    back, url = [], last_previous
    while url:
        response = client.get(url)
        assert_matches_schema(response)
        back.insert(0, [row["external_id"] + row["lesson"] for row in response.json()["results"]])
        url = response.json()["previous"]
    assert back == pages[:-1]


@pytest.mark.parametrize("used", [False, True], ids=["never-used", "used"])
def test_authenticated_token_equals_the_orms_instances_field_by_field(organisation, used):
    """integration_token_authenticate builds the token and its organisation from one written-out
    query: every concrete field as the ORM reads it, and nothing left to load later."""
    from lms.models import IntegrationToken
    from lms.selectors import integration_token_authenticate
    from tests.lms.factories import token_for

    raw = token_for(organisation, [Scope.CATALOG_READ, Scope.PROGRESS_READ])
    if used:
        IntegrationToken.objects.update(last_used_at=T0)
    token = integration_token_authenticate(raw=raw)
    expected = IntegrationToken.objects.select_related("organisation").get()
    for built, orm in ((token, expected), (token.organisation, expected.organisation)):
        assert built.get_deferred_fields() == set()
        assert not built._state.adding and built._state.db == orm._state.db
        for field in type(orm)._meta.concrete_fields:
            assert getattr(built, field.attname) == getattr(orm, field.attname), field.name
    assert token.scopes == [Scope.CATALOG_READ, Scope.PROGRESS_READ] and token.organisation.is_active is True
    assert integration_token_authenticate(raw=raw[:-1] + ("A" if raw[-1] != "A" else "B")) is None


def test_token_last_used_time_is_written_once_per_interval(token_client, django_assert_num_queries):
    from lms.models import IntegrationToken
    from lms.services import TOKEN_TOUCH_INTERVAL

    client = token_client(Scope.PROGRESS_READ)
    url = reverse("v1:progress-feed-list")
    with django_assert_num_queries(3):  # token, last-used update, page
        client.get(url)
    first = IntegrationToken.objects.get().last_used_at
    with django_assert_num_queries(2):  # within the interval: no write
        client.get(url)
    assert IntegrationToken.objects.get().last_used_at == first
    stale = first - TOKEN_TOUCH_INTERVAL
    IntegrationToken.objects.update(last_used_at=stale)
    with django_assert_num_queries(3):  # the interval has passed: written again
        client.get(url)
    assert IntegrationToken.objects.get().last_used_at > stale


def test_throttle_keeps_one_counter_per_window_not_a_history(token_client, settings):
    """The per-token limit costs the same at any rate: a counter, not a list of request times."""
    from unittest import mock

    from lms.api.v1.base import FixedWindowThrottle
    from lms.models import IntegrationToken

    settings.LMS_API_TOKEN_RATE = "3/min"
    client = token_client(Scope.PROGRESS_READ)
    url = reverse("v1:progress-feed-list")
    now = 1_800_000_015.0  # 15 s into a minute; the clock is held still
    with mock.patch.object(FixedWindowThrottle, "timer", staticmethod(lambda: now)):
        assert [client.get(url).status_code for _ in range(4)] == [200, 200, 200, 429]
        token = IntegrationToken.objects.get()
        assert cache.get(f"throttle_lms_token_{token.pk}:{int(now // 60)}") == 4
        assert int(client.get(url)["Retry-After"]) == 45
    with mock.patch.object(FixedWindowThrottle, "timer", staticmethod(lambda: now + 60)):
        assert client.get(url).status_code == 200  # the next window


@pytest.mark.django_db
def test_throttle_counts_in_the_shared_cache_when_one_is_configured(token_client, settings):
    """With LMS_CACHE_URL (Redis), every app server counts against one limit: the counter lives there."""
    from django.core.cache import caches

    from lms.models import IntegrationToken

    settings.CACHES = {
        **settings.CACHES,
        "shared-test": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "shared-test"},
    }
    settings.LMS_THROTTLE_CACHE_ALIAS = "shared-test"
    settings.LMS_API_TOKEN_RATE = "2/min"
    client = token_client(Scope.PROGRESS_READ)
    url = reverse("v1:progress-feed-list")
    statuses = [client.get(url).status_code for _ in range(3)]
    token = IntegrationToken.objects.get()
    shared = caches["shared-test"]
    assert statuses == [200, 200, 429]
    assert [key for key in shared._cache if f"throttle_lms_token_{token.pk}:" in key]
    assert not [key for key in caches["default"]._cache if f"throttle_lms_token_{token.pk}:" in key]
    shared.clear()


@pytest.mark.django_db
@pytest.mark.parametrize("backend", ["locmem", "redis"])
def test_throttle_opens_each_window_once_then_only_counts(token_client, settings, backend):
    """One cache round trip per request (incr); add() only when a window opens. Real Redis too."""
    from unittest import mock

    from django.core.cache import caches

    from lms.api.v1.base import FixedWindowThrottle

    if backend == "redis":
        location = "redis://127.0.0.1:6379/13"
        try:
            import redis

            redis.Redis.from_url(location, socket_connect_timeout=1).ping()
        except Exception as exc:  # any failure to reach it means no Redis here
            pytest.skip(f"no Redis on 127.0.0.1:6379: {exc}")
        config = {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": location}
    else:
        config = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "throttle-calls"}
    settings.CACHES = {**settings.CACHES, "throttle-calls": config}
    settings.LMS_THROTTLE_CACHE_ALIAS = "throttle-calls"
    settings.LMS_API_TOKEN_RATE = "3/min"
    shared = caches["throttle-calls"]
    shared.clear()
    client = token_client(Scope.PROGRESS_READ)
    url = reverse("v1:progress-feed-list")
    now = 1_800_000_015.0
    calls = {"add": 0, "incr": 0}
    add, incr = type(shared).add, type(shared).incr

    def counted(name, original):
        def call(self, *args, **kwargs):
            calls[name] += 1
            return original(self, *args, **kwargs)

        return call

    try:
        with (
            mock.patch.object(FixedWindowThrottle, "timer", staticmethod(lambda: now)),
            mock.patch.object(type(shared), "add", counted("add", add)),
            mock.patch.object(type(shared), "incr", counted("incr", incr)),
        ):
            assert [client.get(url).status_code for _ in range(5)] == [200, 200, 200, 429, 429]
        assert calls == {"add": 1, "incr": 5}
    finally:
        shared.clear()


def test_a_cursor_issued_before_positions_were_iso_text_still_continues_the_feed(token_client, organisation):
    """Positions were once written as str(datetime) ("2026-03-01 09:00:00+00:00"); an integrator may
    hold such a cursor across the upgrade. It must continue from the same place, ties included."""
    from base64 import b64decode, b64encode
    from urllib.parse import parse_qs, urlencode, urlsplit

    rows = _progress(organisation, learners=3, lessons=2)  # 6 rows: 3 tied at T0, then one a second
    for i, p in enumerate(rows):
        when = T0 + dt.timedelta(seconds=max(0, i - 2), microseconds=250 if i > 2 else 0)
        LessonProgress.objects.filter(pk=p.pk).update(first_opened_at=T0, last_opened_at=when)
    client = token_client(Scope.PROGRESS_READ)
    url = reverse("v1:progress-feed-list")
    after_first = client.get(url, {"page_size": 2}).json()["next"]  # positioned inside the tie
    after_second = client.get(after_first).json()["next"]  # positioned after it
    for link in (after_first, after_second):
        parts = urlsplit(link)
        query = parse_qs(parts.query)
        cursor = parse_qs(b64decode(query["cursor"][0]).decode())
        if "p" in cursor:  # the position, as it used to be written
            cursor["p"] = [str(dt.datetime.fromisoformat(cursor["p"][0].replace("Z", "+00:00")))]
        old = b64encode(urlencode(cursor, doseq=True).encode()).decode()
        old_link = f"{parts.path}?{urlencode({**query, 'cursor': old}, doseq=True)}"
        assert old_link != link
        assert _walk(client, old_link, {}) == _walk(client, link, {})
