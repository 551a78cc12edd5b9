"""load_curriculum stores the item bank with the lessons, in one transaction."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import transaction

from curriculum import content
from curriculum.models import Course, Lesson
from curriculum.services import curriculum_load
from quizzes.models import Item, ItemVersion, Option, Quiz
from quizzes.services import item_bank_sync
from tests.quizzes.factories import course_dir_write, default_items, item_dict


def _load(root, capsys=None):
    call_command("load_curriculum", content_dir=str(root))
    return capsys.readouterr().out if capsys else ""


@pytest.mark.django_db
def test_load_creates_items_versions_and_options(tmp_path, capsys):
    out = _load(course_dir_write(tmp_path), capsys)
    assert Item.objects.count() == len(default_items())
    assert ItemVersion.objects.count() == len(default_items())
    version = ItemVersion.objects.get(item__key="post-1-2")
    assert version.type == "multiple"
    assert version.objective.key == "L1.2"
    assert version.lesson.slug == "lesson-one"
    assert version.section == "basics"
    assert version.references[0]["key"] == "ref1"
    assert [o.is_correct for o in version.options.all()] == [True, True, False, False]
    assert "<p>Placeholder rationale 0.</p>" in version.options.first().rationale_html
    assert ItemVersion.objects.get(item__key="pre-1").myth.key == "m1"
    assert "items: created 11, updated 0, unchanged 0" in out


@pytest.mark.django_db
def test_load_creates_default_quizzes(tmp_path):
    _load(course_dir_write(tmp_path))
    quizzes = {(q.kind, q.lesson.slug if q.lesson else None): q for q in Quiz.objects.select_related("lesson")}
    assert set(quizzes) == {
        ("pretest", None), ("posttest", None), ("recheck", None), ("check", "lesson-one"), ("check", "lesson-two")
    }
    post = quizzes[("posttest", None)]
    assert (post.pass_mark, post.attempt_limit, post.wait_minutes, post.question_count, post.recheck_days) == (
        75, 3, 0, 20, 14
    )
    assert quizzes[("pretest", None)].attempt_limit == 1


@pytest.mark.django_db
def test_second_load_is_a_no_op(tmp_path, capsys):
    root = course_dir_write(tmp_path)
    _load(root)
    capsys.readouterr()
    out = _load(root, capsys)
    assert "No changes" in out
    assert "items: created 0, updated 0, unchanged 11, removed 0; quizzes created 0" in out
    assert ItemVersion.objects.count() == 11


@pytest.mark.django_db
def test_edited_item_gets_a_new_version_and_keeps_the_old(tmp_path, capsys):
    root = course_dir_write(tmp_path)
    _load(root)
    items = default_items()
    items[0]["stem"] = "An edited placeholder stem?"
    course_dir_write(tmp_path, items=items)
    capsys.readouterr()
    out = _load(root, capsys)
    item = Item.objects.get(key="pre-1")
    assert list(item.versions.values_list("number", flat=True)) == [1, 2]
    assert item.current_version.number == 2
    assert "edited" in item.current_version.stem_html
    assert "items: created 0, updated 1, unchanged 10" in out


@pytest.mark.django_db
def test_removed_item_is_deactivated_not_deleted(tmp_path):
    root = course_dir_write(tmp_path)
    _load(root)
    course_dir_write(tmp_path, items=default_items()[1:])
    _load(root)
    assert Item.objects.get(key="pre-1").is_active is False


@pytest.mark.django_db
def test_quiz_settings_changed_by_staff_survive_a_reload(tmp_path):
    root = course_dir_write(tmp_path)
    _load(root)
    Quiz.objects.filter(kind="posttest").update(pass_mark=80)
    _load(root)
    assert Quiz.objects.get(kind="posttest").pass_mark == 80


@pytest.mark.django_db
def test_a_bad_item_loads_nothing(tmp_path):
    items = default_items() + [item_dict("bad", objective=9)]
    root = course_dir_write(tmp_path, items=items)
    with pytest.raises(CommandError):
        _load(root)
    assert (Course.objects.count(), Lesson.objects.count(), Item.objects.count(), Option.objects.count()) == (
        0, 0, 0, 0
    )


@pytest.mark.django_db
def test_an_item_failing_to_store_rolls_back_the_lessons(tmp_path):
    """As in load_curriculum: lessons and items in one atomic block; an item error undoes both."""
    root = course_dir_write(tmp_path)
    bundle = content.course_bundle_parse(root / "quiz-course", content_root=root)
    bundle.items[0].objective = "L9.9"  # valid on parse in an older file, gone from the lessons now
    with pytest.raises(ValidationError), transaction.atomic():
        curriculum_load(bundles=[bundle])
        item_bank_sync(course=Course.objects.get(slug="quiz-course"), items=bundle.items)
    assert (Course.objects.count(), Lesson.objects.count(), Item.objects.count()) == (0, 0, 0)
