"""Item analysis: the statistics (pure), their SQL aggregation, the staff page and CSV."""

import csv
import io
import math
import statistics
from http import HTTPStatus

import pytest
from django.core.management import call_command
from django.urls import reverse

from quizzes import analysis, selectors, services
from quizzes.analysis import ItemSums
from quizzes.grading import Answer
from quizzes.models import Quiz
from tests.factories import UserFactory
from tests.quizzes.factories import course_dir_write, key_of, quiz_with_items


def _sums(items: list[int], rests: list[float]) -> ItemSums:
    return ItemSums(
        version_id=1,
        n=len(items),
        n_correct=sum(items),
        rest_sum=sum(rests),
        rest_sq_sum=sum(r * r for r in rests),
        rest_sum_correct=sum(r for i, r in zip(items, rests, strict=True) if i),
    )


def test_point_biserial_equals_pearson_correlation():
    items = [1, 1, 0, 1, 0, 0, 1, 0]
    rests = [0.9, 0.7, 0.4, 0.8, 0.5, 0.2, 0.6, 0.3]
    expected = statistics.correlation([float(i) for i in items], rests)
    assert math.isclose(analysis.point_biserial(_sums(items, rests)), expected, rel_tol=1e-9)


def test_point_biserial_is_undefined_when_everyone_is_right():
    assert analysis.point_biserial(_sums([1, 1, 1], [0.5, 0.6, 0.7])) is None


def test_no_verdict_below_minimum_responses():
    stat = analysis.item_stat(_sums([1] * 29, [0.5] * 29), [(1, "A", True, 29), (2, "B", False, 0)])
    assert (stat.enough, stat.flags) == (False, [])


def test_flags_easy_item_and_unused_distractor_with_reasons():
    stat = analysis.item_stat(_sums([1] * 30, [0.5] * 30), [(1, "A", True, 30), (2, "B", False, 0)])
    assert stat.flags == ["Very easy: facility 1.00 is above 0.95.", "Distractor B was never chosen."]


def test_flags_hard_item_and_weak_discrimination():
    items = [1] * 6 + [0] * 24
    rests = [0.2] * 6 + [0.8] * 24  # the strong learners get it wrong
    stat = analysis.item_stat(_sums(items, rests), [(1, "A", True, 6), (2, "B", False, 24)])
    assert stat.flags[0] == "Very hard: facility 0.20 is below 0.25."
    assert stat.flags[1].startswith("Weak discrimination: -1.00 is below 0.2")


def _take(quiz, learner, right_versions: set[int]):
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    key = key_of(attempt)
    answers = [
        Answer(v, frozenset(k["correct"] if v in right_versions else {min(k["wrong"])})) for v, k in key.items()
    ]
    return services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=answers)


@pytest.mark.django_db
def test_analysis_aggregates_first_attempts_per_item_version():
    quiz = quiz_with_items(3)
    versions = sorted(v["version"] for v in services.attempt_start(learner=UserFactory(), quiz=quiz).layout)
    easy, hard, mixed = versions
    for index in range(4):
        learner = UserFactory()
        right = {easy} | ({mixed} if index < 2 else set()) | ({hard} if index == 0 else set())
        _take(quiz, learner, right)
    rows = {row.version.pk: row.stat for row in selectors.item_analysis_get(quiz=quiz, min_responses=4)}
    assert (rows[easy].n, rows[easy].facility) == (4, 1.0)
    assert rows[hard].facility == 0.25
    assert rows[mixed].facility == 0.5
    assert rows[mixed].discrimination > 0.5  # those who got it right did better on the rest
    assert [o.chosen for o in rows[easy].options] == [4, 0, 0]
    assert "Distractor B was never chosen." in rows[easy].flags


@pytest.mark.django_db
def test_analysis_ignores_retakes_unless_asked():
    quiz = quiz_with_items(1, attempt_limit=2)
    learner = UserFactory()
    _take(quiz, learner, set())
    version = key_of(services.attempt_start(learner=learner, quiz=quiz))
    _take(quiz, learner, set(version))
    assert [r.stat.n for r in selectors.item_analysis_get(quiz=quiz)] == [1]
    assert [r.stat.n for r in selectors.item_analysis_get(quiz=quiz, first_attempts_only=False)] == [2]


@pytest.mark.django_db
@pytest.mark.parametrize("n_learners", [1, 5])
def test_analysis_query_count_is_constant(django_assert_num_queries, n_learners):
    quiz = quiz_with_items(3)
    for _ in range(n_learners):
        _take(quiz, UserFactory(), set())
    with django_assert_num_queries(4):  # response sums, choice counts, options, versions
        rows = selectors.item_analysis_get(quiz=quiz)
    assert len(rows) == 3


@pytest.mark.django_db
def test_staff_page_and_csv(client):
    quiz = quiz_with_items(2)
    _take(quiz, UserFactory(), set())
    client.force_login(UserFactory(is_staff=True))
    page = client.get(reverse("quizzes:item_analysis", args=[quiz.pk]))
    assert page.status_code == HTTPStatus.OK
    assert "<svg" in page.content.decode() and "Too few responses" in page.content.decode()
    response = client.get(reverse("quizzes:item_analysis_csv", args=[quiz.pk]))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["item", "version", "objective"]
    assert len(rows) == 3
    assert rows[1][5:7] == ["1", "0.000"]
    assert rows[1][9] == "too few responses"


@pytest.mark.django_db
def test_learners_cannot_see_item_analysis(learner_client):
    quiz = quiz_with_items(1)
    response = learner_client.get(reverse("quizzes:item_analysis", args=[quiz.pk]))
    assert response.status_code == HTTPStatus.FOUND
    assert "/admin/login/" in response.url


@pytest.mark.django_db
def test_myth_endorsement_before_and_after(client, tmp_path):
    """Loaded content: item pre-1 corrects myth m1 and sits in both the pre-test and post-test pools."""
    call_command("load_curriculum", content_dir=str(course_dir_write(tmp_path)))
    pre, post = Quiz.objects.get(kind="pretest"), Quiz.objects.get(kind="posttest")
    myth_version = pre.course.items.get(key="pre-1").current_version_id
    for _ in range(2):
        learner = UserFactory()
        _take(pre, learner, set())  # endorses the myth before
        _take(post, learner, {myth_version})  # corrects it after
    rows = selectors.myth_endorsement_list(course=pre.course)
    assert [(r.myth.key, r.pre_n, r.pre_endorsed, r.post_n, r.post_endorsed) for r in rows] == [("m1", 2, 2, 2, 0)]
    client.force_login(UserFactory(is_staff=True))
    html = client.get(reverse("quizzes:myth_report", args=[pre.course.slug])).content.decode()
    assert "100% of 2" in html and "0% of 2" in html
