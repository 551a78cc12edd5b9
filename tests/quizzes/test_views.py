"""Quiz pages: no answer key before submission, 400/409 that change nothing, review rules,
the dashboard, and query counts independent of the number of questions and attempts."""

import datetime as dt
import re
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from curriculum.models import Objective
from quizzes import selectors, services
from quizzes.grading import Answer
from quizzes.models import Attempt, ItemVersion, Option, Quiz, Response, ResponseChoice
from tests.quizzes.factories import key_of, quiz_with_items
from tests.scale import plans_of


def _post_answers(attempt, *, right: int, action: str = "submit") -> dict:
    key = key_of(attempt)
    data = {"action": action}
    for index, entry in enumerate(attempt.layout):
        options = key[entry["version"]]["correct"] if index < right else {min(key[entry["version"]]["wrong"])}
        data[f"q{entry['version']}"] = [str(o) for o in sorted(options)]
    return data


def _state(attempt):
    attempt.refresh_from_db()
    return (
        attempt.submitted_at, attempt.saved_at, attempt.score,
        sorted(ResponseChoice.objects.filter(response__attempt=attempt).values_list("option_id", flat=True)),
        list(Response.objects.filter(attempt=attempt).order_by("pk").values_list("confidence", "is_correct")),
    )


@pytest.mark.django_db
def test_start_page_states_the_rules(learner_client):
    quiz = quiz_with_items(2)
    response = learner_client.get(reverse("quizzes:quiz_detail", args=[quiz.course.slug, "posttest"]))
    assert response.status_code == HTTPStatus.OK
    assert "all-or-nothing" in response.content.decode()
    assert "You pass with 75% or more." in response.content.decode()


@pytest.mark.django_db
def test_start_redirects_to_the_attempt(learner_client, learner):
    quiz = quiz_with_items(2)
    response = learner_client.post(reverse("quizzes:quiz_start", args=[quiz.course.slug, "posttest"]))
    attempt = Attempt.objects.get(learner=learner)
    assert response.status_code == HTTPStatus.FOUND
    assert response.url == reverse("quizzes:attempt_detail", args=[attempt.pk])


@pytest.mark.django_db
def test_unknown_quiz_kind_is_404(learner_client):
    quiz = quiz_with_items(1)
    assert learner_client.get(f"/courses/{quiz.course.slug}/quizzes/check/").status_code == HTTPStatus.NOT_FOUND


@pytest.mark.django_db
def test_pages_need_login(client):
    quiz = quiz_with_items(1)
    response = client.get(reverse("quizzes:quiz_detail", args=[quiz.course.slug, "posttest"]))
    assert response.status_code == HTTPStatus.FOUND
    assert client.get(reverse("quizzes:dashboard")).status_code == HTTPStatus.FOUND


@pytest.mark.django_db
def test_open_attempt_html_contains_no_answer_key(learner_client, learner):
    """No rationale, no correctness word, and correct and wrong options have identical markup."""
    quiz = quiz_with_items(3, types=[ItemVersion.Type.SINGLE, ItemVersion.Type.MULTIPLE, ItemVersion.Type.TRUEFALSE],
                           confidence_enabled=True)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    html = learner_client.get(reverse("quizzes:attempt_detail", args=[attempt.pk])).content.decode()
    for option in Option.objects.all():
        assert f'value="{option.pk}"' in html
        assert option.rationale_html not in html
    form = html[html.index('<form method="post" action="/attempts/'):]
    form = form[: form.index("</form>")]
    questions = form.split('<fieldset class="question"')[1:]
    assert len(questions) == 3
    for question in questions:
        body = question.split('<fieldset class="confidence">')[0]
        assert "correct" not in body.lower() and "rationale" not in body.lower()
        items = re.findall(r"<li>.*?</li>", body, re.S)
        assert len({re.sub(r"\d+", "N", item) for item in items}) == 1  # options differ only by id


@pytest.mark.django_db
def test_open_attempt_page_shows_all_questions_in_stored_order(learner_client, learner):
    quiz = quiz_with_items(3)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    html = learner_client.get(reverse("quizzes:attempt_detail", args=[attempt.pk])).content.decode()
    positions = [html.index(f'id="q{entry["version"]}"') for entry in attempt.layout]
    assert positions == sorted(positions)
    options = [html.index(f'id="o{o}"') for o in attempt.layout[0]["options"]]
    assert options == sorted(options)
    assert 'value="save"' in html and 'value="submit"' in html


@pytest.mark.django_db
def test_attempt_page_labels_each_question_and_keeps_saved_confidence(learner_client, learner):
    quiz = quiz_with_items(
        3, types=[ItemVersion.Type.SINGLE, ItemVersion.Type.MULTIPLE], confidence_enabled=True
    )
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    url = reverse("quizzes:attempt_detail", args=[attempt.pk])
    data = _post_answers(attempt, right=1, action="save")
    first, second, third = (entry["version"] for entry in attempt.layout)
    data[f"c{first}"] = "unsure"
    data[f"c{second}"] = "sure"
    del data[f"q{third}"]
    data[f"c{third}"] = "unsure"  # a confidence, no option chosen yet
    assert learner_client.post(url, data).status_code == HTTPStatus.FOUND
    assert Response.objects.filter(attempt=attempt, item_version_id=third, choices__isnull=True).exists()

    html = learner_client.get(url).content.decode()

    for position, entry in enumerate(attempt.layout, start=1):
        version = ItemVersion.objects.get(pk=entry["version"])
        legend = re.search(rf'<fieldset class="question" id="q{version.pk}">\s*<legend>([^<]*)</legend>', html)[1]
        suffix = " (select all that apply)" if version.type == ItemVersion.Type.MULTIPLE else ""
        assert legend == f"Question {position} of 3{suffix}"
        kind = "checkbox" if version.type == ItemVersion.Type.MULTIPLE else "radio"
        assert html.count(f'<input type="{kind}" name="q{version.pk}"') == len(entry["options"])
    assert f'id="c{first}-unsure" value="unsure" checked' in html
    assert f'id="c{first}-sure" value="sure">' in html
    assert f'id="c{second}-sure" value="sure" checked' in html
    assert f'id="c{third}-unsure" value="unsure" checked' in html
    assert not re.search(rf'name="q{third}" [^>]* checked', html)
    assert len(re.findall(rf'name="q{first}" [^>]* checked', html)) == len(key_of(attempt)[first]["correct"])
    assert html.count('<fieldset class="confidence">') == 3


@pytest.mark.django_db
def test_attempt_page_asks_no_confidence_unless_the_quiz_does(learner_client, learner):
    attempt = services.attempt_start(learner=learner, quiz=quiz_with_items(2))
    html = learner_client.get(reverse("quizzes:attempt_detail", args=[attempt.pk])).content.decode()
    assert html.count('<fieldset class="question"') == 2
    assert 'class="confidence"' not in html


@pytest.mark.django_db
def test_save_and_resume_keeps_the_answers(learner_client, learner):
    quiz = quiz_with_items(2)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    url = reverse("quizzes:attempt_detail", args=[attempt.pk])
    response = learner_client.post(url, _post_answers(attempt, right=1, action="save"))
    assert response.status_code == HTTPStatus.FOUND
    html = learner_client.get(url).content.decode()
    chosen = ResponseChoice.objects.values_list("option_id", flat=True)
    assert len(chosen) == 2
    assert all(f'value="{o}" checked' in html for o in chosen)
    assert Attempt.objects.get(pk=attempt.pk).submitted_at is None


@pytest.mark.django_db
def test_submit_grades_and_shows_the_result(learner_client, learner):
    quiz = quiz_with_items(4)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    response = learner_client.post(reverse("quizzes:attempt_detail", args=[attempt.pk]), _post_answers(attempt, right=3))
    assert response.status_code == HTTPStatus.FOUND
    assert response.url == reverse("quizzes:attempt_result", args=[attempt.pk])
    html = learner_client.get(response.url).content.decode()
    assert "75%" in html and "You passed." in html


@pytest.mark.django_db
def test_double_submit_shows_the_first_result(learner_client, learner):
    quiz = quiz_with_items(4)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    url = reverse("quizzes:attempt_detail", args=[attempt.pk])
    learner_client.post(url, _post_answers(attempt, right=1))
    before = _state(attempt)
    response = learner_client.post(url, _post_answers(attempt, right=4))
    assert response.status_code == HTTPStatus.FOUND
    assert response.url == reverse("quizzes:attempt_result", args=[attempt.pk])
    assert _state(attempt) == before


@pytest.mark.django_db
def test_bad_option_is_400_and_changes_nothing(learner_client, learner):
    quiz = quiz_with_items(2)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    url = reverse("quizzes:attempt_detail", args=[attempt.pk])
    learner_client.post(url, _post_answers(attempt, right=1, action="save"))
    before = _state(attempt)
    data = _post_answers(attempt, right=2)
    one, two = attempt.layout
    data[f"q{two['version']}"] = [str(one["options"][0])]
    response = learner_client.post(url, data)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "does not belong" in response.content.decode()
    assert _state(attempt) == before


@pytest.mark.django_db
def test_non_numeric_option_is_400_and_changes_nothing(learner_client, learner):
    attempt = services.attempt_start(learner=learner, quiz=quiz_with_items(1))
    before = _state(attempt)
    response = learner_client.post(
        reverse("quizzes:attempt_detail", args=[attempt.pk]),
        {"action": "submit", f"q{attempt.layout[0]['version']}": "abc"},
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert _state(attempt) == before


@pytest.mark.django_db
def test_a_refused_submit_shows_the_form_again_and_a_junk_resubmit_is_still_400(learner_client, learner):
    """The submission reads the attempt once, in the service's lock, and parses the form there,
    before any other check: a refusal reads it again for its page, and junk sent to an attempt
    already submitted is a 400 as it was, not the first result."""
    attempt = services.attempt_start(learner=learner, quiz=quiz_with_items(2))
    url = reverse("quizzes:attempt_detail", args=[attempt.pk])
    response = learner_client.post(url, {"action": "submit", f"q{attempt.layout[0]['version']}": "abc"})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.content.count(b'name="q') == 2 * 3  # both questions' options: the form again
    assert learner_client.post(url, _post_answers(attempt, right=2)).status_code == HTTPStatus.FOUND
    submitted = _state(attempt)
    response = learner_client.post(url, {"action": "submit", f"q{attempt.layout[0]['version']}": "abc"})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert _state(attempt) == submitted
    too_big = reverse("quizzes:attempt_detail", args=[2**70])
    assert learner_client.post(too_big, {"action": "submit"}).status_code == HTTPStatus.NOT_FOUND


@pytest.mark.django_db
def test_foreign_question_is_400_and_changes_nothing(learner_client, learner):
    attempt = services.attempt_start(learner=learner, quiz=quiz_with_items(1))
    foreign = quiz_with_items(1)
    version = ItemVersion.objects.get(item__course=foreign.course)
    before = _state(attempt)
    data = _post_answers(attempt, right=1)
    data[f"q{version.pk}"] = [str(version.options.first().pk)]
    response = learner_client.post(reverse("quizzes:attempt_detail", args=[attempt.pk]), data)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "not part of this attempt" in response.content.decode()
    assert _state(attempt) == before


@pytest.mark.django_db
def test_saving_a_closed_attempt_is_409_and_changes_nothing(learner_client, learner):
    quiz = quiz_with_items(2)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    url = reverse("quizzes:attempt_detail", args=[attempt.pk])
    learner_client.post(url, _post_answers(attempt, right=1))
    before = _state(attempt)
    response = learner_client.post(url, _post_answers(attempt, right=2, action="save"))
    assert response.status_code == HTTPStatus.CONFLICT
    assert _state(attempt) == before


@pytest.mark.django_db
def test_another_learners_attempt_is_404(client, other_learner, learner):
    attempt = services.attempt_start(learner=learner, quiz=quiz_with_items(1))
    client.force_login(other_learner)
    assert client.get(reverse("quizzes:attempt_detail", args=[attempt.pk])).status_code == HTTPStatus.NOT_FOUND
    assert client.post(reverse("quizzes:attempt_detail", args=[attempt.pk]), {"action": "submit"}).status_code == (
        HTTPStatus.NOT_FOUND
    )


@pytest.mark.django_db
def test_start_beyond_the_limit_is_409(learner_client, learner):
    quiz = quiz_with_items(1, attempt_limit=1)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=[])
    response = learner_client.post(reverse("quizzes:quiz_start", args=[quiz.course.slug, "posttest"]))
    assert response.status_code == HTTPStatus.CONFLICT
    assert "used all 1 attempts" in response.content.decode()
    assert Attempt.objects.count() == 1


@pytest.mark.django_db
def test_review_hidden_until_last_attempt_or_pass(learner_client, learner):
    quiz = quiz_with_items(2, attempt_limit=2, review_rule=Quiz.ReviewRule.AFTER_LAST_ATTEMPT)
    first = services.attempt_start(learner=learner, quiz=quiz)
    services.attempt_submit(attempt_id=first.pk, learner=learner, answers=[])
    html = learner_client.get(reverse("quizzes:attempt_result", args=[first.pk])).content.decode()
    assert "RATIONALE-" not in html
    assert "shown once you pass or have used your last attempt" in html
    second = services.attempt_start(learner=learner, quiz=quiz)
    services.attempt_submit(attempt_id=second.pk, learner=learner, answers=[])
    html = learner_client.get(reverse("quizzes:attempt_result", args=[second.pk])).content.decode()
    assert "RATIONALE-" in html and "Correct answer." in html


@pytest.mark.django_db
def test_review_shows_answer_correct_answer_rationale_and_reference(learner_client, learner):
    quiz = quiz_with_items(1, review_rule=Quiz.ReviewRule.ALWAYS)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    entry = attempt.layout[0]
    wrong = min(key_of(attempt)[entry["version"]]["wrong"])
    services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=[Answer(entry["version"], frozenset({wrong}))])
    html = learner_client.get(reverse("quizzes:attempt_result", args=[attempt.pk])).content.decode()
    assert "Your answer." in html and "Correct answer." in html
    assert all(o.rationale_html in html for o in Option.objects.filter(version_id=entry["version"]))
    assert "Placeholder citation." in html


@pytest.mark.django_db
def test_never_review_shows_score_only(learner_client, learner):
    quiz = quiz_with_items(1, kind=Quiz.Kind.PRETEST, review_rule=Quiz.ReviewRule.NEVER, attempt_limit=1)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=[])
    html = learner_client.get(reverse("quizzes:attempt_result", args=[attempt.pk])).content.decode()
    assert "RATIONALE-" not in html and "score only" in html


@pytest.mark.django_db
def test_confidently_wrong_answers_are_listed_to_revisit(learner_client, learner):
    quiz = quiz_with_items(1, confidence_enabled=True, review_rule=Quiz.ReviewRule.AFTER_PASS)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    entry = attempt.layout[0]
    wrong = min(key_of(attempt)[entry["version"]]["wrong"])
    services.attempt_submit(
        attempt_id=attempt.pk, learner=learner, answers=[Answer(entry["version"], frozenset({wrong}), "sure")]
    )
    html = learner_client.get(reverse("quizzes:attempt_result", args=[attempt.pk])).content.decode()
    assert "Confidently wrong" in html and "#section" in html
    assert "RATIONALE-" not in html


@pytest.mark.django_db
def test_knowledge_check_shows_feedback_for_checked_question_only(learner_client, learner):
    quiz = quiz_with_items(2, kind=Quiz.Kind.CHECK)
    response = learner_client.post(reverse("quizzes:check_start", args=[quiz.course.slug, quiz.lesson.slug]))
    attempt = Attempt.objects.get()
    assert response.url == reverse("quizzes:attempt_detail", args=[attempt.pk])
    one, two = attempt.layout
    response = learner_client.post(
        reverse("quizzes:attempt_check", args=[attempt.pk]),
        {"question": one["version"], f"q{one['version']}": one["options"][0]},
    )
    assert response.status_code == HTTPStatus.FOUND
    html = learner_client.get(reverse("quizzes:attempt_detail", args=[attempt.pk])).content.decode()
    checked = Option.objects.filter(version_id=one["version"])
    unchecked = Option.objects.filter(version_id=two["version"])
    assert all(o.rationale_html in html for o in checked)
    assert not any(o.rationale_html in html for o in unchecked)


@pytest.mark.django_db
def test_rechecking_a_checked_question_is_409(learner_client, learner):
    quiz = quiz_with_items(2, kind=Quiz.Kind.CHECK)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    entry = attempt.layout[0]
    url = reverse("quizzes:attempt_check", args=[attempt.pk])
    learner_client.post(url, {"question": entry["version"], f"q{entry['version']}": entry["options"][0]})
    before = _state(attempt)
    response = learner_client.post(url, {"question": entry["version"], f"q{entry['version']}": entry["options"][1]})
    assert response.status_code == HTTPStatus.CONFLICT
    assert _state(attempt) == before


@pytest.mark.django_db
@pytest.mark.parametrize("n_questions", [2, 5])
def test_a_knowledge_check_answer_reads_the_attempt_once_in_constant_queries(learner_client, learner, n_questions):
    """Checking one answer reads the attempt once (the service's lock), whatever the check's
    length, and says whether it closed the check without reading it again."""
    attempt = services.attempt_start(learner=learner, quiz=quiz_with_items(n_questions, kind=Quiz.Kind.CHECK))
    url = reverse("quizzes:attempt_check", args=[attempt.pk])
    counts = []
    for entry in attempt.layout:
        with CaptureQueriesContext(connection) as queries:
            response = learner_client.post(url, {"question": entry["version"], f"q{entry['version']}": entry["options"][0]})
        reads = [q["sql"] for q in queries if re.search(r'FROM "?quizzes_attempt"? ', q["sql"])]
        assert len(reads) == 1, reads
        counts.append(len(queries))
    # session, user; savepoint, lock, checked yet?, responses with choices, delete and insert
    # choices, key, the verdict (one update), the answered event; release. The last answer grades
    # the check: the same, with every verdict in the one update, and the attempt's result.
    *open_counts, last = counts
    assert set(open_counts) == {12}, counts
    assert last == 13, counts
    assert response.url == reverse("quizzes:attempt_result", args=[attempt.pk])


@pytest.mark.django_db
def test_a_bad_knowledge_check_answer_is_400_with_the_form_and_changes_nothing(learner_client, learner, other_learner):
    attempt = services.attempt_start(learner=learner, quiz=quiz_with_items(2, kind=Quiz.Kind.CHECK))
    one, two = attempt.layout
    url = reverse("quizzes:attempt_check", args=[attempt.pk])
    before = _state(attempt)
    for data, says in [
        ({"question": "first", f"q{one['version']}": one["options"][0]}, "Which question"),
        ({"question": one["version"], f"q{one['version']}": "abc"}, "must name one of"),
        ({"question": one["version"], f"q{one['version']}": two["options"][0]}, "does not belong"),
        ({"question": one["version"]}, "Choose an answer"),
    ]:
        response = learner_client.post(url, data)
        assert response.status_code == HTTPStatus.BAD_REQUEST, data
        html = response.content.decode()
        assert says in html, (data, html[-3000:])
        assert html.count(f'name="q{one["version"]}"') == 3, data  # the check's form again
    learner_client.force_login(other_learner)
    response = learner_client.post(url, {"question": one["version"], f"q{one['version']}": one["options"][0]})
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert _state(attempt) == before


def _without_csrf(content: bytes) -> bytes:
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]*"', b"", content)


@pytest.mark.django_db
@pytest.mark.parametrize("n_questions", [1, 5])
def test_attempt_page_query_count_is_constant(learner_client, learner, django_assert_num_queries, n_questions):
    """The attempt page runs the same queries for 1 question as for 5."""
    quiz = quiz_with_items(n_questions, confidence_enabled=True)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    url = reverse("quizzes:attempt_detail", args=[attempt.pk])
    with django_assert_num_queries(5):  # session, user, attempt+quiz, responses with choices, versions+options
        response = learner_client.get(url)
    assert response.status_code == HTTPStatus.OK
    # The second view reads the versions' stems and options from the per-process cache.
    with django_assert_num_queries(4):  # session, user, attempt+quiz, responses with choices
        again = learner_client.get(url)
    assert _without_csrf(again.content) == _without_csrf(response.content)
    assert again.content.count(b'name="q') == response.content.count(b'name="q') == 3 * n_questions


@pytest.mark.django_db
@pytest.mark.parametrize("n_questions", [1, 5])
def test_submit_query_count_is_constant(learner_client, learner, django_assert_num_queries, n_questions):
    """Submitting runs the same queries for 1 question as for 5."""
    quiz = quiz_with_items(n_questions)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    data = _post_answers(attempt, right=n_questions)
    # session, user; savepoint, lock (the attempt's one read), responses with their choices,
    # delete choices, insert choices; key (not graded in this process yet), answers and verdicts
    # (one update), attempt; outcome and answered events (one insert); release
    with django_assert_num_queries(12):
        response = learner_client.post(reverse("quizzes:attempt_detail", args=[attempt.pk]), data)
    assert response.status_code == HTTPStatus.FOUND


@pytest.mark.django_db
@pytest.mark.parametrize("n_attempts", [1, 3])
def test_dashboard_query_count_is_constant(learner_client, learner, django_assert_num_queries, n_attempts):
    """The dashboard runs the same queries for 1 attempt as for 3, and 1 question or many."""
    quiz = quiz_with_items(n_attempts * 2, attempt_limit=5)
    Quiz.objects.create(course=quiz.course, kind=Quiz.Kind.PRETEST, title="Pre")
    for _ in range(n_attempts):
        attempt = services.attempt_start(learner=learner, quiz=quiz)
        services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=[])
    with django_assert_num_queries(5):  # session, user, courses, quizzes with attempt stats, objectives with gains
        response = learner_client.get(reverse("quizzes:dashboard"))
    assert response.status_code == HTTPStatus.OK


@pytest.mark.django_db
def test_dashboard_shows_progress_attempts_best_score_and_gain(learner_client, learner):
    quiz = quiz_with_items(2, attempt_limit=3)
    pre = Quiz.objects.create(course=quiz.course, kind=Quiz.Kind.PRETEST, title="Pre", attempt_limit=1)
    for version in ItemVersion.objects.all():
        version.item.pools = ["pretest", "posttest"]
        version.item.save()
    pre_attempt = services.attempt_start(learner=learner, quiz=pre)
    services.attempt_submit(attempt_id=pre_attempt.pk, learner=learner, answers=[])
    first = services.attempt_start(learner=learner, quiz=quiz)
    services.attempt_submit(attempt_id=first.pk, learner=learner, answers=[])
    second = services.attempt_start(learner=learner, quiz=quiz)
    key = key_of(second)
    services.attempt_submit(
        attempt_id=second.pk, learner=learner,
        answers=[Answer(v, frozenset(k["correct"])) for v, k in key.items()],
    )
    html = learner_client.get(reverse("quizzes:dashboard")).content.decode()
    assert "Passed" in html
    assert "2 attempts of 3, best score 100%" in html
    assert "0% (0/2)" in html  # pre-test correctness for the objective
    assert "50% (2/4)" in html  # post-test correctness over both attempts
    assert "Complete 1 more lesson(s)." in html
    assert "<progress" in html


@pytest.mark.django_db
def test_the_dashboard_reads_scores_and_times_as_the_models_do(learner):
    """Its SQL is written out: a score is still an exact Decimal (SQLite returns a float) and
    the first pass an aware time (SQLite returns text), on both databases."""
    quiz = quiz_with_items(3, attempt_limit=3, pass_mark=60)
    first = services.attempt_start(learner=learner, quiz=quiz)
    services.attempt_submit(attempt_id=first.pk, learner=learner, answers=[])  # 0 of 3
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    key = key_of(attempt)
    answers = [Answer(v, frozenset(k["correct"] if i else {min(k["wrong"])})) for i, (v, k) in enumerate(key.items())]
    services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=answers)  # 2 of 3
    [board] = selectors.learner_dashboard_get(learner=learner)
    graded = Attempt.objects.get(pk=attempt.pk)
    assert graded.score == Decimal("66.67") and graded.passed
    assert board.posttest.best_score == Decimal("66.67") and isinstance(board.posttest.best_score, Decimal)
    assert board.posttest.passed_at == graded.submitted_at and board.posttest.passed_at.tzinfo is not None
    assert board.recheck_opens_at == graded.submitted_at + dt.timedelta(days=quiz.recheck_days)
    assert (board.posttest.attempts, board.posttest.passed, board.posttest.completed) == (2, True, True)
    assert [(g.post_total, g.post_correct, g.pre_total) for g in board.objectives] == [(6, 2, 0)]
    assert [(g.pre_cell, g.post_cell) for g in board.objectives] == [("—", "33% (2/6)")]  # no pre-test taken


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_dashboard_is_planned_once_per_connection_not_per_request(learner_client, learner):
    """Its three statements are prepared after five runs (settings.py), and PostgreSQL keeps one
    plan for each instead of planning each request again. (The objectives query was planned on
    every request at 10,000 learners while it sent the quiz kinds as parameters; these tiny
    tables do not show that, so the next test pins what it sends.)"""
    quiz = quiz_with_items(2, attempt_limit=3)
    Quiz.objects.create(course=quiz.course, kind=Quiz.Kind.PRETEST, title="Pre")
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=[])
    for _ in range(10):
        assert learner_client.get(reverse("quizzes:dashboard")).status_code == HTTPStatus.OK
    before = {part: plans_of(part) for part in ("FROM curriculum_course course", "FROM quizzes_quiz quiz",
                                                "FROM curriculum_objective objective")}
    for _ in range(10):
        assert learner_client.get(reverse("quizzes:dashboard")).status_code == HTTPStatus.OK
    assert {part: plans_of(part) for part in before} == {
        part: (generic + 10, custom) for part, (generic, custom) in before.items()
    }


@pytest.mark.django_db
def test_the_dashboard_sends_only_the_learner_and_course_ids_as_parameters(learner):
    """Everything else in its SQL is fixed text. With the quiz kinds sent as parameters,
    PostgreSQL judged a kept plan for the objectives query dearer than a fresh one (at 10,000
    learners) and planned it on every request: 1.2 ms, twice its run time."""
    quiz = quiz_with_items(1)
    params = []

    def capture(execute, sql, sent, many, context):
        params.append(tuple(sent))
        return execute(sql, sent, many, context)

    with connection.execute_wrapper(capture):
        selectors.learner_dashboard_get(learner=learner)
    course = quiz.course_id
    assert params == [(learner.pk,), (learner.pk, course), (learner.pk, course, course)]


@pytest.mark.django_db
def test_dashboard_links_each_quiz_and_escapes_objective_text(learner_client, learner):
    quiz = quiz_with_items(1)
    Quiz.objects.create(course=quiz.course, kind=Quiz.Kind.PRETEST, title="Pre", attempt_limit=1)
    Objective.objects.filter(course=quiz.course).update(key="L<1>", text='Tell <b>A</b> & "B" apart')
    html = learner_client.get(reverse("quizzes:dashboard")).content.decode()
    slug = quiz.course.slug
    assert f'<a href="{reverse("curriculum:course_detail", args=[slug])}">{quiz.course.title}</a>' in html
    assert f'<a href="{reverse("quizzes:quiz_detail", args=[slug, "pretest"])}">Not taken</a>' in html
    assert f'<a href="{reverse("quizzes:quiz_detail", args=[slug, "posttest"])}">Not taken</a>' in html
    assert '<tr><th scope="row">L&lt;1&gt;: Tell &lt;b&gt;A&lt;/b&gt; &amp; &quot;B&quot; apart</th><td>—</td><td>—</td></tr>' in html
    assert "<b>A</b>" not in html


@pytest.mark.django_db
def test_dashboard_lists_knowledge_checks_by_lesson_title_and_link(learner_client, learner):
    check = quiz_with_items(1, kind=Quiz.Kind.CHECK)
    lesson = check.lesson
    html = learner_client.get(reverse("quizzes:dashboard")).content.decode()
    link = reverse("quizzes:check_detail", args=[check.course.slug, lesson.slug])
    assert f'<a href="{link}">{lesson.title}</a>: not started' in html


@pytest.mark.django_db
def test_dashboard_counts_only_the_learners_own_attempts(learner_client, learner, other_learner):
    """The attempt statistics join only this learner's attempts: another learner's passes are not shown."""
    quiz = quiz_with_items(2, attempt_limit=3)
    failed = services.attempt_start(learner=other_learner, quiz=quiz)
    services.attempt_submit(attempt_id=failed.pk, learner=other_learner, answers=[])
    passed = services.attempt_start(learner=other_learner, quiz=quiz)
    services.attempt_submit(
        attempt_id=passed.pk, learner=other_learner,
        answers=[Answer(v, frozenset(k["correct"])) for v, k in key_of(passed).items()],
    )
    html = learner_client.get(reverse("quizzes:dashboard")).content.decode()
    assert "Not taken" in html
    assert "Passed" not in html and "attempts of 3" not in html
    mine = services.attempt_start(learner=learner, quiz=quiz)
    services.attempt_submit(attempt_id=mine.pk, learner=learner, answers=[])
    html = learner_client.get(reverse("quizzes:dashboard")).content.decode()
    assert "Not passed yet</a>: 1 attempt of 3, best score 0%" in html


@pytest.mark.django_db
def test_dashboard_and_recheck_page_show_when_the_recheck_opens(learner_client, learner):
    quiz = quiz_with_items(1, recheck_days=14)
    Quiz.objects.create(course=quiz.course, kind=Quiz.Kind.RECHECK, title="Re-check", attempt_limit=1)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    entry = attempt.layout[0]
    services.attempt_submit(
        attempt_id=attempt.pk, learner=learner,
        answers=[Answer(entry["version"], frozenset(key_of(attempt)[entry["version"]]["correct"]))],
    )
    html = learner_client.get(reverse("quizzes:dashboard")).content.decode()
    assert "Spaced re-check" in html and "Opens" in html
    page = learner_client.get(reverse("quizzes:quiz_detail", args=[quiz.course.slug, "recheck"])).content.decode()
    assert "The re-check is not open yet." in page
    assert "Start</button>" not in page


@pytest.mark.django_db
@pytest.mark.parametrize("n_questions", [1, 5])
def test_knowledge_check_page_query_count_is_constant(
    learner_client, learner, django_assert_num_queries, n_questions
):
    """A check page with feedback on a checked question runs the same queries for 1 question as for 5."""
    quiz = quiz_with_items(n_questions + 1, kind=Quiz.Kind.CHECK)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    entry = attempt.layout[0]
    services.attempt_answer_check(
        attempt_id=attempt.pk, learner=learner, answer=Answer(entry["version"], frozenset({entry["options"][0]}))
    )
    with django_assert_num_queries(6):  # session, user, attempt+quiz, responses with choices, options, feedback
        response = learner_client.get(reverse("quizzes:attempt_detail", args=[attempt.pk]))
    assert response.status_code == HTTPStatus.OK


@pytest.mark.django_db
@pytest.mark.parametrize("n_questions", [1, 5])
def test_start_query_count_is_constant(learner, django_assert_num_queries, n_questions):
    """Starting an attempt runs the same queries for 1 question as for 5."""
    quiz = quiz_with_items(n_questions)
    # savepoint, lock learner, earlier attempts, pool, options, savepoint, insert, release,
    # responses, release
    with django_assert_num_queries(10):
        services.attempt_start(learner=learner, quiz=quiz)


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["²", "-1", "9" * 40])
def test_odd_option_values_are_400_and_change_nothing(learner_client, learner, value):
    attempt = services.attempt_start(learner=learner, quiz=quiz_with_items(1))
    before = _state(attempt)
    response = learner_client.post(
        reverse("quizzes:attempt_detail", args=[attempt.pk]), {"action": "save", f"q{attempt.layout[0]['version']}": value}
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert _state(attempt) == before


@pytest.mark.django_db
def test_interaction_item_feedback_links_to_its_table_row(learner_client, tmp_path):
    """Vignette and table never disagree: the feedback points at the row the item is built on."""
    from io import StringIO

    from django.core.management import call_command

    from tests.curriculum.coursedir import write_course

    write_course(tmp_path)
    call_command("load_curriculum", content_dir=str(tmp_path), stdout=StringIO())
    learner_client.post(reverse("quizzes:check_start", args=["test-course", "first"]))
    attempt = Attempt.objects.get()
    (entry,) = attempt.layout  # the fixture's one check item, built on row "row-one"
    before = learner_client.get(reverse("quizzes:attempt_detail", args=[attempt.pk])).content.decode()
    assert "/interactions/#row-one" not in before  # nothing is revealed before the answer
    response = learner_client.post(
        reverse("quizzes:attempt_check", args=[attempt.pk]),
        {"question": entry["version"], f"q{entry['version']}": entry["options"][0]},
        follow=True,  # the last question closes the check and shows its review
    )
    assert 'href="/courses/test-course/interactions/#row-one"' in response.content.decode()


def _pretest_of(post):
    pre = Quiz.objects.create(course=post.course, kind=Quiz.Kind.PRETEST, title="Pre", attempt_limit=1)
    for version in ItemVersion.objects.filter(item__course=post.course):
        version.item.pools = ["pretest", "posttest"]
        version.item.save(update_fields=["pools"])
    return pre


@pytest.mark.django_db
def test_pretest_page_shows_why_it_is_closed_instead_of_start_once_the_posttest_started(learner_client, learner):
    post = quiz_with_items(2)
    pre = _pretest_of(post)
    url = reverse("quizzes:quiz_detail", args=[post.course.slug, "pretest"])
    start_url = reverse("quizzes:quiz_start", args=[post.course.slug, "pretest"])
    assert start_url in learner_client.get(url).content.decode()  # open before the post-test
    services.attempt_start(learner=learner, quiz=pre)  # an open pre-test attempt...
    services.attempt_start(learner=learner, quiz=post)  # ...then the post-test starts
    html = learner_client.get(url).content.decode()
    assert 'data-code="pretest_closed"' in html and "you have started the post-test" in html
    assert start_url not in html and "Resume attempt" not in html
    response = learner_client.post(start_url)
    assert response.status_code == HTTPStatus.CONFLICT
    assert "you have started the post-test" in response.content.decode()
    assert Attempt.objects.filter(quiz=pre).count() == 1


@pytest.mark.django_db
def test_open_pretest_attempt_page_is_closed_once_the_posttest_started(learner_client, learner):
    post = quiz_with_items(2)
    attempt = services.attempt_start(learner=learner, quiz=_pretest_of(post))
    url = reverse("quizzes:attempt_detail", args=[attempt.pk])
    assert learner_client.get(url).status_code == HTTPStatus.OK  # open before the post-test
    services.attempt_start(learner=learner, quiz=post)
    response = learner_client.get(url)
    html = response.content.decode()
    assert response.status_code == HTTPStatus.CONFLICT
    assert 'data-code="pretest_closed"' in html and "you have started the post-test" in html
    assert reverse("curriculum:course_detail", args=[post.course.slug]) in html
    assert reverse("quizzes:attempt_result", args=[attempt.pk]) not in html  # there is no result
    entry = attempt.layout[0]
    response = learner_client.post(url, {"action": "submit", f"q{entry['version']}": entry["options"][0]})
    assert response.status_code == HTTPStatus.CONFLICT and 'data-code="pretest_closed"' in response.content.decode()
    assert Attempt.objects.get(pk=attempt.pk).submitted_at is None


@pytest.mark.django_db
@pytest.mark.parametrize("posttest_started", [False, True])
def test_pretest_page_query_count_does_not_depend_on_the_posttest(
    learner_client, learner, django_assert_num_queries, posttest_started
):
    post = quiz_with_items(2)
    _pretest_of(post)
    if posttest_started:
        services.attempt_start(learner=learner, quiz=post)
    with django_assert_num_queries(5):  # session, user, quiz, attempts, post-test started
        learner_client.get(reverse("quizzes:quiz_detail", args=[post.course.slug, "pretest"]))
