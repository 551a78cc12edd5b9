"""The pages after the lessons, on a 320-pixel phone, with the bundled course's real content.

A clinician reads results, rationales with their references, the dashboard, the credit pages,
the certificate and the transcript between patients; staff open the reports on whatever they
have. Each page must pass axe-core, never scroll sideways (WCAG 1.4.10 Reflow) and keep every
radio and checkbox beside its label (`accessibility_problems`). The lessons and the interaction
explorer are checked at this width by test_bundled_course.py.
"""

import pytest
from django.test import Client
from django.urls import reverse

from credits.models import Certificate
from quizzes.models import Attempt, Quiz
from tests.browser.conftest import accessibility_problems
from tests.factories import UserFactory
from tests.test_scale import BundledCourse


def _sign_in(page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])


@pytest.fixture
def world(transactional_db):
    world = BundledCourse()
    finished, evaluating = UserFactory(full_name="Dr Maximiliana Oyelaran-Featherstonehaugh"), UserFactory()
    world.history(finished)
    world.history(evaluating, claim=False)
    world.learners = finished, evaluating
    return world


def _learner_pages(world, learner) -> list[str]:
    slug = world.course.slug
    attempts = Attempt.objects.filter(learner=learner).select_related("quiz").order_by("pk")
    return [
        *(reverse("quizzes:attempt_result", args=[a.pk]) for a in attempts),  # pre-test, checks, post-tests
        *(reverse("quizzes:check_detail", args=[slug, lesson.slug]) for lesson in world.lessons[:2]),
        reverse("quizzes:quiz_detail", args=[slug, "posttest"]),
        reverse("quizzes:dashboard"),
        reverse("credits:activity_detail", args=[slug]),
        reverse("credits:evaluation_form", args=[slug]),
        reverse("credits:claim_form", args=[slug]),
        reverse("credits:transcript"),
        reverse("accounts:profile"),
    ]


def test_a_clinicians_pages_after_the_lessons_fit_a_phone(page, live_server, world):
    finished, evaluating = world.learners
    certificate = Certificate.objects.get(claim__learner=finished)
    page.set_viewport_size({"width": 320, "height": 640})

    _sign_in(page, live_server, finished)
    pages = [*_learner_pages(world, finished), reverse("credits:certificate_detail", args=[certificate.pk])]
    checked = _check_all(page, live_server, pages)
    page.context.clear_cookies()
    checked += _check_all(page, live_server, [reverse("credits:certificate_verify", args=[certificate.code])])
    _sign_in(page, live_server, evaluating)  # an evaluation submitted, no claim yet: the claim form itself
    checked += _check_all(page, live_server, [reverse("credits:claim_form", args=[world.course.slug])])

    # The review of the passed post-test shows rationales and their references.
    assert any("/result/" in path for path in checked) and len(checked) >= 15

    # The knowledge-gain table shows its scores without scrolling: it is what the dashboard is for.
    _sign_in(page, live_server, finished)
    page.goto(live_server.url + reverse("quizzes:dashboard"))
    gain = page.locator("table.gain")
    assert gain.locator("tbody tr").count() >= 10
    assert gain.evaluate("t => t.getBoundingClientRect().right <= t.parentElement.getBoundingClientRect().right")


def test_staff_reports_fit_a_phone(page, live_server, world):
    staff = UserFactory(is_staff=True, is_superuser=True)
    posttest = Quiz.objects.get(course=world.course, kind=Quiz.Kind.POSTTEST)
    page.set_viewport_size({"width": 320, "height": 640})
    _sign_in(page, live_server, staff)
    _check_all(page, live_server, [
        reverse("quizzes:staff_quiz_list"),
        reverse("quizzes:item_analysis", args=[posttest.pk]),
        reverse("quizzes:myth_report", args=[world.course.slug]),
        reverse("credits:report_index"),
        reverse("lms_exports:index"),
    ])
    page.goto(live_server.url + reverse("quizzes:item_analysis", args=[posttest.pk]))
    assert page.locator("svg.bars").count() >= 10  # the charts that were wider than the phone are there


def _check_all(page, live_server, paths) -> list[str]:
    for path in paths:
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        problems = accessibility_problems(page)
        assert problems == [], f"{path}: {problems}"
    return list(paths)
