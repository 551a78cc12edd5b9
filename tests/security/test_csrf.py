"""CSRF on every form: a POST without the token is refused with 403 and writes nothing.

Django's test client skips CSRF checks unless asked; Client(enforce_csrf_checks=True)
makes it behave like a browser on another site.
"""

from http import HTTPStatus

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import User
from credits.models import Certificate, Claim, Evaluation
from curriculum.models import Lesson, LessonProgress
from lms.models import ExternalLearner, LinkRequest
from quizzes import services as quiz_services
from quizzes.models import Attempt, Quiz, Response
from tests.credits.factories import activity_with_course, lessons_complete, posttest_pass
from tests.factories import UserFactory
from tests.lms.factories import OrganisationFactory
from tests.quizzes.factories import quiz_with_items


def snapshot() -> tuple:
    """Every table a learner's form can write to, and the learner's profile fields."""
    return (
        list(User.objects.order_by("pk").values_list("pk", "email", "full_name", "profession", "password")),
        LessonProgress.objects.filter(completed_at__isnull=False).count(),
        list(Attempt.objects.order_by("pk").values_list("pk", "submitted_at", "score")),
        list(Response.objects.order_by("pk").values_list("pk", "chosen")),
        Evaluation.objects.count(),
        Claim.objects.count(),
        Certificate.objects.count(),
        list(LinkRequest.objects.order_by("pk").values_list("pk", "status")),
        ExternalLearner.objects.count(),
    )


@pytest.fixture
def setup(db):
    learner = UserFactory(full_name="Original Name")
    activity = activity_with_course()
    course = activity.course
    lesson = Lesson.objects.filter(course=course).order_by("position").first()
    Quiz.objects.create(course=course, kind=Quiz.Kind.CHECK, lesson=lesson, title="Check")
    lessons_complete(learner, activity)
    posttest_pass(learner, activity)
    attempt = quiz_services.attempt_start(learner=learner, quiz=quiz_with_items(2))
    LinkRequest.objects.create(organisation=OrganisationFactory(), external_id="x-1", user=learner,
                               email=learner.email, full_name="X", courses={course.slug: "active"})
    return learner, course, lesson, attempt


def form_posts(course, lesson, attempt):
    """(name, url, data, signed-in?) for every HTML form a learner can reach."""
    version = attempt.layout[0]["version"]
    return [
        ("signup", reverse("accounts:signup"),
         {"email": "new@example.org", "full_name": "New Person", "profession": "physician",
          # pragma: allowlist nextline secret
          "password1": "a-long-Passphrase-9", "password2": "a-long-Passphrase-9"}, False),
        # pragma: allowlist nextline secret
        ("login", reverse("accounts:login"), {"username": "x@example.org", "password": "wrong"}, False),
        ("password reset", reverse("accounts:password_reset"), {"email": "x@example.org"}, False),
        ("profile", reverse("accounts:profile"), {"full_name": "Changed Name", "profession": "pharmacist"}, True),
        ("lesson complete", reverse("curriculum:lesson_complete", args=[course.slug, lesson.slug]), {}, True),
        ("quiz start", reverse("quizzes:quiz_start", args=[course.slug, Quiz.Kind.POSTTEST]), {}, True),
        ("check start", reverse("quizzes:check_start", args=[course.slug, lesson.slug]), {}, True),
        ("attempt save", reverse("quizzes:attempt_detail", args=[attempt.pk]),
         {"action": "save", f"q{version}": "1"}, True),
        ("attempt submit", reverse("quizzes:attempt_detail", args=[attempt.pk]),
         {"action": "submit", f"q{version}": "1"}, True),
        ("attempt check", reverse("quizzes:attempt_check", args=[attempt.pk]), {"question": version}, True),
        ("evaluation", reverse("credits:evaluation_form", args=[course.slug]), {"practice_change": "consider"}, True),
        ("claim", reverse("credits:claim_form", args=[course.slug]),
         {"credit_type": "ama_pra_1", "hours": "1.00", "attested": "on", "full_name": "X"}, True),
        ("organisation link", reverse("lms_links:link_detail", args=[LinkRequest.objects.get().pk]),
         {"decision": "confirm"}, True),
        ("logout", reverse("accounts:logout"), {}, True),
    ]


def test_every_form_refuses_a_post_without_its_csrf_token(setup):
    learner, course, lesson, attempt = setup
    failures = []
    for name, url, data, signed_in in form_posts(course, lesson, attempt):
        client = Client(enforce_csrf_checks=True)
        if signed_in:
            client.force_login(learner)
        before = snapshot()
        response = client.post(url, data)
        if response.status_code != HTTPStatus.FORBIDDEN:
            failures.append(f"{name} {url}: {response.status_code}, expected 403")
        if snapshot() != before:
            failures.append(f"{name} {url}: wrote to the database without a CSRF token")
        if mail.outbox:
            failures.append(f"{name} {url}: sent mail without a CSRF token")
    assert not failures, "\n".join(failures)


def test_the_token_is_what_is_checked(setup):
    """Positive control: the same profile POST with the token from the form page goes through."""
    learner, *_ = setup
    client = Client(enforce_csrf_checks=True)
    client.force_login(learner)
    page = client.get(reverse("accounts:profile"))
    token = page.cookies["csrftoken"].value if "csrftoken" in page.cookies else client.cookies["csrftoken"].value
    response = client.post(reverse("accounts:profile"), {
        "csrfmiddlewaretoken": token, "email": learner.email, "full_name": "Changed Name",
        "profession": learner.profession,
    })
    assert response.status_code != HTTPStatus.FORBIDDEN
    learner.refresh_from_db()
    assert learner.full_name == "Changed Name"
