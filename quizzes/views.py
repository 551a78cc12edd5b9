"""Quiz pages: quiz start, attempt form, knowledge-check feedback, result and
review, the learner dashboard, and the staff item analysis (page and CSV).

Views parse, call one selector or service, and render. Every page works
without JavaScript: an attempt is one form with "Save and finish later" and
"Submit" buttons; a knowledge check is one small form per question. With it,
the attempt page also saves each answer as it is chosen, through the API
(static/js/quiz-autosave.js). Invalid
answers get a 400 and a closed attempt a 409, and neither changes anything
(the services validate before writing).
"""

from __future__ import annotations

import csv
from http import HTTPStatus

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from curriculum.links import url
from curriculum.models import Course
from quizzes import analysis, grading, selectors, services
from quizzes.models import Attempt, Quiz

_URL_KINDS = {"pretest": Quiz.Kind.PRETEST, "posttest": Quiz.Kind.POSTTEST, "recheck": Quiz.Kind.RECHECK}


def _quiz_or_404(course_slug: str, kind: str, lesson_slug: str | None = None) -> Quiz:
    try:
        return selectors.quiz_get(course_slug=course_slug, kind=kind, lesson_slug=lesson_slug)
    except Quiz.DoesNotExist:
        raise Http404("No such quiz.") from None


def _attempt_or_404(request, pk: int) -> Attempt:
    try:
        return selectors.attempt_get(attempt_id=pk, learner=request.user)
    except Attempt.DoesNotExist:
        raise Http404("No such attempt.") from None


def _quiz_page(request, quiz: Quiz, *, status: int = HTTPStatus.OK, error: str = ""):
    attempts = selectors.quiz_attempts_list(quiz=quiz, learner=request.user)
    return render(
        request,
        "quizzes/quiz_detail.html",
        {
            "quiz": quiz,
            "course": quiz.course,
            "attempts": attempts,
            "open_attempt": next((a for a in attempts if a.submitted_at is None), None),
            "availability": selectors.quiz_availability(quiz=quiz, attempts=attempts, learner=request.user),
            "rules_text": grading.RULES_TEXT,
            "error": error,
        },
        status=status,
    )


@login_required
def quiz_detail(request, course_slug: str, kind: str):
    if kind not in _URL_KINDS:
        raise Http404("No such quiz.")
    return _quiz_page(request, _quiz_or_404(course_slug, _URL_KINDS[kind]))


@login_required
def check_detail(request, course_slug: str, lesson_slug: str):
    return _quiz_page(request, _quiz_or_404(course_slug, Quiz.Kind.CHECK, lesson_slug))


def _start(request, quiz: Quiz):
    try:
        attempt = services.attempt_start(learner=request.user, quiz=quiz)
    except services.AttemptNotAllowed as exc:
        return _quiz_page(request, quiz, status=HTTPStatus.CONFLICT, error=exc.message)
    return redirect("quizzes:attempt_detail", attempt.pk)


@require_POST
@login_required
def quiz_start(request, course_slug: str, kind: str):
    if kind not in _URL_KINDS:
        raise Http404("No such quiz.")
    return _start(request, _quiz_or_404(course_slug, _URL_KINDS[kind]))


@require_POST
@login_required
def check_start(request, course_slug: str, lesson_slug: str):
    return _start(request, _quiz_or_404(course_slug, Quiz.Kind.CHECK, lesson_slug))


def _is_id(value: str) -> bool:
    return value.isascii() and value.isdigit() and len(value) <= 18


def _answers_parse(post, attempt: Attempt) -> list[grading.Answer]:
    """Answers from form fields q<version>=<option id> and c<version>=sure|unsure.

    Every question of the form is included (a question with nothing ticked is
    cleared); a field naming a question outside the attempt is kept so the
    service rejects it. Raises ValidationError for values that are not ids.
    """
    layout_ids = [entry["version"] for entry in attempt.layout]
    named = set()
    for name in post:
        if name[:1] in ("q", "c") and _is_id(name[1:]):
            named.add(int(name[1:]))
    return [_answer_parse(post, version_id) for version_id in layout_ids + sorted(named - set(layout_ids))]


def _answer_parse(post, version_id: int) -> grading.Answer:
    """One question's answer from the form (see `_answers_parse`); needs no attempt."""
    values = post.getlist(f"q{version_id}")
    if not all(_is_id(v) for v in values):
        raise ValidationError("An answer must name one of the question's options.")
    return grading.Answer(version_id, frozenset(int(v) for v in values), post.get(f"c{version_id}", ""))


def _options_html(question: selectors.QuestionView) -> str:
    """A question's option inputs as one string: the attempt page's ~100 options cost one template
    node each instead of eight. Ids are integers; option texts are sanitised HTML from the loader
    (the template marked them safe too)."""
    kind = "checkbox" if question.is_multiple else "radio"
    name = f"q{question.version_id}"
    # Integers, a fixed input type and option HTML sanitised by nh3 when the item was loaded
    # (curriculum/markdown.py), which the template trusted with |safe before: nothing else enters.
    return mark_safe(  # noqa: S308  # nosec B308 B703
        "".join(
            f'<li><input type="{kind}" name="{name}" id="o{o.id}" value="{o.id}"{" checked" if o.chosen else ""}>'
            f' <label for="o{o.id}">{o.text_html}</label></li>\n'
            for o in question.options
        )
    )


def _confidence_html(question: selectors.QuestionView) -> str:
    """The optional "how sure are you?" radios (quizzes with confidence enabled)."""
    v = question.version_id
    sure = " checked" if question.confidence == "sure" else ""
    unsure = " checked" if question.confidence == "unsure" else ""
    return (
        '<fieldset class="confidence">\n<legend>How sure are you? (optional)</legend>\n'
        f'<input type="radio" name="c{v}" id="c{v}-sure" value="sure"{sure}>\n'
        f'<label for="c{v}-sure">Sure</label>\n'
        f'<input type="radio" name="c{v}" id="c{v}-unsure" value="unsure"{unsure}>\n'
        f'<label for="c{v}-unsure">Not sure</label>\n</fieldset>\n'
    )


def _questions_html(questions: list[selectors.QuestionView], *, confidence: bool) -> str:
    """The attempt form's questions as one string, built here rather than by a template loop:
    twenty questions of five options cost the page's template about 0.8 ms a request (3.1 ms
    to 2.3 ms in process, session 17), as much as all its queries. The same rule as
    `_options_html`: integers, fixed text, and stems and options sanitised at load; nothing a
    learner typed enters."""
    total = len(questions)
    parts = []
    for q in questions:
        select_all = " (select all that apply)" if q.is_multiple else ""
        parts.append(
            f'<fieldset class="question" id="q{q.version_id}">\n'
            f"<legend>Question {q.position} of {total}{select_all}</legend>\n"
            f'<div class="stem">{q.stem_html}</div>\n'
            f'<ul class="options">\n{_options_html(q)}</ul>\n'
            f"{_confidence_html(q) if confidence else ''}"
            "</fieldset>\n"
        )
    return mark_safe("".join(parts))  # noqa: S308  # nosec B308 B703


def _attempt_page(request, attempt: Attempt, *, status: int = HTTPStatus.OK, errors=()):
    questions = selectors.attempt_questions_get(attempt=attempt)
    if attempt.quiz.kind == Quiz.Kind.CHECK:
        template, questions_html = "quizzes/check_form.html", None
    else:
        template, questions_html = "quizzes/attempt_form.html", _questions_html(
            questions, confidence=attempt.quiz.confidence_enabled
        )
    return render(
        request,
        template,
        {
            "attempt": attempt,
            "quiz": attempt.quiz,
            "course": attempt.quiz.course,
            "questions": questions,
            "questions_html": questions_html,
            "total": len(questions),
            "answered": sum(1 for q in questions if q.answered),
            "rules_text": grading.RULES_TEXT,
            "errors": list(errors),
        },
        status=status,
    )


def _closed_page(request, attempt: Attempt, refusal: services.AttemptClosed):
    """409: the attempt can no longer change (submitted, or a pre-test closed by the post-test)."""
    return render(
        request,
        "quizzes/attempt_closed.html",
        {
            "attempt": attempt, "quiz": attempt.quiz, "course": attempt.quiz.course,
            "message": refusal.message, "code": refusal.code,
        },
        status=HTTPStatus.CONFLICT,
    )


@login_required
def attempt_detail(request, pk: int):
    """GET: the open attempt's form. POST: save (action=save) or submit (action=submit)."""
    if request.method == "POST" and request.POST.get("action") == "submit":
        return _attempt_submit(request, pk)
    attempt = _attempt_or_404(request, pk)
    if request.method != "POST":
        if not attempt.is_open:
            return redirect("quizzes:attempt_result", attempt.pk)
        if selectors.pretest_attempt_closed(attempt=attempt, learner=request.user):
            closed = services.AttemptClosed(selectors.PRETEST_CLOSED_MESSAGE, code="pretest_closed")
            return _closed_page(request, attempt, closed)
        return _attempt_page(request, attempt)
    if request.POST.get("action") != "save":
        return _attempt_page(request, attempt, status=HTTPStatus.BAD_REQUEST, errors=["Unknown action."])
    try:
        answers = _answers_parse(request.POST, attempt)
        services.attempt_save_answers(attempt_id=attempt.pk, learner=request.user, answers=answers)
    except ValidationError as exc:
        return _attempt_page(request, attempt, status=HTTPStatus.BAD_REQUEST, errors=exc.messages)
    except services.AttemptClosed as exc:
        return _closed_page(request, attempt, exc)
    messages.success(request, "Your answers are saved. You can come back and finish later.")
    return redirect("quizzes:attempt_detail", attempt.pk)


def _refused_page(request, pk: int, refusal: ValidationError | services.AttemptClosed):
    """The page for a submission or check the service refused: the form again with the errors
    (400), or why the attempt is closed (409). The service read the attempt as it locked it; this
    reads it again, which only a refusal costs."""
    attempt = _attempt_or_404(request, pk)
    if isinstance(refusal, services.AttemptClosed):
        return _closed_page(request, attempt, refusal)
    return _attempt_page(request, attempt, status=HTTPStatus.BAD_REQUEST, errors=refusal.messages)


def _attempt_submit(request, pk: int):
    """Submit and grade. The service reads the attempt as it locks it and parses the form against
    it, so a submission reads the attempt once (issue #8)."""
    try:
        services.attempt_submit(
            attempt_id=pk, learner=request.user, answers_from=lambda attempt: _answers_parse(request.POST, attempt)
        )
    except Attempt.DoesNotExist:
        raise Http404("No such attempt.") from None
    except (ValidationError, services.AttemptClosed) as exc:
        return _refused_page(request, pk, exc)
    # A repeated submit lands here too and shows the first submit's result.
    return redirect("quizzes:attempt_result", pk)


@require_POST
@login_required
def attempt_check(request, pk: int):
    """Knowledge check: check one question's answer and show its feedback at once.

    One answer needs no attempt to parse, so the attempt is read once, by the service as it locks
    it, which also says whether this answer closed the check (issue #8: a check read it three
    times)."""
    question = request.POST.get("question", "")
    try:
        if not _is_id(question):
            raise ValidationError("Which question is this answer for?")
        answer = _answer_parse(request.POST, int(question))
        attempt = services.attempt_answer_check(attempt_id=pk, learner=request.user, answer=answer)
    except Attempt.DoesNotExist:
        raise Http404("No such attempt.") from None
    except (ValidationError, services.AttemptClosed) as exc:
        return _refused_page(request, pk, exc)
    if not attempt.is_open:
        return redirect("quizzes:attempt_result", pk)
    return redirect(reverse("quizzes:attempt_detail", args=[pk]) + f"#q{question}")


@login_required
def attempt_result(request, pk: int):
    attempt = _attempt_or_404(request, pk)
    if attempt.is_open:
        return redirect("quizzes:attempt_detail", attempt.pk)
    review = selectors.attempt_review_get(attempt=attempt, learner=request.user)
    return render(
        request,
        "quizzes/attempt_result.html",
        {"attempt": attempt, "quiz": attempt.quiz, "course": attempt.quiz.course, "review": review},
    )


@login_required
def dashboard(request):
    boards = selectors.learner_dashboard_get(learner=request.user)
    for board in boards:
        slug = board.course.slug
        board.urls = {
            "course": url("curriculum:course_detail", slug),
            **{kind: url("quizzes:quiz_detail", slug, kind) for kind in ("pretest", "posttest", "recheck")},
        }
        for check in board.checks:
            check.url = url("quizzes:check_detail", slug, check.quiz.lesson_slug)
        board.gain_rows = _gain_rows_html(board.objectives)
    return render(request, "quizzes/dashboard.html", {"boards": boards})


def _gain_rows_html(gains: list[selectors.ObjectiveGain]) -> str:
    """The dashboard's gain table body: one row an objective (about twenty a course), each
    value escaped by `format_html_join`, for a tenth of a template loop's cost."""
    return format_html_join(
        "\n",
        '<tr><th scope="row">{}: {}</th><td>{}</td><td>{}</td></tr>',
        ((g.objective["key"], g.objective["text"], g.pre_cell, g.post_cell) for g in gains),
    )


# --- staff: item analysis ---------------------------------------------------------------


class _Echo:
    """A write-only buffer: csv.writer hands each row straight to the streaming response."""

    def write(self, value: str) -> str:
        return value


def _analysis_args(request, pk: int):
    try:
        quiz = Quiz.objects.select_related("course", "lesson").get(pk=pk)
    except Quiz.DoesNotExist:
        raise Http404("No such quiz.") from None
    first_only = request.GET.get("attempts") != "all"
    return quiz, first_only, selectors.item_analysis_get(quiz=quiz, first_attempts_only=first_only)


@staff_member_required
def staff_quiz_list(request):
    return render(request, "quizzes/staff_quiz_list.html", {"quizzes": selectors.staff_quiz_list()})


@staff_member_required
def item_analysis(request, pk: int):
    quiz, first_only, rows = _analysis_args(request, pk)
    for row in rows:
        row.bars = [
            {"option": o, "y": index * 22, "width": round(240 * o.share), "percent": round(100 * o.share)}
            for index, o in enumerate(row.stat.options)
        ]
        row.height = 22 * len(row.stat.options)
    return render(
        request,
        "quizzes/staff_item_analysis.html",
        {"quiz": quiz, "rows": rows, "first_only": first_only, "min_responses": analysis.MIN_RESPONSES},
    )


@staff_member_required
def item_analysis_csv(request, pk: int):
    quiz, first_only, rows = _analysis_args(request, pk)

    def lines():
        writer = csv.writer(_Echo())
        yield writer.writerow(
            ["item", "version", "objective", "type", "difficulty", "responses", "facility",
             "discrimination", "options (label:correct:chosen)", "verdict", "flags"]
        )
        for row in rows:
            stat, version = row.stat, row.version
            yield writer.writerow([
                version.item.key,
                version.number,
                version.objective.key,
                version.type,
                version.difficulty,
                stat.n,
                "" if stat.facility is None else f"{stat.facility:.3f}",
                "" if stat.discrimination is None else f"{stat.discrimination:.3f}",
                " ".join(f"{o.label}:{'Y' if o.is_correct else 'N'}:{o.chosen}" for o in stat.options),
                "flagged" if stat.flags else ("ok" if stat.enough else "too few responses"),
                "; ".join(stat.flags),
            ])

    name = f"item-analysis-{quiz.course.slug}-{quiz.kind}-{quiz.pk}{'' if first_only else '-all'}.csv"
    return StreamingHttpResponse(
        lines(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@staff_member_required
def myth_report(request, course_slug: str):
    try:
        course = Course.objects.get(slug=course_slug)
    except Course.DoesNotExist:
        raise Http404("No such course.") from None
    return render(
        request,
        "quizzes/staff_myth_report.html",
        {"course": course, "rows": selectors.myth_endorsement_list(course=course)},
    )
