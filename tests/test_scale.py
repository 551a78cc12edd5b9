"""A learner's pages read only that learner's rows, however many other learners there are.

The bug this guards against passes every functional test and shows only at
volume: a query that joins every learner's rows and filters them afterwards
(the catalogue's lesson counts until session 3; the credit completion check
until session 5, 0.5-1.1 s on each of the evaluation, claim and activity
pages at 100,000 learners, which cut `make bench --scale 10`'s journey to a
fifth). Each page a clinician opens on the way to a certificate, and their
API reads, run with one other learner's history in the database and again
after more learners have done the whole course; PostgreSQL's EXPLAIN
ANALYZE of every SELECT the page ran must read no more rows of the tables
that grow with learners the second time (tests/scale.py counts them).
"""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from credits import services as credit_services
from credits.models import Certificate, Claim, CreditType
from curriculum import services as curriculum_services
from curriculum.models import Course, Lesson
from lms.models import ExternalLearner
from quizzes import grading
from quizzes import services as quiz_services
from quizzes.models import Attempt, Option, Quiz
from tests.credits.factories import claim_input, evaluation_submit
from tests.factories import UserFactory
from tests.lms.factories import EnrolmentFactory, OrganisationFactory, token_for
from tests.scale import page_reads

pytestmark = [pytest.mark.postgres, pytest.mark.volume]


def _correct_answers(attempt: Attempt) -> list[grading.Answer]:
    versions = [entry["version"] for entry in attempt.layout]
    correct: dict[int, set[int]] = {version: set() for version in versions}
    for option in Option.objects.filter(version_id__in=versions, is_correct=True):
        correct[option.version_id].add(option.pk)
    return [grading.Answer(version_id=v, option_ids=frozenset(ids)) for v, ids in correct.items()]


class BundledCourse:
    """The bundled course, loaded as `make run` loads it, with its CE activity."""

    def __init__(self):
        call_command("load_curriculum", stdout=StringIO())
        call_command("ensure_activities", stdout=StringIO())
        self.course = Course.objects.get(slug="kratom-for-clinicians")
        self.activity = self.course.activity
        assert self.activity.is_published, "the bundled activity's publish check should be clean"
        self.designation = self.activity.designations.get(credit_type=CreditType.COMPLETION)
        self.lessons = list(Lesson.objects.published().filter(course=self.course).order_by("position"))
        self.quizzes = {(q.kind, q.lesson_id): q for q in Quiz.objects.filter(course=self.course)}
        self.organisation, self.other_organisation = OrganisationFactory(), OrganisationFactory()
        self.token = token_for(self.organisation)

    def enrol(self, learner, organisation) -> None:
        """The learner as `organisation` knows them, enrolled on the course."""
        EnrolmentFactory(learner__organisation=organisation, learner__user=learner, course=self.course)

    def history(self, learner, *, claim: bool = True) -> None:
        """What a clinician leaves on the way to a certificate: pre-test, every lesson and its
        knowledge check, a failed and a passed post-test, the evaluation and the claim."""
        pretest = quiz_services.attempt_start(learner=learner, quiz=self.quizzes[(Quiz.Kind.PRETEST, None)])
        quiz_services.attempt_submit(attempt_id=pretest.pk, learner=learner, answers=[])
        for lesson in self.lessons:
            curriculum_services.lesson_progress_open(learner=learner, lesson=lesson)
            curriculum_services.lesson_progress_complete(learner=learner, lesson=lesson, served_token=None,
                                                         max_minutes=60)
            check = self.quizzes.get((Quiz.Kind.CHECK, lesson.pk))
            if check is not None:
                attempt = quiz_services.attempt_start(learner=learner, quiz=check)
                quiz_services.attempt_submit(attempt_id=attempt.pk, learner=learner,
                                             answers=_correct_answers(attempt))
        posttest = self.quizzes[(Quiz.Kind.POSTTEST, None)]
        failed = quiz_services.attempt_start(learner=learner, quiz=posttest)
        quiz_services.attempt_submit(attempt_id=failed.pk, learner=learner, answers=[])
        passed = quiz_services.attempt_start(learner=learner, quiz=posttest)
        quiz_services.attempt_submit(attempt_id=passed.pk, learner=learner, answers=_correct_answers(passed))
        evaluation_submit(learner, self.activity)
        if claim:
            credit_services.claim_create(learner=learner, activity_id=self.activity.pk, data=claim_input(
                credit_type=CreditType.COMPLETION, hours=self.designation.max_amount, npi=""))


def _pages(world: BundledCourse, learner) -> list[tuple[str, dict]]:
    """(path, headers) of every page and API read the learner opens, in journey order."""
    slug = world.course.slug
    posttest = world.quizzes[(Quiz.Kind.POSTTEST, None)]
    attempt = Attempt.objects.filter(learner=learner, quiz=posttest).order_by("-number").first()
    certificate = Certificate.objects.filter(claim__learner=learner).values_list("pk", flat=True).first()
    pages = [
        reverse("curriculum:catalogue"),
        reverse("curriculum:course_detail", args=[slug]),
        *(reverse("curriculum:lesson_detail", args=[slug, lesson.slug]) for lesson in world.lessons[:2]),
        reverse("quizzes:quiz_detail", args=[slug, "posttest"]),
        reverse("quizzes:attempt_result", args=[attempt.pk]),
        reverse("quizzes:dashboard"),
        reverse("credits:activity_detail", args=[slug]),
        reverse("credits:evaluation_form", args=[slug]),
        reverse("credits:claim_form", args=[slug]),
        reverse("credits:transcript"),
    ]
    if certificate:
        pages += [reverse("credits:certificate_detail", args=[certificate]),
                  reverse("credits:certificate_pdf", args=[certificate])]
    json = {"HTTP_ACCEPT": "application/json"}
    api = [
        reverse("v1:course-list"),
        reverse("v1:my-progress-list"),
        reverse("v1:my-certificate-list"),
        reverse("v1:completion-detail", args=[slug]),
        reverse("v1:attempt-result", args=[attempt.pk]),
    ]
    integrator = {"HTTP_ACCEPT": "application/json", "HTTP_AUTHORIZATION": f"Bearer {world.token}"}
    identity = ExternalLearner.objects.get(organisation=world.organisation, user=learner)
    return ([(path, {}) for path in pages] + [(path, json) for path in api]
            + [(reverse("v1:learner-detail", args=[identity.external_id]), integrator)])


def _reads(world: BundledCourse, learners) -> dict[tuple[str, object], tuple[int, dict[str, int]]]:
    out = {}
    for learner in learners:
        client = Client()
        client.force_login(learner)
        for path, headers in _pages(world, learner):
            response, reads = page_reads(client, path, **headers)
            out[(path, learner.pk)] = (response.status_code, reads)
    return out


def _journey_reads(world: BundledCourse, learner) -> dict[str, tuple[int, dict[str, int]]]:
    """A new learner's way to a certificate through the pages, as `make bench`'s journey takes
    it: {step: (status, reads)}, reads summed over a step's requests (every lesson, say)."""
    client = Client()
    client.force_login(learner)
    slug = world.course.slug
    steps: dict[str, tuple[int, dict[str, int]]] = {}

    def step(name: str, path: str, data=None):
        response, reads = page_reads(client, path, data)
        status, total = steps.get(name, (response.status_code, {}))
        for sql, rows in reads.items():
            total[sql] = total.get(sql, 0) + rows
        steps[name] = (max(status, response.status_code), total)
        return response

    for lesson in world.lessons:
        path = reverse("curriculum:lesson_detail", args=[slug, lesson.slug])
        page = step("lesson page", path).content.decode()
        served = re.search(r'name="served" value="([^"]+)"', page)
        step("complete lesson", path + "complete/", {"served": served.group(1) if served else "", "then": "next"})
    step("post-test page", reverse("quizzes:quiz_detail", args=[slug, "posttest"]))
    started = step("start post-test", reverse("quizzes:quiz_start", args=[slug, "posttest"]), {})
    attempt_path = started["Location"]
    step("attempt page", attempt_path)
    attempt = Attempt.objects.get(pk=int(re.search(r"/attempts/(\d+)/", attempt_path).group(1)))
    answers = [("action", "submit")] + [
        (f"q{answer.version_id}", str(option)) for answer in _correct_answers(attempt) for option in answer.option_ids
    ]
    body = {}
    for name, value in answers:
        body.setdefault(name, []).append(value)
    step("submit post-test", attempt_path, body)
    step("result page", reverse("quizzes:attempt_result", args=[attempt.pk]))
    evaluation = step("evaluation page", reverse("credits:evaluation_form", args=[slug])).content.decode()
    ratings = dict.fromkeys(re.findall(r'name="(objective_\d+)"', evaluation), "5")
    step("submit evaluation", reverse("credits:evaluation_form", args=[slug]),
         {**ratings, "practice_change": "will_change", "perceived_bias": "no"})
    step("claim page", reverse("credits:claim_form", args=[slug]))
    claimed = step("claim credit", reverse("credits:claim_form", args=[slug]), {
        "credit_type": CreditType.COMPLETION, "hours": str(world.designation.max_amount), "full_name": "A Clinician",
        "given_name": "A", "family_name": "Clinician", "attested": "on",
    })
    certificate = claimed["Location"]
    assert "/certificates/" in certificate, (claimed.status_code, claimed.content[:500])
    step("certificate page", certificate)
    step("certificate PDF", certificate + "pdf/")
    return steps


def _grown(before: dict, after: dict) -> list[str]:
    """Each query of `after` that read more rows than in `before`, for the same request (a page
    and learner, or a journey step); each request answered as before, with a 200 or a 302."""
    assert after.keys() == before.keys()
    grew = []
    for key, (status, reads) in after.items():
        status_before, reads_before = before[key]
        assert status == status_before, key
        assert status in (200, 302), (key, status)
        for sql, rows in reads.items():
            if rows > reads_before.get(sql, 0):
                grew.append(f"{key}: {reads_before.get(sql, 0)} -> {rows} rows: {sql[:400]}")
    return grew


@pytest.mark.django_db(transaction=False)
def test_a_learners_pages_read_no_more_rows_when_other_learners_finish_the_course():
    world = BundledCourse()
    claimed, unclaimed = UserFactory(), UserFactory()
    for learner in (claimed, unclaimed):
        world.enrol(learner, world.organisation)
    world.history(claimed)
    world.history(unclaimed, claim=False)  # the evaluation and claim pages as a journey meets them
    world.history(UserFactory())
    before = _reads(world, [claimed, unclaimed])

    for _ in range(8):
        # Another organisation's learners: within one organisation the planner, without the
        # statistics a test table never has, picks the (organisation, user) index to find an
        # external id; at 100,000 learners it uses (organisation, external id), one row.
        other = UserFactory()
        world.enrol(other, world.other_organisation)
        world.history(other)
    after = _reads(world, [claimed, unclaimed])

    assert not _grown(before, after), "queries that read other learners' rows:\n" + "\n".join(_grown(before, after))
    # The check can see what it guards: every page ran queries, and they read rows.
    assert all(reads for _, reads in after.values())


@pytest.mark.django_db(transaction=False)
def test_the_way_to_a_certificate_reads_no_more_rows_when_other_learners_finish_the_course(monkeypatch):
    """The journey's writes too: completing lessons, starting and submitting the post-test,
    the evaluation and the claim (each a POST that reads before it writes).

    Every attempt is dealt with one seed, so both journeys get the same questions: dealt at
    random, the second learner's post-test could hold more multiple-answer questions than the
    first's, and reading its own larger set of choices looked like reading other learners'
    (40 -> 60 rows, one run in three)."""
    monkeypatch.setattr("quizzes.services.secrets.randbits", lambda bits: 20261126)
    world = BundledCourse()
    first, second = UserFactory(), UserFactory()
    world.history(UserFactory())
    before = _journey_reads(world, first)
    for _ in range(8):
        world.history(UserFactory())
    after = _journey_reads(world, second)

    assert not _grown(before, after), "queries that read other learners' rows:\n" + "\n".join(_grown(before, after))
    # Both journeys went all the way: the reads compared are those of a real claim.
    assert Certificate.objects.filter(claim__learner__in=[first, second]).count() == 2


def _staff_list_reads(client: Client, models) -> dict[str, tuple[int, dict[str, int]]]:
    """{changelist path: (status, reads of its page queries)}. The count for the paginator and the
    filters' DISTINCT values read a whole table by their nature; the page itself should not."""
    out = {}
    for model in models:
        path = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        response, reads = page_reads(client, path)
        out[path] = (response.status_code, {sql: rows for sql, rows in reads.items()
                                            if not re.match(r"SELECT (COUNT\(\*\)|DISTINCT) ", sql)})
    return out


@pytest.mark.django_db(transaction=False)
def test_staff_lists_read_one_page_of_learner_rows_however_many_there_are(monkeypatch):
    """Every admin list of a table that grows with learners (attempts, claims, certificates,
    evaluations, identities...) reads a page's rows, not the whole table sorted: at 100,000
    learners the attempt list, ordered through the quiz's ordering (course title, kind, lesson),
    sorted all 1.7 million attempts for each page (1.85 s).

    A page of one row, and only lists with more rows than that before and after: Django's
    changelist drops the LIMIT when everything fits on one page."""
    from django.contrib import admin

    from tests.scale import learner_tables

    world = BundledCourse()
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    def learner():
        user = UserFactory()
        world.enrol(user, world.organisation)
        world.history(user)

    for _ in range(2):
        learner()
    paged = [model for model in admin.site._registry
             if model._meta.db_table in learner_tables() and model._default_manager.count() > 1]
    for model in paged:
        monkeypatch.setattr(admin.site._registry[model], "list_per_page", 1)
    before = _staff_list_reads(client, paged)
    for _ in range(6):
        learner()
    after = _staff_list_reads(client, paged)

    assert not _grown(before, after), "staff lists that read every row:\n" + "\n".join(_grown(before, after))
    # The check sees what it guards: the lists include attempts, claims and identities, and their pages read rows.
    assert {Attempt, Claim, ExternalLearner} <= set(paged) and all(reads for _, reads in after.values())
