"""API v1 for signed-in learners taking a quiz: quiz info, start, questions, save, submit, result, review.

Every write calls the one service the quiz pages call (`quizzes.services`):
`attempt_start` (resumes an open attempt), `attempt_save_answers` and
`attempt_submit` (graded exactly once; a repeat returns the stored result).
Reads call `quizzes.selectors`. The serializers of an open attempt list
their fields and carry no correctness data (no `is_correct`, rationale or
key); only `AttemptReviewApi`'s serializer does, and only when the quiz's
review rule allows (`attempt_review_get`). tests/lms/test_api_attempts.py
scans every learner response and the schema for leaks.

Errors: an attempt of another learner is a 404 (its existence does not
leak). The quizzes' refusals (AttemptClosed, AttemptNotAllowed) are 409s
whose `error.code` is the `code` the exception carries, unchanged
(base.py's handler; the codes and their meaning are
quizzes.services.REFUSAL_CODES, listed per operation in the schema by
`refusals()`): no message text is ever parsed. Invalid answers are a 400
with `fields.answers`, and nothing is written. The knowledge-check
endpoints live in checks.py.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from lms.api.v1.base import ApiPolicy, ErrorSerializer
from quizzes import grading
from quizzes import selectors as quiz_selectors
from quizzes import services as quiz_services
from quizzes.models import Attempt, Quiz
from quizzes.models import Response as QuizResponse

# The learner-facing quizzes of a course; knowledge checks belong to a lesson,
# and are found, started and checked through checks.py.
QUIZ_KINDS = (Quiz.Kind.PRETEST, Quiz.Kind.POSTTEST, Quiz.Kind.RECHECK)
MAX_DB_INT = 2**31 - 1  # ids above this cannot exist; asking the database would overflow on SQLite

KIND_PARAMETER = OpenApiParameter(
    "kind", OpenApiTypes.STR, OpenApiParameter.PATH, enum=[str(k) for k in QUIZ_KINDS], description="The quiz."
)
ATTEMPT_PARAMETER = OpenApiParameter("attempt_id", OpenApiTypes.INT, OpenApiParameter.PATH)


class AttemptOpen(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "attempt_open"
    default_detail = "This attempt is still open: submit it to see its result."


class ReviewNotAllowed(exceptions.APIException):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "review_not_allowed"
    default_detail = (
        "The answers to this quiz are not shown yet: its review rule opens them after you pass "
        "or use your last attempt (or never, for a pre-test)."
    )


# The refusals each operation can answer with (documented per operation, from one table).
START_REFUSALS = (
    "attempt_limit_reached", "wait_required", "already_passed", "quiz_empty", "recheck_not_open",
    "nothing_to_recheck", "pretest_closed",
)


def refusals(*codes: str, status: int = 409, also: tuple[str, ...] = ()) -> OpenApiResponse:
    """An error response documented with the refusal codes it may carry and what each means."""
    lines = "\n".join([*also, *(f"- `{code}`: {quiz_services.REFUSAL_CODES[code]}" for code in codes)])
    lead = "Refused; nothing was changed." if status == 409 else "Not accepted; nothing was changed."
    return OpenApiResponse(ErrorSerializer, description=f"{lead} `error.code` is one of:\n\n{lines}")


def _quiz(course_slug: str, kind: str) -> Quiz:
    if kind not in QUIZ_KINDS:
        raise Quiz.DoesNotExist  # a 404, like an unknown course
    return quiz_selectors.quiz_get(course_slug=course_slug, kind=kind)


def _attempt(request, attempt_id: int) -> Attempt:
    """The signed-in learner's attempt; anyone else's, or an id past any row's, is a 404. One query."""
    return quiz_selectors.attempt_get(attempt_id=attempt_id, learner=request.user)


def _answers(data: dict) -> list[grading.Answer]:
    return [
        grading.Answer(a["question"], frozenset(a["options"]), a.get("confidence", "")) for a in data.get("answers", [])
    ]


def _answers_invalid(exc: DjangoValidationError) -> exceptions.ValidationError:
    """quizzes' answer problems (a list of sentences) as a 400 on the `answers` field."""
    return exceptions.ValidationError({"answers": exc.messages})


# --- serializers: nothing here knows the answer key --------------------------------------


class AnswerInputSerializer(serializers.Serializer):
    question = serializers.IntegerField(min_value=1, max_value=MAX_DB_INT, help_text="The question's `id`.")
    options = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_DB_INT),
        max_length=20,
        help_text="The chosen option ids; empty clears the answer. Single-answer questions take one.",
    )
    confidence = serializers.ChoiceField(
        choices=["", *QuizResponse.Confidence.values],
        required=False,
        default="",
        help_text="Only where the quiz asks for it (confidence_enabled); ignored otherwise.",
    )


class AnswersInputSerializer(serializers.Serializer):
    answers = AnswerInputSerializer(many=True, max_length=500)


class AttemptSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    course = serializers.SlugField(source="quiz.course.slug")
    kind = serializers.ChoiceField(source="quiz.kind", choices=Quiz.Kind.choices, help_text="The quiz.")
    number = serializers.IntegerField(help_text="1 for the first attempt.")
    started_at = serializers.DateTimeField()
    saved_at = serializers.DateTimeField(allow_null=True)
    submitted_at = serializers.DateTimeField(allow_null=True)
    question_count = serializers.IntegerField()


class QuestionOptionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text_html = serializers.CharField(help_text="Sanitised HTML.")
    chosen = serializers.BooleanField(help_text="Chosen in the learner's saved answer.")


class QuestionSerializer(serializers.Serializer):
    """One question of an open attempt, as shown: no key, no rationale."""

    id = serializers.IntegerField(source="version_id", help_text="Name it as `question` in answers.")
    position = serializers.IntegerField()
    type = serializers.ChoiceField(choices=["single", "multiple", "truefalse"])
    stem_html = serializers.CharField(help_text="Sanitised HTML.")
    options = QuestionOptionSerializer(many=True, help_text="In this attempt's shuffled order.")
    confidence = serializers.CharField(allow_blank=True, help_text="sure, unsure or blank.")


class AttemptResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.IntegerField()
    submitted_at = serializers.DateTimeField()
    score = serializers.DecimalField(max_digits=5, decimal_places=2, help_text="Percent correct.")
    passed = serializers.BooleanField()
    correct_count = serializers.IntegerField()
    question_count = serializers.IntegerField()


# --- quiz info and start ----------------------------------------------------------------


class QuizDetailApi(ApiPolicy, APIView):
    """A quiz of a course as the learner sees it: rules, attempts used, best score, whether they may start."""

    session_allowed = True

    class OutputSerializer(serializers.Serializer):
        course = serializers.SlugField(source="quiz.course.slug")
        kind = serializers.ChoiceField(source="quiz.kind", choices=Quiz.Kind.choices)
        title = serializers.CharField(source="quiz.title")
        pass_mark = serializers.IntegerField(source="quiz.pass_mark", help_text="Percent correct needed to pass.")
        attempt_limit = serializers.IntegerField(source="quiz.attempt_limit", allow_null=True)
        wait_minutes = serializers.IntegerField(source="quiz.wait_minutes")
        question_count = serializers.IntegerField(source="quiz.question_count", allow_null=True)
        confidence_enabled = serializers.BooleanField(source="quiz.confidence_enabled")
        review_rule = serializers.ChoiceField(source="quiz.review_rule", choices=Quiz.ReviewRule.choices)
        scoring_rules = serializers.CharField()
        attempts_used = serializers.IntegerField()
        best_score = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
        passed = serializers.BooleanField()
        open_attempt = serializers.IntegerField(allow_null=True, help_text="The open attempt's id, to resume.")
        can_start = serializers.BooleanField(help_text="Whether POST …/attempts/ would start or resume now.")
        unavailable_reason = serializers.CharField(allow_blank=True, help_text="For people; may be reworded.")
        unavailable_code = serializers.CharField(
            allow_blank=True,
            help_text="Why not, for machines (blank when can_start): the code POST …/attempts/ would refuse with.",
        )
        available_at = serializers.DateTimeField(allow_null=True, help_text="When waiting is the only obstacle.")

    @extend_schema(parameters=[KIND_PARAMETER], responses=OutputSerializer, operation_id="quiz_retrieve")
    def get(self, request, course_slug: str, kind: str) -> Response:
        quiz = _quiz(course_slug, kind)  # one query
        return Response(self.OutputSerializer(quiz_view(request, quiz)).data)


def quiz_view(request, quiz: Quiz) -> dict:
    """The learner's view of a quiz for QuizDetailApi.OutputSerializer. One query (two for a pre-test or re-check)."""
    attempts = quiz_selectors.quiz_attempts_list(quiz=quiz, learner=request.user)  # one
    availability = quiz_selectors.quiz_availability(quiz=quiz, attempts=attempts, learner=request.user)
    scores = [a.score for a in attempts if a.score is not None]
    open_attempt = next((a.pk for a in attempts if a.submitted_at is None), None)
    return {
        "quiz": quiz,
        "scoring_rules": grading.RULES_TEXT,
        "attempts_used": len(attempts),
        "best_score": max(scores) if scores else None,
        "passed": any(a.passed for a in attempts),
        "open_attempt": open_attempt if availability.allowed else None,
        "can_start": availability.allowed,
        "unavailable_reason": availability.reason,
        "unavailable_code": availability.code,
        "available_at": availability.available_at,
    }


class AttemptStartApi(ApiPolicy, APIView):
    """Start an attempt, or resume the open one (two tabs or a retry get the same attempt)."""

    session_allowed = True

    @extend_schema(
        parameters=[KIND_PARAMETER],
        request=None,
        responses={
            201: OpenApiResponse(AttemptSummarySerializer, description="A new attempt was started."),
            200: OpenApiResponse(AttemptSummarySerializer, description="The open attempt, resumed."),
            409: refusals(*START_REFUSALS),
        },
        operation_id="attempt_start",
    )
    def post(self, request, course_slug: str, kind: str) -> Response:
        return attempt_start_response(request, _quiz(course_slug, kind))


def attempt_start_response(request, quiz: Quiz) -> Response:
    """Start or resume through quizzes.services.attempt_start: 201 if new, 200 if resumed."""
    before = timezone.now()
    attempt = quiz_services.attempt_start(learner=request.user, quiz=quiz)
    attempt.quiz = quiz
    created = attempt.started_at >= before  # a resumed attempt started earlier
    return Response(
        AttemptSummarySerializer(attempt).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
    )


# --- an open attempt ---------------------------------------------------------------------


class AttemptDetailApi(ApiPolicy, APIView):
    """An open attempt with its questions in the order shown and the learner's saved answers."""

    session_allowed = True

    class OutputSerializer(AttemptSummarySerializer):
        confidence_enabled = serializers.BooleanField(source="quiz.confidence_enabled")
        questions = QuestionSerializer(many=True)

    @extend_schema(
        parameters=[ATTEMPT_PARAMETER],
        responses={
            200: OutputSerializer,
            409: refusals("attempt_submitted", "pretest_closed"),
        },
        operation_id="attempt_retrieve",
    )
    def get(self, request, attempt_id: int) -> Response:
        attempt = _attempt(request, attempt_id)  # one query
        if not attempt.is_open:
            raise quiz_services.AttemptClosed(
                "This attempt has been submitted; its result is at …/result/.", code="attempt_submitted"
            )
        if quiz_selectors.pretest_attempt_closed(attempt=attempt, learner=request.user):  # a pre-test: one query
            raise quiz_services.AttemptClosed(quiz_selectors.PRETEST_CLOSED_MESSAGE, code="pretest_closed")
        attempt.questions = quiz_selectors.attempt_questions_get(attempt=attempt)  # three queries
        return Response(self.OutputSerializer(attempt).data)


class AttemptAnswersSaveApi(ApiPolicy, APIView):
    """Save answers without submitting ("finish later"). Only the questions sent change."""

    session_allowed = True
    InputSerializer = AnswersInputSerializer

    @extend_schema(
        parameters=[ATTEMPT_PARAMETER],
        request=AnswersInputSerializer,
        responses={200: AttemptSummarySerializer, 409: refusals("attempt_submitted", "pretest_closed")},
        operation_id="attempt_answers_save",
    )
    def put(self, request, attempt_id: int) -> Response:
        data = self.validate_input(request)
        attempt = _attempt(request, attempt_id)
        try:
            saved = quiz_services.attempt_save_answers(
                attempt_id=attempt.pk, learner=request.user, answers=_answers(data)
            )
        except DjangoValidationError as exc:
            raise _answers_invalid(exc) from None
        attempt.saved_at = saved.saved_at
        return Response(AttemptSummarySerializer(attempt).data)


class AttemptSubmitApi(ApiPolicy, APIView):
    """Submit (with any last answers) and grade, exactly once: a repeat returns the first result."""

    session_allowed = True

    class InputSerializer(serializers.Serializer):
        answers = AnswerInputSerializer(
            many=True, max_length=500, required=False, help_text="Final answers; saved ones stand for the rest."
        )

    @extend_schema(
        parameters=[ATTEMPT_PARAMETER],
        request=InputSerializer,
        responses={200: AttemptResultSerializer, 409: refusals("pretest_closed")},
        operation_id="attempt_submit",
    )
    def post(self, request, attempt_id: int) -> Response:
        data = self.validate_input(request)
        try:
            # Another learner's attempt, or none, is Attempt.DoesNotExist from the service's lock: a 404.
            attempt = quiz_services.attempt_submit(attempt_id=attempt_id, learner=request.user, answers=_answers(data))
        except DjangoValidationError as exc:
            raise _answers_invalid(exc) from None
        return Response(AttemptResultSerializer(attempt).data)


# --- after submission ----------------------------------------------------------------


class RevisitSerializer(serializers.Serializer):
    lesson = serializers.SlugField(source="lesson_slug")
    section = serializers.CharField()


class AttemptResultApi(ApiPolicy, APIView):
    """A submitted attempt's score, and whether its answers may be reviewed. Never the answers."""

    session_allowed = True

    class OutputSerializer(AttemptResultSerializer):
        attempts_used = serializers.IntegerField()
        review_available = serializers.BooleanField(help_text="Whether …/review/ shows the answers now.")
        revisit = RevisitSerializer(many=True, help_text="Lesson sections of answers given as 'sure' but wrong.")

    @extend_schema(
        parameters=[ATTEMPT_PARAMETER],
        responses={200: OutputSerializer, 409: OpenApiResponse(ErrorSerializer, description="attempt_open")},
        operation_id="attempt_result",
    )
    def get(self, request, attempt_id: int) -> Response:
        attempt = _attempt(request, attempt_id)
        if attempt.is_open:
            raise AttemptOpen()
        review = quiz_selectors.attempt_review_get(attempt=attempt, learner=request.user)
        attempt.attempts_used = review.attempts_used
        attempt.review_available = review.review_allowed
        attempt.revisit = review.revisit
        return Response(self.OutputSerializer(attempt).data)


class ReviewOptionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text_html = serializers.CharField()
    chosen = serializers.BooleanField()
    is_correct = serializers.BooleanField()
    rationale_html = serializers.CharField(allow_blank=True)


class ReviewQuestionSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="version_id")
    position = serializers.IntegerField()
    type = serializers.ChoiceField(choices=["single", "multiple", "truefalse"])
    stem_html = serializers.CharField()
    options = ReviewOptionSerializer(many=True)
    confidence = serializers.CharField(allow_blank=True)
    is_correct = serializers.BooleanField()
    lesson = serializers.SlugField(source="lesson_slug")
    section = serializers.CharField()


class AttemptReviewApi(ApiPolicy, APIView):
    """A submitted attempt with the key and rationales, when the quiz's review rule allows."""

    session_allowed = True

    class OutputSerializer(AttemptResultSerializer):
        questions = ReviewQuestionSerializer(many=True)

    @extend_schema(
        parameters=[ATTEMPT_PARAMETER],
        responses={
            200: OutputSerializer,
            403: OpenApiResponse(ErrorSerializer, description="review_not_allowed (or permission_denied)."),
            409: OpenApiResponse(ErrorSerializer, description="attempt_open"),
        },
        operation_id="attempt_review",
    )
    def get(self, request, attempt_id: int) -> Response:
        attempt = _attempt(request, attempt_id)
        if attempt.is_open:
            raise AttemptOpen()
        review = quiz_selectors.attempt_review_get(attempt=attempt, learner=request.user)
        if not review.review_allowed:
            raise ReviewNotAllowed()
        attempt.questions = review.questions
        return Response(self.OutputSerializer(attempt).data)
