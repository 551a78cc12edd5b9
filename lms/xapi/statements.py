"""xAPI 1.0.3 statements from learner events: pure, no queries, no network.

One `LearnerEvent` becomes zero or more statements:

| event (verb, object)                 | statement(s)                                        |
|--------------------------------------|-----------------------------------------------------|
| experienced, curriculum.lessonprogress | experienced the lesson (parent: course)           |
| completed, curriculum.lessonprogress   | completed the lesson, with duration (parent: course) |
| answered, quizzes.response             | answered the question (parent: its quiz; grouping: course, lesson) |
| passed / failed, quizzes.attempt       | passed / failed the assessment, with score and duration |
| credit_claimed, credits.claim          | completed the course, and earned the credit (parent: course) |

Each statement's id is `uuid5(NAMESPACE, "<xAPI verb>|<object_ref>")`: the same
fact always has the same id, so a resend after a lost response is recognised by
the LRS (identical statement: 204, not a second copy). The namespace below must
never change, or every resend after the change would be a duplicate.

A statement is rebuilt on every try, so it is built from what does not
change: immutable versions, the event's own snapshot (`data`), the
certificate's copy of the course title. (A quiz's title can still be edited
between tries; `client.py` accepts an LRS copy that differs only in such an
activity definition.)

Callers (`lms/xapi/delivery.py`) load the event's object with everything these
builders touch (`select_related`/`prefetch_related`), so building runs no query.

Answer keys never leave: a question's definition lists its choices but not
`correctResponsesPattern`, because an LRS is often readable by learners'
managers and by reporting tools we do not control; `success` says whether
the learner was right.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import strip_tags

XAPI_VERSION = "1.0.3"
NAMESPACE = uuid.UUID("0b6f3f0e-6a3c-5d35-9a58-4c1e5d6a7b21")  # fixed forever: see the module docstring
LANG = "en-US"

ADL_VERBS = "http://adlnet.gov/expapi/verbs/"
ADL_ACTIVITIES = "http://adlnet.gov/expapi/activities/"
VERBS: dict[str, str] = {
    "experienced": ADL_VERBS + "experienced",
    "completed": ADL_VERBS + "completed",
    "answered": ADL_VERBS + "answered",
    "passed": ADL_VERBS + "passed",
    "failed": ADL_VERBS + "failed",
    # Not in ADL's set; the registry's (id.tincanapi.com) verb for an award.
    "earned": "http://id.tincanapi.com/verb/earned",
}
ACTIVITY_TYPES: dict[str, str] = {
    "course": ADL_ACTIVITIES + "course",
    "lesson": ADL_ACTIVITIES + "lesson",
    "question": ADL_ACTIVITIES + "cmi.interaction",
    "assessment": ADL_ACTIVITIES + "assessment",
}


@dataclass(frozen=True)
class Context:
    """What a statement needs besides the event and its object.

    `base` is the public origin our activity IRIs live under (no trailing
    slash); `actor` comes from `actor_account()` or `actor_mbox()`.
    """

    base: str
    actor: dict
    platform: str = "kratom-ce"

    def iri(self, path: str) -> str:
        return f"{self.base}/{path}"

    def extension(self, name: str) -> str:
        """Our extension IRIs (attempt number, credit hours), under the same base."""
        return f"{self.base}/xapi/extensions/{name}"


def actor_account(*, home_page: str, name: str) -> dict:
    """The learner as the organisation knows them: no personal data leaves."""
    return {"objectType": "Agent", "account": {"homePage": home_page, "name": name}}


def actor_mbox(*, email: str, name: str = "") -> dict:
    """The learner by e-mail: only where the organisation configured it."""
    actor = {"objectType": "Agent", "mbox": f"mailto:{email}"}
    if name:
        actor["name"] = name
    return actor


def statement_id(verb: str, object_ref: str) -> str:
    """Stable id of the statement saying `verb` about the event object `object_ref`."""
    return str(uuid.uuid5(NAMESPACE, f"{VERBS[verb]}|{object_ref}"))


def timestamp(value: dt.datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a zone, as the LRS must keep it."""
    if value.tzinfo is None:
        raise ValueError("xAPI timestamps need a time zone")
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def duration(seconds: float | int) -> str:
    """ISO 8601 duration, e.g. 3725 → 'PT1H2M5S', 0 → 'PT0S'."""
    seconds = max(Decimal(str(seconds)), Decimal(0)).quantize(Decimal("0.01"))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = "".join(
        [f"{int(hours)}H" if hours else "", f"{int(minutes)}M" if minutes else ""]
    )
    secs_text = f"{secs.normalize():f}" if secs else ""
    if secs_text or not parts:
        parts += f"{secs_text or 0}S"
    return "PT" + parts


def _lang(text: str) -> dict:
    return {LANG: text}


def _verb(key: str) -> dict:
    return {"id": VERBS[key], "display": _lang(key)}


def _activity(iri: str, kind: str, name: str, **definition) -> dict:
    return {
        "objectType": "Activity",
        "id": iri,
        "definition": {"type": ACTIVITY_TYPES.get(kind, kind), "name": _lang(name), **definition},
    }


def _statement(event, ctx: Context, *, verb: str, obj: dict, result: dict | None = None,
               context: dict | None = None, at: dt.datetime | None = None) -> dict:
    statement = {
        "id": statement_id(verb, event.object_ref),
        "actor": ctx.actor,
        "verb": _verb(verb),
        "object": obj,
    }
    if result:
        statement["result"] = result
    statement["context"] = {"platform": ctx.platform, "language": LANG, **(context or {})}
    statement["timestamp"] = timestamp(at or event.occurred_at)
    return statement


# --- activities ------------------------------------------------------------------------


def course_activity(course, ctx: Context) -> dict:
    return _activity(ctx.iri(f"courses/{course.slug}/"), "course", course.title)


def lesson_activity(lesson, ctx: Context, *, title: str | None = None) -> dict:
    return _activity(
        ctx.iri(f"courses/{lesson.course.slug}/lessons/{lesson.slug}/"), "lesson", title or lesson.title
    )


def assessment_activity(quiz, ctx: Context) -> dict:
    course = ctx.iri(f"courses/{quiz.course.slug}/")
    # A knowledge check is one per lesson; pre-, post-test and re-check one per course.
    iri = f"{course}lessons/{quiz.lesson.slug}/check/" if quiz.lesson_id else f"{course}assessments/{quiz.kind}/"
    return _activity(iri, "assessment", quiz.title)


def _ref(activity: dict) -> dict:
    """An activity as a context activity: id and type only (the object carries the name)."""
    return {"objectType": "Activity", "id": activity["id"], "definition": {"type": activity["definition"]["type"]}}


# --- builders, one per (event verb, object model) ---------------------------------------


def _version_seen(lesson, at: dt.datetime):
    """The lesson version that was current at `at` (versions are immutable and
    numbered in order), so a statement rebuilt for a retry after an edit is the same."""
    seen = [v for v in lesson.versions.all() if v.created_at <= at]
    return max(seen, key=lambda v: v.number) if seen else lesson.current_version


def _lesson_progress(event, progress, ctx: Context) -> list[dict]:
    lesson = progress.lesson
    course = course_activity(lesson.course, ctx)
    context = {"contextActivities": {"parent": [_ref(course)]}}
    if event.verb == "experienced":
        version = _version_seen(lesson, event.occurred_at)
        obj = lesson_activity(lesson, ctx, title=version.title if version else None)
        return [_statement(event, ctx, verb="experienced", obj=obj, context=context)]
    version = progress.completed_version
    if version is not None:
        context["revision"] = f"v{version.number}"  # the version the learner completed
    result = {"completion": True}
    # The event's snapshot first: the statement must not change between tries.
    seconds = event.data.get("seconds", progress.seconds_on_page) if isinstance(event.data, dict) else 0
    if seconds:
        result["duration"] = duration(seconds)
    return [
        _statement(
            event, ctx, verb="completed",
            obj=lesson_activity(lesson, ctx, title=version.title if version else None),
            result=result, context=context, at=progress.completed_at,
        )
    ]


def _response(event, response, ctx: Context) -> list[dict]:
    version = response.item_version
    attempt = response.attempt
    course = course_activity(version.item.course, ctx)
    lesson = lesson_activity(version.lesson, ctx)
    quiz = assessment_activity(attempt.quiz, ctx)
    options = sorted(version.options.all(), key=lambda o: o.position)
    question = _activity(
        ctx.iri(f"courses/{version.item.course.slug}/items/{version.item.key}/"),
        "question",
        f"Question {version.item.key}",
        description=_lang(strip_tags(version.stem_html).strip()),
        interactionType="choice",
        choices=[
            {"id": f"option-{o.position}", "description": _lang(strip_tags(o.text_html).strip())} for o in options
        ],
    )
    chosen = sorted(response.chosen.all(), key=lambda o: o.position)
    result = {"response": "[,]".join(f"option-{o.position}" for o in chosen)}
    if response.is_correct is not None:
        result["success"] = response.is_correct
    context = {
        "revision": f"v{version.number}",
        "contextActivities": {"parent": [_ref(quiz)], "grouping": [_ref(course), _ref(lesson)]},
    }
    return [
        _statement(event, ctx, verb="answered", obj=question, result=result, context=context,
                   at=response.answered_at)
    ]


def _attempt(event, attempt, ctx: Context) -> list[dict]:
    quiz = attempt.quiz
    course = course_activity(quiz.course, ctx)
    result = {
        "score": {
            "scaled": float((Decimal(attempt.score) / 100).quantize(Decimal("0.0001"))),
            "raw": attempt.correct_count,
            "min": 0,
            "max": attempt.question_count,
        },
        "success": bool(attempt.passed),
        "completion": True,
    }
    if attempt.submitted_at and attempt.started_at:
        result["duration"] = duration((attempt.submitted_at - attempt.started_at).total_seconds())
    context = {
        "contextActivities": {"parent": [_ref(course)]},
        "extensions": {ctx.extension("attempt-number"): attempt.number},
    }
    verb = "passed" if event.verb == "passed" else "failed"
    return [
        _statement(event, ctx, verb=verb, obj=assessment_activity(quiz, ctx), result=result, context=context,
                   at=attempt.submitted_at)
    ]


def _claim(event, claim, ctx: Context) -> list[dict]:
    """A claim is made once every completion rule is met: the course is complete
    and the credit earned. Two statements, each with its own stable id."""
    course_obj = claim.activity.course
    course = course_activity(course_obj, ctx)
    # The title as printed on the claim's first certificate (a snapshot), not
    # as the course is called today: a retry must send the same statement.
    certificates = sorted(claim.certificates.all(), key=lambda c: c.pk)
    if certificates:
        course["definition"]["name"] = _lang(certificates[0].activity_title)
    credit = _activity(
        ctx.iri(f"courses/{course_obj.slug}/credit/{claim.credit_type}/"),
        ctx.iri("xapi/activity-types/ce-credit"),
        claim.get_credit_type_display(),
    )
    return [
        _statement(event, ctx, verb="completed", obj=course, result={"completion": True}),
        _statement(
            event, ctx, verb="earned", obj=credit,
            result={
                "success": True,
                "completion": True,
                "extensions": {
                    ctx.extension("credit-hours"): float(claim.hours),
                    ctx.extension("credit-type"): claim.credit_type,
                    ctx.extension("completed-on"): claim.completed_on.isoformat(),
                },
            },
            context={"contextActivities": {"parent": [_ref(course)]}},
        ),
    ]


Builder = Callable[..., list[dict]]
BUILDERS: dict[tuple[str, str], Builder] = {
    ("experienced", "curriculum.lessonprogress"): _lesson_progress,
    ("completed", "curriculum.lessonprogress"): _lesson_progress,
    ("answered", "quizzes.response"): _response,
    ("passed", "quizzes.attempt"): _attempt,
    ("failed", "quizzes.attempt"): _attempt,
    ("credit_claimed", "credits.claim"): _claim,
}


def event_model(event) -> str:
    """The model label of an event's object_ref, e.g. 'curriculum.lessonprogress'."""
    return event.object_ref.rpartition(":")[0]


def event_object_pk(event) -> int:
    return int(event.object_ref.rpartition(":")[2])


def has_statements(event) -> bool:
    """Whether an LRS hears of this kind of event at all (the outbox fans out only these)."""
    return (event.verb, event_model(event)) in BUILDERS


def statements_build(event, obj, ctx: Context) -> list[dict]:
    """The statements reporting `event` about its loaded object `obj`. No queries
    if `obj` was loaded as `delivery.event_object_get` does. Raises KeyError for
    an event kind with no statements (check `has_statements` first)."""
    return BUILDERS[(event.verb, event_model(event))](event, obj, ctx)
