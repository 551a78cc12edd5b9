"""Catalogue, course, lesson and explorer pages: content, progress, access and query counts."""

import datetime as dt
import re
import time
from http import HTTPStatus
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from curriculum.models import Course, Lesson, LessonProgress
from curriculum.services import VISIT_WINDOW, lesson_revise, lesson_served_token
from tests.curriculum.coursedir import write_course
from tests.factories import CourseFactory, LessonFactory


@pytest.mark.django_db
@pytest.mark.parametrize("n_lessons", [1, 5])
def test_catalogue_query_count_is_constant(learner_client, django_assert_num_queries, n_lessons):
    """One query for the courses whatever their size, after the session and user."""
    for _ in range(2):
        course = CourseFactory()
        LessonFactory.create_batch(n_lessons, course=course)
    with django_assert_num_queries(3):  # session, user, courses with counts
        response = learner_client.get(reverse("curriculum:catalogue"))
    assert response.status_code == HTTPStatus.OK
    assert response.content.count(b'class="card"') == 2


@pytest.mark.django_db
@pytest.mark.parametrize("n_lessons", [1, 5])
def test_course_page_query_count_is_constant(learner_client, django_assert_num_queries, n_lessons):
    course = CourseFactory()
    LessonFactory.create_batch(n_lessons, course=course)
    url = reverse("curriculum:course_detail", args=[course.slug])
    # session, user, lessons with this learner's progress; then, once per process,
    # the course and its versions' objectives for the page's learner-independent parts
    with django_assert_num_queries(5):
        first = learner_client.get(url)
    with django_assert_num_queries(3):
        response = learner_client.get(url)
    assert response.status_code == HTTPStatus.OK
    assert response.content.count(b'class="lesson-item') == n_lessons
    assert response.content.count(b"Placeholder objective.") == n_lessons
    article = re.compile(rb"<article.*</article>", re.DOTALL)  # the rest holds a per-response nonce
    assert article.search(response.content)[0] == article.search(first.content)[0]


@pytest.mark.django_db
def test_course_page_shows_each_change_at_once_not_from_the_cache(learner_client, tmp_path):
    """The page's cached parts are keyed on the course row and the lessons' versions: an
    edit of the course, a revised lesson, a new order or a withdrawn lesson is shown on the next request."""
    write_course(tmp_path)
    call_command("load_curriculum", content_dir=str(tmp_path), stdout=StringIO())
    course = Course.objects.get(slug="test-course")
    url = reverse("curriculum:course_detail", args=[course.slug])

    def page():
        return learner_client.get(url).content.decode()

    assert "Placeholder privacy." in page()  # now cached in this process
    course.privacy = "Revised privacy notice."
    course.title = "Renamed course"
    course.save()  # as the admin's change form does
    html = page()
    assert "Revised privacy notice." in html
    assert "Placeholder privacy." not in html
    assert "<title>Renamed course · Clinician CE</title>" in html

    lesson = Lesson.objects.select_related("current_version").get(slug="second")
    lesson_revise(
        lesson=lesson,
        source=lesson.current_version.source.replace("Explain the third placeholder topic.", "Explain a revised topic."),
    )
    html = page()
    assert "Explain a revised topic." in html
    assert "Explain the third placeholder topic." not in html
    assert "2. Second lesson" in html

    Lesson.objects.filter(slug="first").update(position=3)  # a new order, as a load writes it
    assert "3. First lesson" in page()

    Lesson.objects.filter(slug="second").update(is_published=False)  # withdrawn, as a load does
    html = page()
    assert "Explain a revised topic." not in html
    assert "Second lesson" not in html
    assert "Describe the first placeholder topic." in html
    assert "About 30 minutes (10 minutes of lessons)" in html


@pytest.mark.django_db
def test_course_page_without_published_lessons_is_shown_and_unpublished_course_is_404(client):
    course = CourseFactory()
    response = client.get(reverse("curriculum:course_detail", args=[course.slug]))
    assert response.status_code == HTTPStatus.OK
    assert f"<title>{course.title} · Clinician CE</title>".encode() in response.content
    assert b'class="lesson-item' not in response.content
    Course.objects.filter(pk=course.pk).update(is_published=False)
    assert client.get(reverse("curriculum:course_detail", args=[course.slug])).status_code == 404


@pytest.mark.django_db
def test_course_page_shows_only_the_learners_own_progress(learner_client, learner, other_learner):
    course = CourseFactory()
    lessons = LessonFactory.create_batch(3, course=course)
    now = timezone.now()
    for lesson in lessons:
        LessonProgress.objects.create(
            learner=other_learner, lesson=lesson, first_opened_at=now, last_opened_at=now,
            completed_at=now, completed_version=lesson.current_version,
        )
    LessonProgress.objects.create(learner=learner, lesson=lessons[2], first_opened_at=now, last_opened_at=now)
    page = learner_client.get(reverse("curriculum:course_detail", args=[course.slug])).content.decode()
    assert "0 of 3 lessons complete (0%)" in page
    assert page.count('class="lesson-item started"') == 1
    assert page.count('class="lesson-item "') == 2


@pytest.mark.django_db
@pytest.mark.parametrize("n_lessons", [1, 5])
def test_lesson_page_query_count_is_constant(learner_client, django_assert_num_queries, n_lessons):
    course = CourseFactory()
    lessons = LessonFactory.create_batch(n_lessons, course=course)
    url = reverse("curriculum:lesson_detail", args=[course.slug, lessons[0].slug])
    learner_client.get(url)  # first visit creates the progress row and caches the version
    # session, user, lessons with this learner's progress; the body is cached and
    # a revisit within the window writes nothing
    with django_assert_num_queries(3):
        response = learner_client.get(url)
    assert response.status_code == HTTPStatus.OK
    assert b"Placeholder body." in response.content


@pytest.mark.django_db
def test_lesson_page_reads_an_uncached_version_once(learner_client, django_assert_num_queries):
    course = CourseFactory()
    first, second = LessonFactory.create_batch(2, course=course)
    learner_client.get(reverse("curriculum:lesson_detail", args=[course.slug, first.slug]))
    LessonProgress.objects.create(
        learner=LessonProgress.objects.get().learner, lesson=second,
        first_opened_at=timezone.now(), last_opened_at=timezone.now(), visits=1,
    )
    url = reverse("curriculum:lesson_detail", args=[course.slug, second.slug])
    with django_assert_num_queries(4):  # session, user, lessons with progress, the version (not yet cached)
        learner_client.get(url)
    with django_assert_num_queries(3):
        response = learner_client.get(url)
    assert f"Lesson title {second.slug}".encode() in response.content


@pytest.mark.django_db
def test_lesson_page_counts_only_the_learners_own_progress(learner_client, learner, other_learner):
    course = CourseFactory()
    lessons = LessonFactory.create_batch(4, course=course)
    now = timezone.now()
    for lesson in lessons[:3]:  # another learner completed three lessons
        LessonProgress.objects.create(
            learner=other_learner, lesson=lesson, first_opened_at=now, last_opened_at=now,
            completed_at=now, completed_version=lesson.current_version,
        )
    LessonProgress.objects.create(
        learner=learner, lesson=lessons[1], first_opened_at=now, last_opened_at=now,
        completed_at=now, completed_version=lessons[1].current_version,
    )
    first = learner_client.get(reverse("curriculum:lesson_detail", args=[course.slug, lessons[0].slug]))
    second = learner_client.get(reverse("curriculum:lesson_detail", args=[course.slug, lessons[1].slug]))
    assert "1 of 4 lessons complete (25%)" in first.content.decode()
    assert b"Mark complete" in first.content  # the other learner's completion is not this learner's
    assert b'data-testid="lesson-completed"' in second.content
    assert LessonProgress.objects.filter(learner=other_learner).count() == 3


@pytest.mark.django_db
def test_revised_lesson_is_shown_at_once_not_from_the_cache(learner_client, tmp_path):
    """The version cache is keyed by immutable version ids: a revision is a new id, never a stale page."""
    write_course(tmp_path)
    call_command("load_curriculum", content_dir=str(tmp_path), stdout=StringIO())
    lesson = Lesson.objects.select_related("course", "current_version").get(slug="second")
    url = reverse("curriculum:lesson_detail", args=[lesson.course.slug, lesson.slug])
    assert b"Placeholder text." in learner_client.get(url).content  # now cached in this process

    revised = lesson_revise(
        lesson=lesson, source=lesson.current_version.source.replace("Placeholder text.", "Revised wording.")
    )

    page = learner_client.get(url).content.decode()
    assert revised.number == 2
    assert "Revised wording." in page
    assert "Placeholder text." not in page
    anonymous = Client().get(url).content.decode()
    assert "Revised wording." in anonymous


@pytest.mark.django_db
def test_lesson_page_shows_objectives_toc_body_and_pager(client):
    course = CourseFactory()
    first, second = LessonFactory.create_batch(2, course=course)
    response = client.get(reverse("curriculum:lesson_detail", args=[course.slug, first.slug]))
    html = response.content.decode()
    assert "Placeholder objective." in html
    assert 'href="#section"' in html  # table of contents
    assert "Placeholder body." in html
    assert f'rel="next" href="/courses/{course.slug}/lessons/{second.slug}/"' in html
    assert 'rel="prev"' not in html


@pytest.mark.django_db
def test_anonymous_reader_sees_lesson_but_records_nothing(client):
    lesson = LessonFactory()
    response = client.get(reverse("curriculum:lesson_detail", args=[lesson.course.slug, lesson.slug]))
    assert response.status_code == HTTPStatus.OK
    assert LessonProgress.objects.count() == 0
    assert b"Log in</a> to record your progress" in response.content


@pytest.mark.django_db
def test_require_login_setting_sends_anonymous_readers_to_login(client, settings):
    settings.CURRICULUM_REQUIRE_LOGIN = True
    lesson = LessonFactory()
    url = reverse("curriculum:lesson_detail", args=[lesson.course.slug, lesson.slug])
    response = client.get(url)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.django_db
def test_unpublished_or_unknown_lesson_is_404(client):
    lesson = LessonFactory()
    lesson.is_published = False
    lesson.save()
    assert client.get(reverse("curriculum:lesson_detail", args=[lesson.course.slug, lesson.slug])).status_code == 404
    assert client.get(reverse("curriculum:lesson_detail", args=[lesson.course.slug, "nope"])).status_code == 404
    assert client.get(reverse("curriculum:course_detail", args=["nope"])).status_code == 404


@pytest.mark.django_db
def test_visits_are_counted_on_one_progress_row(learner_client, learner):
    lesson = LessonFactory()
    url = reverse("curriculum:lesson_detail", args=[lesson.course.slug, lesson.slug])
    learner_client.get(url)
    learner_client.get(url)  # within the visit window: the same visit
    progress = LessonProgress.objects.get(learner=learner, lesson=lesson)
    assert progress.visits == 1
    LessonProgress.objects.filter(pk=progress.pk).update(
        last_opened_at=progress.last_opened_at - VISIT_WINDOW - dt.timedelta(seconds=1)
    )
    learner_client.get(url)  # a later visit
    progress.refresh_from_db()
    assert progress.visits == 2
    assert progress.completed_at is None


@pytest.mark.django_db
def test_mark_complete_moves_progress_bar_and_counts_time(learner_client, learner):
    course = CourseFactory()
    lessons = LessonFactory.create_batch(4, course=course)
    url = reverse("curriculum:lesson_complete", args=[course.slug, lessons[0].slug])

    response = learner_client.post(url, {"served": lesson_served_token(lesson=lessons[0])})

    assert response.status_code == HTTPStatus.FOUND
    page = learner_client.get(reverse("curriculum:course_detail", args=[course.slug])).content.decode()
    assert "1 of 4 lessons complete (25%)" in page
    progress = LessonProgress.objects.get(learner=learner, lesson=lessons[0])
    assert progress.completed_version_id == lessons[0].current_version_id
    assert 0 <= progress.seconds_on_page < 5


@pytest.mark.django_db
def test_forged_served_token_counts_no_time(learner_client, learner):
    lesson = LessonFactory()
    url = reverse("curriculum:lesson_complete", args=[lesson.course.slug, lesson.slug])
    learner_client.post(url, {"served": "1:1abc:forged"})
    assert LessonProgress.objects.get(learner=learner).seconds_on_page == 0


@pytest.mark.django_db
def test_time_on_page_is_capped(learner_client, learner, settings, monkeypatch):
    settings.CURRICULUM_MAX_MINUTES_PER_VISIT = 30
    lesson = LessonFactory()
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() - 5 * 3600)  # served five hours ago
    token = lesson_served_token(lesson=lesson)
    monkeypatch.undo()
    url = reverse("curriculum:lesson_complete", args=[lesson.course.slug, lesson.slug])
    learner_client.post(url, {"served": token})
    assert LessonProgress.objects.get(learner=learner).seconds_on_page == 30 * 60


@pytest.mark.django_db
def test_complete_needs_login_and_post(learner_client):
    lesson = LessonFactory()
    url = reverse("curriculum:lesson_complete", args=[lesson.course.slug, lesson.slug])
    assert Client().post(url).status_code == HTTPStatus.FOUND  # to the login page
    assert LessonProgress.objects.count() == 0
    assert learner_client.get(url).status_code == HTTPStatus.METHOD_NOT_ALLOWED


@pytest.mark.django_db
def test_complete_form_is_csrf_protected(learner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(learner)
    lesson = LessonFactory()
    url = reverse("curriculum:lesson_complete", args=[lesson.course.slug, lesson.slug])
    assert client.post(url).status_code == HTTPStatus.FORBIDDEN
    assert LessonProgress.objects.filter(completed_at__isnull=False).count() == 0


@pytest.mark.django_db
def test_catalogue_counts_only_the_learners_completions_of_published_lessons(learner_client, learner, other_learner):
    course = CourseFactory()
    lessons = LessonFactory.create_batch(3, course=course)
    Lesson.objects.filter(pk=lessons[2].pk).update(is_published=False)
    now = timezone.now()
    for who, done in ((learner, lessons[0::2]), (other_learner, lessons[:2])):
        for lesson in done:  # the learner: one published and the unpublished one; the other: two
            LessonProgress.objects.create(
                learner=who, lesson=lesson, first_opened_at=now, last_opened_at=now,
                completed_at=now, completed_version=lesson.current_version,
            )
    page = learner_client.get(reverse("curriculum:catalogue")).content.decode()
    assert "2 lessons" in page
    assert "1 of 2 lessons complete (50%)" in page
    anonymous = Client().get(reverse("curriculum:catalogue")).content.decode()
    assert "2 lessons" in anonymous and "lessons complete" not in anonymous


@pytest.mark.django_db
def test_cached_lesson_html_is_shared_but_progress_and_tokens_are_each_learners(
    learner, other_learner, django_assert_num_queries
):
    """The version's HTML is rendered once per process; nothing of a learner or a request is cached with it."""
    course = CourseFactory()
    first, second = LessonFactory.create_batch(2, course=course)
    url = reverse("curriculum:lesson_detail", args=[course.slug, first.slug])
    now = timezone.now()
    LessonProgress.objects.create(
        learner=learner, lesson=first, first_opened_at=now, last_opened_at=now,
        completed_at=now, completed_version=first.current_version,
    )
    pages = []
    for who in (learner, other_learner, other_learner):
        client = Client()
        client.force_login(who)
        client.get(url)  # first visits write; the version's HTML is cached by the first
        with django_assert_num_queries(3):  # session, user, lessons with progress: not the version
            response = client.get(url)
        pages.append((response.content.decode(), response.context["csrf_token"]))
    (mine, my_token), (theirs, their_token), (theirs_again, their_token_again) = pages
    assert "Placeholder body." in mine and "Placeholder body." in theirs
    assert 'data-testid="lesson-completed"' in mine and "1 of 2 lessons complete (50%)" in mine
    assert 'data-testid="lesson-completed"' not in theirs and "0 of 2 lessons complete (0%)" in theirs
    # Each response carries the token it was rendered with, masked afresh: never a cached one.
    assert f'value="{my_token}"' in mine and f'value="{their_token}"' in theirs
    assert f'value="{their_token_again}"' in theirs_again and str(their_token) != str(their_token_again)


@pytest.mark.django_db
def test_header_links_are_the_sites_urls(learner_client):
    """The header's links are reversed once per process (config/context_processors.py), not left empty."""
    signed_in = learner_client.get(reverse("curriculum:catalogue")).content.decode()
    for name in ("curriculum:catalogue", "quizzes:dashboard", "credits:transcript", "accounts:profile"):
        assert f'href="{reverse(name)}"' in signed_in
    assert f'action="{reverse("accounts:logout")}"' in signed_in
    anonymous = Client().get(reverse("curriculum:catalogue")).content.decode()
    for name in ("accounts:login", "accounts:signup"):
        assert f'href="{reverse(name)}"' in anonymous
