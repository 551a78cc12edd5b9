"""Learner-facing pages: catalogue, course, lesson, interaction explorer.

Views parse, call one selector or service, and render. Pages work without
JavaScript; the lesson page's "mark complete" is a plain POST form.
"""

import functools
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_POST

from curriculum import selectors, services
from curriculum.links import url as _url
from curriculum.models import Course, Interaction, Lesson


def _reading_allowed(request) -> bool:
    return request.user.is_authenticated or not settings.CURRICULUM_REQUIRE_LOGIN


def _percent(done: int, total: int) -> int:
    return round(100 * done / total) if total else 0


def catalogue(request):
    if not _reading_allowed(request):
        return redirect_to_login(request.get_full_path())
    courses = selectors.catalogue_list(learner=request.user)
    for course in courses:
        course.percent = _percent(course.completed_count, course.lesson_count)
    return render(request, "curriculum/course_list.html", {"courses": courses})


def course_detail(request, course_slug: str):
    if not _reading_allowed(request):
        return redirect_to_login(request.get_full_path())
    # One query for the lessons with this learner's progress on each; the rest of
    # the page (the course's own text, credit facts, objectives, faculty) comes
    # rendered from the per-process cache, keyed on what that part is made of.
    lessons = selectors.lesson_page_list(course_slug=course_slug, learner=request.user)
    outline = tuple(
        (lesson.pk, lesson.slug, lesson.position, lesson.current_version_id, lesson.current_version.content_hash,
         lesson.current_version.title, lesson.current_version.estimated_minutes)
        for lesson in lessons
    )
    try:
        if lessons:
            parts = course_static_parts(course_slug, lessons[0].course.pk, lessons[0].course.updated_at, outline)
        else:  # no such course, or one with no published lesson yet: nothing to key a cache entry on
            parts = course_static_parts.__wrapped__(course_slug, None, None, outline)
    except Course.DoesNotExist:
        raise Http404("No such course.") from None
    for lesson in lessons:
        row = lesson.mine
        lesson.state = "completed" if row and row.completed_at else ("started" if row else "")
        lesson.url = _url("curriculum:lesson_detail", course_slug, lesson.slug)
    completed = sum(1 for lesson in lessons if lesson.state == "completed")
    next_lesson = next((lesson for lesson in lessons if lesson.state != "completed"), None)
    return render(
        request,
        "curriculum/course_detail.html",
        {
            "parts": parts,
            "lessons": lessons,
            "completed": completed,
            "percent": _percent(completed, len(lessons)),
            "next_lesson": next_lesson,
            "explorer_url": _url("curriculum:interaction_explorer", course_slug),
        },
    )


@dataclass(frozen=True, slots=True)
class CourseParts:
    """The course page's parts that no learner's progress changes, rendered."""

    title: str  # the course's, for the page's <title>
    head: str  # title and description
    credit: str  # assessments and the credit facts
    tail: str  # objectives by lesson, faculty and disclosures, privacy


@functools.lru_cache(maxsize=64)
def course_static_parts(course_slug: str, course_id: int | None, course_updated_at, outline: tuple) -> CourseParts:
    """The course page's learner-independent HTML. Rendered once per process for each key (two queries).

    The key is everything the HTML is made of: the course row, which every
    change saves (`updated_at` is `auto_now`: the loader and the admin save it;
    nothing in the app updates a course in bulk), and each published lesson's id, slug,
    position and current version (a version is never updated; its title,
    minutes and objectives come with it). `course_detail` reads the key in its
    one query, so a change shows on the next request in every process. `outline`
    is (lesson id, slug, position, version id, content hash, title, minutes) per
    lesson, in order; the last two are the version's, so they add nothing to the key.
    About 10 kB an entry. Raises Course.DoesNotExist.
    """
    course, objectives = selectors.course_page_static_get(slug=course_slug, version_ids=[row[3] for row in outline])
    lessons = [
        {"position": position, "title": title, "objectives": objectives.get(version_id, [])}
        for _pk, _slug, position, version_id, _hash, title, _minutes in outline
    ]
    context = {
        "course": course,
        "lessons": lessons,
        "total_minutes": sum(row[6] for row in outline),
        "urls": {
            "pretest": _url("quizzes:quiz_detail", course_slug, "pretest"),
            "posttest": _url("quizzes:quiz_detail", course_slug, "posttest"),
            "activity": _url("credits:activity_detail", course_slug),
        },
    }
    return CourseParts(
        title=course.title,
        head=render_to_string("curriculum/_course_head.html", context),
        credit=render_to_string("curriculum/_course_credit.html", context),
        tail=render_to_string("curriculum/_course_tail.html", context),
    )


def lesson_detail(request, course_slug: str, lesson_slug: str):
    if not _reading_allowed(request):
        return redirect_to_login(request.get_full_path())
    # One query for the course's lessons with this learner's progress on each;
    # the version's part of the page comes rendered from the per-process cache.
    lessons = selectors.lesson_page_list(course_slug=course_slug, learner=request.user)
    index = next((i for i, other in enumerate(lessons) if other.slug == lesson_slug), None)
    if index is None:
        raise Http404("No such lesson.")
    lesson = lessons[index]
    head, body = version_fragments(lesson.current_version_id, lesson.current_version.content_hash)
    if request.user.is_authenticated:
        services.lesson_progress_open(learner=request.user, lesson=lesson, current=lesson.mine)
    done = sum(1 for other in lessons if other.mine and other.mine.completed_at)
    previous = lessons[index - 1] if index > 0 else None
    nxt = lessons[index + 1] if index + 1 < len(lessons) else None
    return render(
        request,
        "curriculum/lesson_detail.html",
        {
            "lesson": lesson,
            "course": lesson.course,
            "head": head,
            "body": body,
            "urls": {
                "course": _url("curriculum:course_detail", course_slug),
                "check": _url("quizzes:check_detail", course_slug, lesson.slug),
                "complete": _url("curriculum:lesson_complete", course_slug, lesson.slug),
                "previous": previous and _url("curriculum:lesson_detail", course_slug, previous.slug),
                "next": nxt and _url("curriculum:lesson_detail", course_slug, nxt.slug),
            },
            "previous": previous,
            "next": nxt,
            "position": index + 1,
            "count": len(lessons),
            "is_completed": bool(lesson.mine and lesson.mine.completed_at),
            "percent": _percent(done, len(lessons)),
            "completed": done,
            "served_token": services.lesson_served_token(lesson=lesson),
        },
    )


@functools.lru_cache(maxsize=256)
def version_fragments(version_id: int, content_hash: str) -> tuple[str, str]:
    """The lesson page's HTML from one version: (title and meta, objectives to body).

    Rendered once per process and version, from the version's fields only
    (nothing of a learner, a request or a token): a version is never updated,
    so the HTML cannot go stale (see `selectors.lesson_version_get`, whose
    query this costs the first time). About 40 kB per entry.
    """
    version = selectors.lesson_version_get(version_id=version_id, content_hash=content_hash)
    context = {"version": version}
    return (
        render_to_string("curriculum/_lesson_version_head.html", context),
        render_to_string("curriculum/_lesson_version_body.html", context),
    )


@require_POST
@login_required
def lesson_complete(request, course_slug: str, lesson_slug: str):
    try:
        lesson = selectors.lesson_detail_get(course_slug=course_slug, lesson_slug=lesson_slug)
    except Lesson.DoesNotExist:
        raise Http404("No such lesson.") from None
    services.lesson_progress_complete(
        learner=request.user,
        lesson=lesson,
        served_token=request.POST.get("served"),
        max_minutes=settings.CURRICULUM_MAX_MINUTES_PER_VISIT,
    )
    messages.success(request, f"Lesson {lesson.position} marked complete.")
    nxt = request.POST.get("then")
    if nxt == "next":
        siblings = selectors.lesson_siblings(lesson=lesson)
        later = [other for other in siblings if other.position > lesson.position]
        if later:
            return redirect("curriculum:lesson_detail", course_slug, later[0].slug)
    return redirect("curriculum:course_detail", course_slug)


def interaction_explorer(request, course_slug: str):
    if not _reading_allowed(request):
        return redirect_to_login(request.get_full_path())
    course = Course.objects.published().filter(slug=course_slug).first()
    if course is None:
        raise Http404("No such course.")
    query = request.GET.get("q", "").strip()[:100]
    drug_class = request.GET.get("class", "").strip()[:200]
    severity = request.GET.get("severity", "").strip()
    if severity and severity not in Interaction.Severity.values:
        severity = ""
    rows = list(selectors.interaction_list(course=course, query=query, drug_class=drug_class, severity=severity))
    return render(
        request,
        "curriculum/interaction_list.html",
        {
            "course": course,
            "rows": rows,
            "query": query,
            "drug_class": drug_class,
            "severity": severity,
            "classes": selectors.interaction_classes(course=course),
            "severities": Interaction.Severity.choices,
        },
    )
