"""API v1 for a lesson's knowledge check: find it, start it, check one question at a time.

The same services as the check page (quizzes/views.py): `attempt_start` and
`attempt_answer_check`, which grades one question for immediate feedback and
closes the attempt when the last one is checked. The open attempt's
questions come from attempts.py's `AttemptDetailApi`, without any key.

The one exception to "no correctness data before submission" is
`AttemptCheckApi`'s answer: the feedback (right or not, the key and the
rationales) of the question just checked, and of no other; its answer is
final by then (a second check is a 409). Its serializer is its own, and
tests/lms/test_api_checks.py proves the unchecked questions' keys never
appear in any response.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from lms.api.v1.attempts import (
    ATTEMPT_PARAMETER,
    MAX_DB_INT,
    AttemptSummarySerializer,
    QuizDetailApi,
    _attempt,
    attempt_start_response,
    quiz_view,
    refusals,
)
from lms.api.v1.base import ApiPolicy, _error
from quizzes import grading
from quizzes import selectors as quiz_selectors
from quizzes import services as quiz_services
from quizzes.models import Quiz

LESSON_PARAMETER = OpenApiParameter("lesson_slug", OpenApiTypes.STR, OpenApiParameter.PATH, description="The lesson.")
CHECK_START_REFUSALS = ("attempt_limit_reached", "wait_required", "quiz_empty")


def _check(course_slug: str, lesson_slug: str) -> Quiz:
    """The lesson's knowledge check of a published course. One query. Raises Quiz.DoesNotExist (a 404)."""
    return quiz_selectors.quiz_get(course_slug=course_slug, kind=Quiz.Kind.CHECK, lesson_slug=lesson_slug)


class CheckDetailApi(ApiPolicy, APIView):
    """A lesson's knowledge check as the learner sees it (as for a quiz); 404 if the lesson has none."""

    session_allowed = True

    @extend_schema(
        parameters=[LESSON_PARAMETER], responses=QuizDetailApi.OutputSerializer, operation_id="check_retrieve"
    )
    def get(self, request, course_slug: str, lesson_slug: str) -> Response:
        quiz = _check(course_slug, lesson_slug)  # one query
        return Response(QuizDetailApi.OutputSerializer(quiz_view(request, quiz)).data)


class CheckStartApi(ApiPolicy, APIView):
    """Start the lesson's knowledge check, or resume the open attempt of it."""

    session_allowed = True

    @extend_schema(
        parameters=[LESSON_PARAMETER],
        request=None,
        responses={
            201: OpenApiResponse(AttemptSummarySerializer, description="A new attempt was started."),
            200: OpenApiResponse(AttemptSummarySerializer, description="The open attempt, resumed."),
            409: refusals(*CHECK_START_REFUSALS),
        },
        operation_id="check_start",
    )
    def post(self, request, course_slug: str, lesson_slug: str) -> Response:
        return attempt_start_response(request, _check(course_slug, lesson_slug))


# --- checking one question: its feedback, and only its -----------------------------------


class CheckedOptionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text_html = serializers.CharField(help_text="Sanitised HTML.")
    chosen = serializers.BooleanField()
    is_correct = serializers.BooleanField(help_text="Part of the key.")
    rationale_html = serializers.CharField(allow_blank=True, help_text="Why this option is right or wrong.")


class CheckedQuestionSerializer(serializers.Serializer):
    """The checked question's feedback, as the check page shows it."""

    id = serializers.IntegerField(source="version_id")
    position = serializers.IntegerField()
    is_correct = serializers.BooleanField(help_text="Whether the learner's answer was right.")
    options = CheckedOptionSerializer(many=True, help_text="In this attempt's order, each with its rationale.")


class AttemptCheckApi(ApiPolicy, APIView):
    """Check one question's answer of a knowledge check and get its feedback at once.

    The answer is final once checked. Checking the last question grades and
    closes the attempt (`finished`; the score is then at …/result/).
    """

    session_allowed = True

    class InputSerializer(serializers.Serializer):
        question = serializers.IntegerField(min_value=1, max_value=MAX_DB_INT, help_text="The question's `id`.")
        options = serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=MAX_DB_INT),
            max_length=20,
            help_text="The chosen option ids (one for single-answer questions); empty is refused (answer_required).",
        )

    class OutputSerializer(serializers.Serializer):
        attempt = serializers.IntegerField(source="attempt.pk")
        question = CheckedQuestionSerializer(help_text="This question only; the others stay without key.")
        finished = serializers.BooleanField(help_text="Every question is checked: the attempt is graded and closed.")
        score = serializers.DecimalField(
            max_digits=5, decimal_places=2, allow_null=True, source="attempt.score", help_text="Once finished."
        )

    @extend_schema(
        parameters=[ATTEMPT_PARAMETER],
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            400: refusals(
                "answer_required",
                "not_a_knowledge_check",
                status=400,
                also=("- `invalid` (with `fields`): a malformed body, a question not in the attempt, or an option "
                      "not of the question.",),
            ),
            409: refusals("check_finished", "question_already_checked"),
        },
        operation_id="attempt_check",
    )
    def post(self, request, attempt_id: int) -> Response:
        attempt = _attempt(request, attempt_id)  # first: another learner's attempt is a 404 whatever the body
        data = self.validate_input(request)
        answer = grading.Answer(data["question"], frozenset(data["options"]))
        try:
            attempt = quiz_services.attempt_answer_check(attempt_id=attempt.pk, learner=request.user, answer=answer)
        except DjangoValidationError as exc:
            return _answer_refused(exc, attempt_layout=attempt.layout, question=data["question"])
        feedback = quiz_selectors.check_feedback_get(attempt=attempt, version_id=answer.version_id)
        view = {"attempt": attempt, "question": feedback, "finished": not attempt.is_open}
        return Response(self.OutputSerializer(view).data)


def _answer_refused(exc: DjangoValidationError, *, attempt_layout: list[dict], question: int) -> Response:
    """quizzes' ValidationError as a 400: its own code when it carries one, else `invalid`, with fields."""
    codes = {error.code for error in exc.error_list} if not hasattr(exc, "error_dict") else set()
    code = codes.pop() if len(codes) == 1 and None not in codes else "invalid"
    if code == "not_a_knowledge_check":
        return _error(400, code, exc.messages[0])
    field = "question" if question not in {entry["version"] for entry in attempt_layout} else "options"
    if code == "answer_required":
        field = "options"
    message = exc.messages[0] if code != "invalid" else f"Correct these fields and send again: {field}."
    return _error(400, code, message, {field: exc.messages})
