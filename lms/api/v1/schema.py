"""Schema post-processing: the API's guide and the webhook payloads.

OpenAPI 3.0 has no `webhooks` section, so each webhook payload is published
as a component schema (`Webhook<Type>`), and this text explains the rest.
"""

API_GUIDE = """\
Catalogue, learner progress, quizzes and credit, enrolment sync and feeds
for integrators (issue #7).

**Authentication.** Systems send `Authorization: Bearer ce_…` with an
integration token that staff create (admin, or `manage.py
create_integration_token`). A token belongs to one organisation and sees
that organisation's learners only: anyone else's learner is a 404. Scopes:
`catalog:read`, `enrolments:write`, `progress:read`, `completions:read`.
Signed-in learners use the browser session (with the CSRF token) for the
catalogue, their own progress (`/me/…`, `…/complete/`), quizzes
(`/courses/{course}/quizzes/{kind}/`, `/attempts/{id}/…`) and credit
(`…/completion/`, `…/evaluation/`, `…/claim/`, `/me/certificates/`).
`GET /api/v1/certificates/verify/{code}/` is public.

**Quizzes.** `POST …/quizzes/{kind}/attempts/` starts an attempt (201) or
resumes the open one (200). An open attempt's questions carry no answer key.
`PUT /attempts/{id}/answers/` saves; `POST /attempts/{id}/submit/` grades
exactly once (a repeat returns the same result); `…/result/` gives the
score, and `…/review/` the answers and rationales once the quiz's review rule
allows (403 `review_not_allowed` before). A lesson's knowledge check is at
`…/lessons/{lesson}/check/` (start with `…/check/attempts/`); `POST
/attempts/{id}/check/` checks one question and answers with that question's
feedback only.

**Errors** are always `{"error": {"code", "message", "fields"}}`: 400
`invalid` (with `fields`), `malformed_request`, `answer_required` (with
`fields`) or `not_a_knowledge_check`, 401, 403 (`missing_scope`,
`permission_denied`, `review_not_allowed`), 404 `not_found`, 409
(`email_taken`, `already_linked`, `link_pending_other_id`, `conflict`, `attempt_open`, `already_claimed`,
`claim_refused`, and the quizzes' refusals: `attempt_limit_reached`,
`wait_required` and `recheck_not_open` with `available_at`,
`already_passed`, `quiz_empty`, `nothing_to_recheck`, `pretest_closed`,
`attempt_submitted`, `check_finished`, `question_already_checked`), 415, 429
`throttled` (with `Retry-After`; limits are per token or learner). Codes are
stable; messages are for people and may be reworded.

**Enrolment sync** (`POST /api/v1/enrolments/`) is idempotent by your
`external_id`: the same request twice leaves one learner and one enrolment
(201 when created, 200 after). If the e-mail address already has an account
here, the account holder must confirm the link first: 202 with `link_status:
link_pending` (the body echoes what you sent, never the account), and the
learner appears in your feeds and at `/learners/{external_id}/` once they
confirm (then 200 `linked`). A declined link keeps answering 202: you are not
told of the decision. See docs/enrolment.md.

**Feeds** (`/progress/`, `/completions/`, `/certificates/`) page with an opaque `cursor`
(follow `next`) and take `updated_since`; sync incrementally by passing the
`updated_at` (or `completed_at`) of the last row you stored, minus a minute.
A certificate's `updated_at` is its revocation time once revoked.

**Webhooks.** Staff subscribe a URL to event types; each delivery is a POST
of `{"type", "timestamp", "data"}` (see the `Webhook…` schemas) signed per
Standard Webhooks: headers `webhook-id` (also `Idempotency-Key`: the same on
every retry, so drop repeats), `webhook-timestamp` and `webhook-signature`
(`v1,<base64 HMAC-SHA256 of "id.timestamp.body">` keyed with the base64
part of your `whsec_` secret). Answer 2xx; anything else is retried with
exponential backoff, and after the last try the delivery waits for staff.
"""

_LEARNER = {
    "type": "object",
    "properties": {
        "external_id": {"type": "string", "description": "Your ID for the learner."},
        "organisation": {"type": "string", "description": "Your organisation's slug."},
    },
    "required": ["external_id", "organisation"],
}


def _envelope(event_type: str, data: dict) -> dict:
    return {
        "type": "object",
        "description": f"The body of a `{event_type}` webhook.",
        "properties": {
            "type": {"type": "string", "enum": [event_type]},
            "timestamp": {"type": "string", "format": "date-time", "description": "When it happened."},
            "data": data,
        },
        "required": ["type", "timestamp", "data"],
    }


WEBHOOK_SCHEMAS = {
    "WebhookLessonCompleted": _envelope(
        "lesson.completed",
        {
            "type": "object",
            "properties": {
                "learner": _LEARNER,
                "course": {"type": "string"},
                "lesson": {"type": "string"},
                "lesson_version": {"type": "integer", "nullable": True},
                "completed_at": {"type": "string", "format": "date-time"},
                "seconds_on_page": {"type": "integer"},
            },
            "required": ["learner", "course", "lesson", "lesson_version", "completed_at", "seconds_on_page"],
        },
    ),
}


_DATE_TIME = {"type": "string", "format": "date-time"}
_DECIMAL = {"type": "string", "format": "decimal", "pattern": r"^-?\d{0,3}(?:\.\d{0,2})?$"}


def _data(properties: dict) -> dict:
    return {"type": "object", "properties": {"learner": _LEARNER, **properties}, "required": ["learner", *properties]}


_POSTTEST = {
    "course": {"type": "string"},
    "attempt": {"type": "integer", "description": "1 for the first attempt."},
    "score": {**_DECIMAL, "description": "Percent correct."},
    "pass_mark": {"type": "integer"},
    "passed": {"type": "boolean"},
    "submitted_at": _DATE_TIME,
}
_CERTIFICATE = {
    "course": {"type": "string"},
    "certificate": {"type": "integer"},
    "credit_type": {"type": "string"},
    "amount": _DECIMAL,
    "completed_on": {"type": "string", "format": "date"},
    "issued_at": _DATE_TIME,
    "revoked_at": {**_DATE_TIME, "nullable": True},
    "supersedes": {"type": "integer", "nullable": True, "description": "The certificate this one replaces."},
}
WEBHOOK_SCHEMAS.update(
    {
        "WebhookPosttestPassed": _envelope("posttest.passed", _data(_POSTTEST)),
        "WebhookPosttestFailed": _envelope("posttest.failed", _data(_POSTTEST)),
        "WebhookCreditClaimed": _envelope(
            "credit.claimed",
            _data(
                {
                    "course": {"type": "string"},
                    "credit_type": {"type": "string"},
                    "hours": _DECIMAL,
                    "completed_on": {"type": "string", "format": "date"},
                    "claimed_at": _DATE_TIME,
                }
            ),
        ),
        "WebhookCertificateIssued": _envelope("certificate.issued", _data(_CERTIFICATE)),
        "WebhookCertificateRevoked": _envelope("certificate.revoked", _data(_CERTIFICATE)),
    }
)


def postprocess(result, generator, request, public):
    """drf-spectacular POSTPROCESSING_HOOKS entry."""
    result["info"]["description"] = API_GUIDE
    result.setdefault("components", {}).setdefault("schemas", {}).update(WEBHOOK_SCHEMAS)
    return result
