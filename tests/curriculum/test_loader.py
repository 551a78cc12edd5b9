"""load_curriculum / check_curriculum: validation, all-or-nothing loads, idempotency, versions."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from curriculum.models import (
    Course,
    Interaction,
    LearnerEvent,
    Lesson,
    LessonProgress,
    LessonVersion,
    Objective,
)
from curriculum.services import lesson_progress_complete
from tests.curriculum.coursedir import write_course


def load(root) -> str:
    out = StringIO()
    call_command("load_curriculum", content_dir=str(root), stdout=out, stderr=StringIO())
    return out.getvalue()


def load_fails(root) -> str:
    err = StringIO()
    with pytest.raises(CommandError) as info:
        call_command("load_curriculum", content_dir=str(root), stdout=StringIO(), stderr=err)
    return err.getvalue() + str(info.value)


def snapshot():
    return (
        list(Course.objects.values_list("slug", "title", "updated_at")),
        list(Lesson.objects.values_list("slug", "position", "is_published", "current_version")),
        LessonVersion.objects.count(),
        list(Objective.objects.values_list("key", "text", "is_active")),
        list(Interaction.objects.values_list("key", "drug", "is_active")),
    )


@pytest.mark.django_db
def test_valid_course_loads_with_rendered_html(tmp_path):
    write_course(tmp_path)

    output = load(tmp_path)

    assert "Loaded: created" in output
    assert "[1/2] " in output and "[2/2] " in output  # progress per lesson
    lesson = Lesson.objects.select_related("current_version").get(slug="first")
    html = lesson.current_version.body_html
    assert '<h2 id="background">' in html
    assert 'href="/courses/test-course/lessons/second/#more"' in html
    assert 'href="/courses/test-course/interactions/"' in html
    assert 'src="/static/content/test-course/figures/diagram.svg"' in html
    assert 'class="admonition pearl"' in html
    assert "<table>" in html and "Placeholder drug" in html  # the embedded interaction table
    assert 'href="https://pubmed.ncbi.nlm.nih.gov/12345678/"' in html
    assert 'href="https://doi.org/10.1000/xyz123"' in html
    assert [r["key"] for r in lesson.current_version.references] == ["alpha", "beta"]
    assert lesson.current_version.references[0]["number"] == 1
    assert Objective.objects.filter(course__slug="test-course").count() == 3


@pytest.mark.django_db
def test_second_load_changes_nothing_and_says_so(tmp_path):
    write_course(tmp_path)
    load(tmp_path)
    before = snapshot()

    output = load(tmp_path)

    assert "No changes" in output
    assert snapshot() == before


@pytest.mark.django_db
def test_changed_lesson_gets_new_version_and_keeps_progress(tmp_path, learner):
    course_dir = write_course(tmp_path)
    load(tmp_path)
    lesson = Lesson.objects.select_related("current_version").get(slug="second")
    first_version = lesson.current_version
    progress = lesson_progress_complete(learner=learner, lesson=lesson, served_token=None, max_minutes=60)
    path = course_dir / "lessons" / "02-second.md"
    path.write_text(path.read_text().replace("Placeholder text.", "Revised placeholder text."))

    output = load(tmp_path)

    lesson.refresh_from_db()
    assert "updated (version 2)" in output
    assert lesson.current_version.number == 2
    assert "Revised placeholder text." in lesson.current_version.body_html
    first_version.refresh_from_db()
    assert "Revised" not in first_version.body_html  # the old version is untouched
    progress.refresh_from_db()
    assert progress.lesson_id == lesson.pk
    assert progress.completed_version_id == first_version.pk


@pytest.mark.django_db
def test_removed_lesson_is_unpublished_not_deleted(tmp_path, learner):
    course_dir = write_course(tmp_path)
    load(tmp_path)
    lesson = Lesson.objects.get(slug="second")
    lesson_progress_complete(learner=learner, lesson=lesson, served_token=None, max_minutes=60)
    (course_dir / "lessons" / "02-second.md").unlink()
    (course_dir / "lessons" / "01-first.md").write_text(
        (course_dir / "lessons" / "01-first.md").read_text().replace("(lesson:second#more)", "(#details)")
    )
    (course_dir / "myths.yaml").write_text((course_dir / "myths.yaml").read_text().replace("lesson: second", "lesson: first"))

    output = load(tmp_path)

    assert "removed" in output
    lesson.refresh_from_db()
    assert lesson.is_published is False
    assert LessonProgress.objects.filter(lesson=lesson).count() == 1


def _replace(rel, old, new):
    def mutate(course_dir):
        path = course_dir / rel
        text = path.read_text()
        assert old in text, f"fixture lacks {old!r}"
        path.write_text(text.replace(old, new, 1))

    return mutate


INVALID_CASES = {
    "missing objective": (
        _replace("lessons/02-second.md", 'objectives:\n  - id: L2.1\n    text: "Explain the third placeholder topic."\n', ""),
        "lessons/02-second.md:2", "lesson has no learning objectives",
    ),
    "duplicate slug": (
        _replace("lessons/02-second.md", "slug: second", "slug: first"),
        "lessons/02-second.md:1", "duplicate slug 'first'",
    ),
    "reference cited but not listed": (
        _replace("lessons/01-first.md", "Another one.[^beta]", "Another one.[^beta][^nowhere]"),
        "lessons/01-first.md:23", "citation [^nowhere] has no entry",
    ),
    "reference listed but never cited": (
        _replace("lessons/01-first.md", "Another one.[^beta]", "Another one."),
        "lessons/01-first.md:1", "reference 'beta' is listed but never cited",
    ),
    "broken internal link": (
        _replace("lessons/01-first.md", "(lesson:second#more)", "(lesson:third)"),
        "lessons/01-first.md:30", "no lesson with slug 'third'",
    ),
    "broken internal anchor": (
        _replace("lessons/01-first.md", "(lesson:second#more)", "(lesson:second#nowhere)"),
        "lessons/01-first.md:30", "has no section '#nowhere'",
    ),
    "invalid PMID": (
        _replace("lessons/01-first.md", 'pmid: "12345678"', 'pmid: "PMC123"'),
        "lessons/01-first.md:13", "invalid PMID",
    ),
    "invalid DOI": (
        _replace("lessons/01-first.md", 'doi: "10.1000/xyz123"', 'doi: "doi.org/xyz"'),
        "lessons/01-first.md:16", "invalid DOI",
    ),
    "missing figure": (
        _replace("lessons/01-first.md", "figures/diagram.svg", "figures/missing.svg"),
        "lessons/01-first.md:32", "does not exist",
    ),
    "raw html": (
        _replace("lessons/02-second.md", "Placeholder text.", "<script>alert(1)</script>"),
        "lessons/02-second.md:18", "raw HTML is not allowed",
    ),
    "bad yaml": (
        _replace("lessons/02-second.md", "order: 2", "order: [2"),
        "lessons/02-second.md", "invalid YAML",
    ),
    "item without objective": (
        _replace("items/01-first.yaml", "  objective: L1.1\n", ""),
        "items/01-first.yaml:1", "no learning objective",
    ),
    "item option without rationale": (
        _replace("items/01-first.yaml", '      rationale: "Not this."\n', ""),
        "items/01-first.yaml:12", "has no rationale",
    ),
    "item with two correct single answers": (
        _replace("items/01-first.yaml", 'correct: false\n      rationale: "Not this."', 'correct: true\n      rationale: "Not this."'),
        "items/01-first.yaml:1", "exactly one correct",
    ),
    "item reference not in lesson": (
        _replace("items/01-first.yaml", "references: [alpha]", "references: [gamma]"),
        "items/01-first.yaml:1", "reference 'gamma' is not in lesson 'first'",
    ),
    "item with unknown interaction": (
        _replace("items/01-first.yaml", "interaction: row-one", "interaction: row-two"),
        "items/01-first.yaml:19", "not a row of interactions.yaml",
    ),
    "banned phrase": (
        _replace("lessons/02-second.md", "Placeholder text.", "A game-changer for patients."),
        "lessons/02-second.md:18", "banned promotional phrase 'game-changer'",
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(INVALID_CASES))
def test_invalid_content_names_file_line_and_reason_and_writes_nothing(tmp_path, case):
    mutate, where, reason = INVALID_CASES[case]
    course_dir = write_course(tmp_path / "ok")
    load(tmp_path / "ok")
    before = snapshot()
    # A valid edit beside the invalid one: a partial load would show up as a new version.
    _replace("lessons/01-first.md", "A placeholder pearl.", "A placeholder pearl, edited.")(course_dir)
    mutate(course_dir)

    message = load_fails(tmp_path / "ok")

    assert f"test-course/{where}" in message
    assert reason in message
    assert "nothing was loaded" in message
    assert snapshot() == before


@pytest.mark.django_db
def test_invalid_content_on_empty_database_creates_nothing(tmp_path):
    course_dir = write_course(tmp_path)
    INVALID_CASES["broken internal link"][0](course_dir)

    load_fails(tmp_path)

    assert Course.objects.count() == 0
    assert LessonVersion.objects.count() == 0


@pytest.mark.django_db
def test_check_curriculum_reports_without_writing(tmp_path, django_assert_num_queries):
    course_dir = write_course(tmp_path)
    INVALID_CASES["invalid PMID"][0](course_dir)
    err = StringIO()
    with django_assert_num_queries(0), pytest.raises(CommandError):
        call_command("check_curriculum", content_dir=str(tmp_path), stdout=StringIO(), stderr=err)
    assert "01-first.md:13: error:" in err.getvalue()


@pytest.mark.django_db
def test_overdue_review_is_a_warning_that_check_curriculum_fails_on(tmp_path):
    write_course(tmp_path, reviewed="2020-01-01")
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("check_curriculum", content_dir=str(tmp_path), stdout=StringIO(), stderr=err)
    assert "past its review date" in err.getvalue()
    # Loading still works (a warning does not block learners), and says so.
    load_err = StringIO()
    call_command("load_curriculum", content_dir=str(tmp_path), stdout=StringIO(), stderr=load_err)
    assert "past its review date" in load_err.getvalue()


@pytest.mark.django_db
def test_lesson_completion_records_one_outbox_event(tmp_path, learner):
    write_course(tmp_path)
    load(tmp_path)
    lesson = Lesson.objects.select_related("current_version").get(slug="first")

    lesson_progress_complete(learner=learner, lesson=lesson, served_token=None, max_minutes=60)
    lesson_progress_complete(learner=learner, lesson=lesson, served_token=None, max_minutes=60)

    assert LearnerEvent.objects.filter(verb="completed").count() == 1
    assert LessonProgress.objects.get().completed_at is not None
    assert dt.date.today() >= LessonProgress.objects.get().completed_at.date()
