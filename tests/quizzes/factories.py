"""Factories and a small course-folder writer for the quiz tests (placeholder text only).

Tests never depend on the bundled course, which authors are still writing.
"""

from __future__ import annotations

from pathlib import Path

import factory
import yaml

from curriculum.models import Objective
from quizzes.models import Item, ItemVersion, Option, Quiz
from tests.factories import CourseFactory, LessonFactory

# --- a course folder on disk, for load_curriculum -------------------------------------

COURSE_MD = """---
title: "Quiz test course"
slug: {slug}
summary: "Placeholder summary."
estimated_minutes: 30
target_audience: "Placeholder audience."
release_date: 2026-01-01
review_date: 2026-01-01
expiry_date: 2028-01-01
commercial_support: "None."
accreditation_notice: "Not accredited."
hardware_software: "A browser."
privacy: "Placeholder privacy."
---

Placeholder description.
"""

LESSON_MD = """---
title: "Lesson {order}"
slug: {slug}
order: {order}
estimated_minutes: 10
last_reviewed: 2026-11-01
objectives:
  - id: L{order}.1
    text: "Describe placeholder topic {order}a."
  - id: L{order}.2
    text: "List placeholder topic {order}b."
references:
  - key: ref{order}
    citation: "Author A. Placeholder title. J Placeholder. 2020;1:1-2."
    pmid: "1234567{order}"
---

## Basics

A placeholder statement.[^ref{order}]

## More

More placeholder text.
"""

MYTHS = [{"id": "m1", "claim": "A placeholder claim.", "verdict": "A placeholder correction.", "lesson": "lesson-one"}]


def item_dict(key: str, *, pools=("posttest",), lesson: int = 1, objective: int = 1, kind: str = "single",
              stem: str = "Placeholder stem?", myth: str = "") -> dict:
    """One valid item entry for an item file."""
    slug = ["lesson-one", "lesson-two"][lesson - 1]
    if kind == "truefalse":
        options = [
            {"text": "True", "correct": True, "rationale": "Placeholder rationale true."},
            {"text": "False", "correct": False, "rationale": "Placeholder rationale false."},
        ]
    elif kind == "multiple":
        options = [
            {"text": f"Choice {n}", "correct": n < 2, "rationale": f"Placeholder rationale {n}."} for n in range(4)
        ]
    else:
        options = [
            {"text": f"Option {n}", "correct": n == 0, "rationale": f"Placeholder rationale {n}."} for n in range(3)
        ]
    data = {
        "key": key,
        "type": kind,
        "pools": list(pools),
        "objective": f"L{lesson}.{objective}",
        "section": f"{slug}#basics",
        "difficulty": "medium",
        "stem": stem,
        "options": options,
        "references": [f"ref{lesson}"],
    }
    if myth:
        data["myth"] = myth
    return data


def default_items() -> list[dict]:
    """Two pretest, two check items per lesson, and six post-test items over four objectives."""
    items = [item_dict("pre-1", pools=["pretest", "posttest"], myth="m1"), item_dict("pre-2", pools=["pretest"], lesson=2)]
    for lesson in (1, 2):
        items += [item_dict(f"chk-{lesson}-{n}", pools=["check"], lesson=lesson, objective=n) for n in (1, 2)]
        items += [
            item_dict(f"post-{lesson}-{n}", lesson=lesson, objective=n, kind=kind)
            for n, kind in ((1, "single"), (2, "multiple"))
        ]
    items.append(item_dict("post-tf", kind="truefalse", lesson=2, objective=1))
    return items


def course_dir_write(root: Path, *, items: list[dict] | None = None, slug: str = "quiz-course") -> Path:
    """Write a valid two-lesson course under root/<slug>/ and return root (the content dir)."""
    course = root / slug
    (course / "lessons").mkdir(parents=True, exist_ok=True)
    (course / "items").mkdir(exist_ok=True)
    (course / "course.md").write_text(COURSE_MD.format(slug=slug), encoding="utf-8")
    for order, lesson_slug in ((1, "lesson-one"), (2, "lesson-two")):
        (course / "lessons" / f"0{order}-{lesson_slug}.md").write_text(
            LESSON_MD.format(order=order, slug=lesson_slug), encoding="utf-8"
        )
    (course / "myths.yaml").write_text(yaml.safe_dump(MYTHS), encoding="utf-8")
    items = default_items() if items is None else items
    (course / "items" / "01-lesson-one.yaml").write_text(yaml.safe_dump(items, sort_keys=False), encoding="utf-8")
    return root


# --- model factories ----------------------------------------------------------------


class ItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Item

    course = factory.SubFactory(CourseFactory)
    key = factory.Sequence(lambda n: f"item-{n}")
    pools = factory.LazyFunction(lambda: ["posttest"])


class ItemVersionFactory(factory.django.DjangoModelFactory):
    """A current item version with options (options__n=..., options__correct=(1-based positions))."""

    class Meta:
        model = ItemVersion
        skip_postgeneration_save = True

    item = factory.SubFactory(ItemFactory)
    number = 1
    type = ItemVersion.Type.SINGLE
    stem = "Placeholder stem?"
    stem_html = factory.Sequence(lambda n: f"<p>Placeholder stem {n}?</p>")
    lesson = factory.LazyAttribute(lambda o: LessonFactory(course=o.item.course))
    objective = factory.LazyAttribute(lambda o: Objective.objects.filter(lesson=o.lesson).first())
    section = "section"
    difficulty = ItemVersion.Difficulty.MEDIUM
    references = factory.LazyFunction(
        lambda: [{"key": "ref", "citation": "Placeholder citation.", "pmid": "1", "doi": "", "url": ""}]
    )
    content_hash = factory.Sequence(lambda n: f"hash-{n}")

    @factory.post_generation
    def options(obj, create, extracted, **kwargs):
        if not create:
            return
        # Params are not stored on the instance; read them from the factory call.
        n_options = kwargs.get("n", 4 if obj.type == ItemVersion.Type.MULTIPLE else 3)
        correct = kwargs.get("correct", (1, 2) if obj.type == ItemVersion.Type.MULTIPLE else (1,))
        if obj.type == ItemVersion.Type.TRUEFALSE:
            n_options = 2
        Option.objects.bulk_create(
            Option(
                version=obj,
                position=p,
                text_html=f"<span>Placeholder option {p}</span>",
                is_correct=p in correct,
                rationale_html=f"<p>RATIONALE-{obj.pk}-{p}</p>",
            )
            for p in range(1, n_options + 1)
        )
        obj.item.current_version = obj
        obj.item.save(update_fields=["current_version"])


class QuizFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Quiz

    course = factory.SubFactory(CourseFactory)
    kind = Quiz.Kind.POSTTEST
    title = factory.Sequence(lambda n: f"Quiz {n}")


def quiz_with_items(n: int, *, kind: str = Quiz.Kind.POSTTEST, types=None, **quiz_fields) -> Quiz:
    """A quiz whose pool holds n items (all of `types[i]` or single), each with its own lesson."""
    course = CourseFactory()
    lesson = LessonFactory(course=course)
    if kind == Quiz.Kind.CHECK:
        quiz_fields["lesson"] = lesson
    quiz = QuizFactory(course=course, kind=kind, **quiz_fields)
    objective = Objective.objects.get(lesson=lesson)
    for index in range(n):
        item_type = types[index % len(types)] if types else ItemVersion.Type.SINGLE
        ItemVersionFactory(
            item__course=course, item__pools=[kind], lesson=lesson, objective=objective, type=item_type
        )
    return quiz


def key_of(attempt) -> dict[int, dict]:
    """Test helper: {version_id: {"correct": set, "wrong": set}} for an attempt's questions."""
    out = {}
    for entry in attempt.layout:
        options = Option.objects.filter(version_id=entry["version"])
        out[entry["version"]] = {
            "correct": {o.pk for o in options if o.is_correct},
            "wrong": {o.pk for o in options if not o.is_correct},
        }
    return out
