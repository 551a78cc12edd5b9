"""Enemy items: two questions of which one cues or answers the other never meet in one attempt.

The rule is declared in the item files (`enemies:`), stored on the item by the loader and by the
admin's editor, and honoured where questions are drawn (quizzes.grading.layout_build, through
quizzes.services._quiz_pool). The content checks live in tests/curriculum/test_content_integrity.py.
"""

import html
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from quizzes import grading, services
from quizzes.models import Item, ItemVersion, Quiz
from tests.factories import UserFactory
from tests.quizzes.factories import course_dir_write, default_items

COURSE = Path(settings.BASE_DIR) / "curriculum" / "content" / "kratom-for-clinicians"


def _with_enemies(enemies: dict[str, list[str]]) -> list[dict]:
    items = default_items()
    for item in items:
        if item["key"] in enemies:
            item["enemies"] = enemies[item["key"]]
    return items


def _load(root) -> str:
    out = StringIO()
    call_command("load_curriculum", content_dir=str(root), stdout=out)
    return out.getvalue()


def _drawn_keys(attempt) -> set[str]:
    versions = [entry["version"] for entry in attempt.layout]
    return set(ItemVersion.objects.filter(pk__in=versions).values_list("item__key", flat=True))


@pytest.mark.django_db
def test_the_loader_stores_enemies_on_the_item_and_a_change_is_no_new_version(tmp_path):
    _load(course_dir_write(tmp_path, items=_with_enemies({"post-1-1": ["post-2-1"]})))
    assert Item.objects.get(key="post-1-1").enemies == ["post-2-1"]
    assert Item.objects.get(key="post-2-1").enemies == []
    course_dir_write(tmp_path, items=_with_enemies({"post-1-1": ["post-2-1", "pre-2"]}))
    out = _load(tmp_path)
    item = Item.objects.get(key="post-1-1")
    assert item.enemies == ["post-2-1", "pre-2"]
    assert item.versions.count() == 1  # assembly metadata, like pools: statistics carry on
    assert "items: created 0, updated 1, unchanged 10" in out


@pytest.mark.django_db
def test_a_post_test_attempt_never_shows_two_enemies(tmp_path):
    """The small course's post-test shows its whole pool (6 items, 20 asked for); with post-1-1 and
    post-2-1 declared enemies (on one side only), each attempt leaves one of the two out."""
    _load(course_dir_write(tmp_path))
    quiz = Quiz.objects.get(kind=Quiz.Kind.POSTTEST)
    plain = _drawn_keys(services.attempt_start(learner=UserFactory(), quiz=quiz))
    assert {"post-1-1", "post-2-1"} <= plain  # without the declaration they always meet

    _load(course_dir_write(tmp_path, items=_with_enemies({"post-1-1": ["post-2-1"]})))
    seen = []
    for _ in range(30):
        drawn = _drawn_keys(services.attempt_start(learner=UserFactory(), quiz=quiz))
        assert len({"post-1-1", "post-2-1"} & drawn) == 1, drawn
        assert drawn | {"post-1-1", "post-2-1"} == plain  # nothing else is lost
        seen.append(drawn)
    # Which of the two is left out varies with the attempt's seed (about 1 in 10**9 to fail by chance).
    assert any("post-1-1" in d for d in seen) and any("post-2-1" in d for d in seen)


@pytest.mark.django_db
def test_the_bundled_post_test_never_draws_a_declared_pair():
    """The reviewed cue pairs of the bundled course (docs/reviews/2026-11-28-posttest-cue-pairs.md):
    sixty attempts, none with both items of a pair, though plain draws of the same seeds meet them."""
    call_command("load_curriculum", stdout=StringIO())
    pairs = {
        frozenset((key, other))
        for key, pools, enemies in Item.objects.filter(course__slug=COURSE.name).values_list("key", "pools", "enemies")
        for other in enemies
        if "posttest" in pools
    }
    assert len(pairs) >= 25
    quiz = Quiz.objects.get(course__slug=COURSE.name, kind=Quiz.Kind.POSTTEST)
    pool = services._quiz_pool(quiz)
    key_of = dict(ItemVersion.objects.filter(pk__in=[p.version_id for p in pool]).values_list("pk", "item__key"))
    plain_pool = [grading.PoolItem(p.version_id, p.objective_id, p.option_ids) for p in pool]
    met_without = 0
    for _ in range(60):
        attempt = services.attempt_start(learner=UserFactory(), quiz=quiz)
        drawn = _drawn_keys(attempt)
        assert len(drawn) == quiz.question_count
        assert not [set(pair) for pair in pairs if pair <= drawn]
        plain = grading.layout_build(plain_pool, seed=attempt.seed, per_objective=None, total=quiz.question_count)
        plain_keys = {key_of[entry["version"]] for entry in plain}
        met_without += any(pair <= plain_keys for pair in pairs)
    assert met_without > 0


def test_the_bundled_declarations_are_the_reviewed_pairs():
    """Every pair the 2026-11-28 reviews called strong or moderate (and not fixed by a rewrite) is
    declared, so a later edit that drops one fails here rather than silently."""
    declared = set()
    for path in (COURSE / "items").glob("*.yaml"):
        for item in yaml.safe_load(path.read_text()):
            declared |= {frozenset((item["key"], other)) for other in item.get("enemies", [])}
    reviewed = {
        ("mood-07", "ddi-10"), ("mood-07", "ddi-08"), ("ae-04", "enc-04"), ("ae-12", "ddi-05"),
        ("ddi-07", "ddi-03"), ("dep-08", "pharm-10"), ("dep-08", "pharm-11"), ("mood-10", "dep-13"),
        ("prac-05", "enc-01"), ("prac-05", "enc-03"), ("prac-05", "enc-09"), ("enc-03", "enc-09"),
        ("mood-02", "pharm-06"), ("enc-10", "dep-04"), ("enc-04", "ae-06"), ("dep-04", "dep-09"),
        ("dep-04", "dep-13"), ("mood-10", "dep-09"), ("ae-12", "enc-06"), ("prac-04", "enc-01"),
        # The second review's moderate pairs (docs/reviews/2026-11-28-cue-pairs-second-review.md).
        ("dep-04", "prac-11"), ("mood-04", "pharm-04"), ("enc-06", "ddi-05"), ("mood-07", "enc-06"),
        ("ddi-06", "ae-09"), ("dep-08", "enc-05"), ("pharm-11", "enc-05"),
        # N1 of the second review, possible once prac-13 gave L1.1 a post-test item with no enemy.
        ("pharm-08", "prac-06"),
    }
    assert {frozenset(pair) for pair in reviewed} <= declared


# --- the draw itself -------------------------------------------------------------------


def _pool(objectives: int, per: int, enemies: dict[int, set[int]] | None = None) -> list[grading.PoolItem]:
    enemies = enemies or {}
    return [
        grading.PoolItem(o * 100 + i, o, (o * 1000 + i,), frozenset(enemies.get(o * 100 + i, ())))
        for o in range(1, objectives + 1)
        for i in range(per)
    ]


# Enemies across objectives, each declared on one side only (the draw bars both ways).
PAIRS = [(100, 200), (101, 300), (102, 2100), (400, 500), (401, 501)]


@pytest.mark.parametrize(("per_objective", "total"), [(None, 20), (1, None), (2, 30)])
def test_the_draw_keeps_enemies_apart_and_every_objective_it_can(per_objective, total):
    enemies: dict[int, set[int]] = {}
    for a, b in PAIRS:
        enemies.setdefault(a, set()).add(b)
    pool, plain = _pool(21, 3, enemies), _pool(21, 3)
    met_without = 0
    for seed in range(300):
        layout = grading.layout_build(pool, seed=seed, per_objective=per_objective, total=total)
        drawn = [entry["version"] for entry in layout]
        assert len(drawn) == len(set(drawn))
        assert not [pair for pair in PAIRS if set(pair) <= set(drawn)]
        # Each objective keeps an item with no enemy, so the draw is as full as without enemies.
        expected = len(grading.layout_build(plain, seed=seed, per_objective=per_objective, total=total))
        assert len(drawn) == expected
        if total and total <= 21:
            assert len({v // 100 for v in drawn}) == total  # one per objective, as without enemies
        plain_drawn = {e["version"] for e in grading.layout_build(plain, seed=seed, per_objective=per_objective, total=total)}
        met_without += any(set(pair) <= plain_drawn for pair in PAIRS)
    assert met_without > 0


def test_the_draw_is_the_same_for_a_pool_without_enemies():
    """Declaring no enemies changes nothing: same seed, same layout (objective order, options)."""
    pool = _pool(5, 3)
    for seed in range(50):
        assert grading.layout_build(pool, seed=seed, per_objective=1, total=None) == grading.layout_build(
            [grading.PoolItem(p.version_id, p.objective_id, p.option_ids, frozenset({999})) for p in pool],
            seed=seed, per_objective=1, total=None,
        )


def test_an_objective_whose_items_are_all_barred_is_skipped_not_repeated():
    """Both items of objective 2 are enemies of objective 1's only item: whichever comes first wins."""
    pool = _pool(1, 1, {100: {200, 201}}) + _pool(2, 2)[2:] + _pool(3, 1)[2:]
    for seed in range(40):
        drawn = {e["version"] for e in grading.layout_build(pool, seed=seed, per_objective=None, total=10)}
        assert not (100 in drawn and drawn & {200, 201})
        assert 300 in drawn


# --- the admin's editor ------------------------------------------------------------------


@pytest.fixture
def small(tmp_path, db, settings):
    course_dir_write(tmp_path)
    settings.CURRICULUM_CONTENT_DIR = tmp_path
    _load(tmp_path)
    return Item.objects.select_related("current_version").get(key="post-1-1")


def _change(author_client, item, source):
    return author_client.post(reverse("admin:quizzes_item_change", args=[item.pk]), {"source": source, "is_active": "on"})


def test_the_editor_shows_the_items_own_pools_and_enemies(author_client, small):
    """A reload changed them without a new version: the form must not offer the version's old ones,
    or saving it would quietly put them back."""
    Item.objects.filter(pk=small.pk).update(pools=["pretest", "posttest"], enemies=["post-2-1"])
    page = author_client.get(reverse("admin:quizzes_item_change", args=[small.pk])).content.decode()
    source = yaml.safe_load(page.split("<textarea", 1)[1].split(">", 1)[1].split("</textarea>", 1)[0].replace("&quot;", '"').replace("&#x27;", "'"))
    assert source["pools"] == ["pretest", "posttest"]
    assert source["enemies"] == ["post-2-1"]


def test_the_editor_saves_enemies_without_a_new_version(author_client, small):
    source = small.current_version.source + "enemies: [post-2-1]\n"
    assert _change(author_client, small, source).status_code == 302
    small.refresh_from_db()
    assert small.enemies == ["post-2-1"]
    assert small.current_version.number == 1


@pytest.mark.parametrize(
    ("enemies", "pools", "message"),
    [
        ("[nope-1]", None, "enemy 'nope-1' is not an item of this course"),
        ("[post-1-1]", None, "an item cannot be its own enemy"),
        ("post-2-1", None, "enemies must be a list of item keys"),
        # chk-1-1 is in lesson one's knowledge check, which shows every item: they would always meet.
        ("[chk-1-1]", "[check]", "are enemies but both in the knowledge check of lesson lesson-one"),
    ],
)
def test_the_editor_refuses_a_bad_enemy_and_writes_nothing(author_client, small, enemies, pools, message):
    source = small.current_version.source + f"enemies: {enemies}\n"
    if pools:
        source = source.replace("pools:\n- posttest", f"pools: {pools}")
        assert f"pools: {pools}" in source
    response = _change(author_client, small, source)
    assert response.status_code == 400
    assert message in html.unescape(response.content.decode())
    small.refresh_from_db()
    assert (small.enemies, small.pools, small.current_version.number) == ([], ["posttest"], 1)

