"""Integrity of the bundled course: every rule holds now, and each rule can fail.

The rules themselves live in curriculum/content.py (per-file checks) and in
course.md's `integrity:` block (course-level counts); these tests run them on
the real course and on deliberately broken copies of it.
"""

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest
import yaml
from django.conf import settings

from curriculum import content

CONTENT = Path(settings.BASE_DIR) / "curriculum" / "content"
COURSE = CONTENT / "kratom-for-clinicians"


@pytest.fixture(scope="module")
def bundle():
    return content.course_bundle_parse(COURSE, content_root=CONTENT)


def test_bundled_course_has_no_problems_or_warnings(bundle):
    assert [str(p) for p in bundle.problems] == []


def test_bundled_course_meets_the_issue_counts(bundle):
    rules = bundle.course["integrity"]
    assert rules["lessons"] == 7 == len(bundle.lessons)
    assert sum("pretest" in i.pools for i in bundle.items) == 10
    assert sum("posttest" in i.pools for i in bundle.items) >= 40
    assert sum(bool(i.myth) for i in bundle.items) >= 8
    assert len(bundle.items) >= 80
    assert {m["id"] for m in bundle.myths} == set("abcdefgh")


def test_every_myth_is_corrected_by_an_item(bundle):
    corrected = {item.myth for item in bundle.items if item.myth}
    assert corrected == {m["id"] for m in bundle.myths}


def test_every_lesson_cites_references_with_identifiers(bundle):
    for lesson in bundle.lessons:
        assert lesson.references, lesson.path
        for ref in lesson.references:
            assert ref["pmid"] or ref["doi"] or ref["url"], (lesson.path, ref["key"])
        assert 'class="footnote-ref"' in lesson.body_html


def test_every_item_has_objective_rationales_and_references(bundle):
    for item in bundle.items:
        assert item.objective and item.references, item.key
        assert all(option["rationale"] for option in item.options), item.key


def test_no_lesson_is_past_its_review_date(bundle):
    cycle = int(bundle.course["review_cycle_months"])
    for lesson in bundle.lessons:
        assert lesson.last_reviewed + dt.timedelta(days=cycle * 31) >= dt.date.today(), lesson.path


def test_figures_have_text_alternatives():
    for svg in (COURSE / "figures").glob("*.svg"):
        text = svg.read_text()
        assert re.search(r"<title[^>]*>[^<]+</title>", text), svg.name
        assert re.search(r"<desc[^>]*>[^<]+</desc>", text), svg.name
        assert 'role="img"' in text and "<script" not in text, svg.name


@pytest.fixture
def broken_copy(tmp_path):
    """A copy of the bundled course to break one rule at a time."""
    shutil.copytree(COURSE, tmp_path / COURSE.name)
    shutil.copy(CONTENT / "banned_phrases.txt", tmp_path / "banned_phrases.txt")
    return tmp_path / COURSE.name


def _problems(course_dir: Path, today=None) -> list[str]:
    parsed = content.course_bundle_parse(course_dir, content_root=course_dir.parent, today=today)
    return [str(p) for p in parsed.problems]


def _edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text, f"{path.name} lacks {old!r}"
    path.write_text(text.replace(old, new, count))


def _first_objective_block(text: str) -> str:
    return re.search(r"  - id: L1\.3\n    text: .*\n", text).group(0)


def test_fails_on_a_lesson_without_references(broken_copy):
    lesson = broken_copy / "lessons" / "07-clinical-encounter.md"
    header, body = lesson.read_text().split("\nreferences:", 1)
    rest = body.split("\n---\n", 1)[1]
    lesson.write_text(header + "\n---\n" + re.sub(r"\[\^[^\]]+\]", "", rest))
    assert any("lesson has no references" in p for p in _problems(broken_copy))


def test_fails_on_too_few_objectives(broken_copy):
    lesson = broken_copy / "lessons" / "01-kratom-in-practice.md"
    text = lesson.read_text()
    lesson.write_text(text.replace(_first_objective_block(text), ""))
    (broken_copy / "items").joinpath("01-kratom-in-practice.yaml").write_text(
        (broken_copy / "items" / "01-kratom-in-practice.yaml").read_text().replace("objective: L1.3", "objective: L1.2")
    )
    assert any("2 objectives; each lesson needs 3-5" in p for p in _problems(broken_copy))


def test_fails_on_an_uncited_reference(broken_copy):
    lesson = broken_copy / "lessons" / "03-dependence-withdrawal.md"
    key = re.search(r"  - key: (\S+)", lesson.read_text()).group(1)
    _edit(lesson, f"[^{key}]", "", count=-1)
    assert any(f"reference '{key}' is listed but never cited" in p for p in _problems(broken_copy))


def test_fails_on_a_citation_without_reference(broken_copy):
    _edit(broken_copy / "lessons" / "04-adverse-effects.md", "\n## ", "\nUnsourced claim.[^made-up]\n\n## ")
    assert any("citation [^made-up] has no entry" in p for p in _problems(broken_copy))


def test_fails_on_an_invalid_pmid(broken_copy):
    lesson = broken_copy / "lessons" / "02-pharmacology.md"
    pmid = re.search(r'pmid: "(\d+)"', lesson.read_text()).group(1)
    _edit(lesson, f'pmid: "{pmid}"', 'pmid: "PMID-x"')
    assert any("invalid PMID" in p for p in _problems(broken_copy))


def test_fails_on_an_invalid_doi(broken_copy):
    lesson = broken_copy / "lessons" / "05-drug-interactions.md"
    doi = re.search(r'doi: "([^"]+)"', lesson.read_text()).group(1)
    _edit(lesson, f'doi: "{doi}"', 'doi: "https://doi.org/x"')
    assert any("invalid DOI" in p for p in _problems(broken_copy))


def test_fails_on_an_item_without_objective(broken_copy):
    _edit(broken_copy / "items" / "06-kratom-and-depression.yaml", "  objective: L6.", "  old_objective: L6.")
    assert any("no learning objective" in p for p in _problems(broken_copy))


def test_fails_on_an_option_without_rationale(broken_copy):
    path = broken_copy / "items" / "02-pharmacology.yaml"
    text = path.read_text()
    path.write_text(re.sub(r"\n\s+rationale: .*", "", text, count=1))
    assert any("has no rationale" in p for p in _problems(broken_copy))


def test_fails_on_an_item_without_references(broken_copy):
    path = broken_copy / "items" / "07-clinical-encounter.yaml"
    path.write_text(re.sub(r"\n  references: .*", "\n  references: []", path.read_text(), count=1))
    assert any("no references" in p for p in _problems(broken_copy))


def test_fails_on_an_objective_with_too_few_posttest_items(broken_copy):
    path = broken_copy / "items" / "03-dependence-withdrawal.yaml"
    path.write_text(path.read_text().replace("objective: L3.1", "objective: L3.2"))
    assert any("objective L3.1 is assessed by 0 post-test items" in p for p in _problems(broken_copy))


def test_fails_on_an_interaction_item_without_its_table_row(broken_copy):
    path = broken_copy / "items" / "05-drug-interactions.yaml"
    path.write_text(re.sub(r"\n  interaction: .*", "", path.read_text(), count=1))
    assert any("names no interactions.yaml row" in p for p in _problems(broken_copy))


def test_fails_on_a_banned_promotional_phrase(broken_copy):
    phrase = next(
        line.strip() for line in (CONTENT / "banned_phrases.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    _edit(broken_copy / "lessons" / "07-clinical-encounter.md", "\n## ", f"\nKratom is a {phrase}.\n\n## ")
    assert any(f"banned promotional phrase {phrase!r}" in p for p in _problems(broken_copy))


def test_fails_on_a_lesson_past_its_review_date(broken_copy):
    later = dt.date.today() + dt.timedelta(days=3 * 365)
    assert any("past its review date" in p for p in _problems(broken_copy, today=later))


def _pad_keys(course_dir, files, item_type: str) -> None:
    """Lengthen every correct option of the given type's items in these item files."""
    for name in files:
        path = course_dir / "items" / name
        items = yaml.safe_load(path.read_text())
        for item in (item for item in items if item["type"] == item_type):
            for option in item["options"]:
                if option["correct"]:
                    option["text"] += ", as the lesson explains in detail with its sources and their limits, at length"
        path.write_text(yaml.safe_dump(items, sort_keys=False, allow_unicode=True))


@pytest.mark.parametrize(
    "item_type, files, problem, rule, named",
    [
        # A test-wise learner picks the longest option.
        ("single", ("05-drug-interactions.yaml", "06-kratom-and-depression.yaml"), "single-answer items",
         "integrity.longest_key_share_max allows 34%", ("ddi-01", "mood-02")),
        # Ticking the longest options must not score full marks on select-all items.
        ("multiple", ("04-adverse-effects.yaml", "06-kratom-and-depression.yaml"), "select-all items",
         "integrity.longest_keys_share_max allows 20%", ("ae-10", "mood-06")),
    ],
)
def test_fails_when_the_correct_options_are_mostly_the_longest(broken_copy, item_type, files, problem, rule, named):
    """Padding every key of two lessons' items gives the length cue back, and check_curriculum
    names the items."""
    _pad_keys(broken_copy, files, item_type)
    problems = [p for p in _problems(broken_copy) if problem in p]
    assert len(problems) == 1, problems
    assert rule in problems[0]
    assert all(key in problems[0] for key in named)


def _flip_truefalse(course_dir, keys) -> None:
    """Turn these true/false items' answers around (True becomes the wrong option, and so on)."""
    for path in (course_dir / "items").glob("*.yaml"):
        items = yaml.safe_load(path.read_text())
        flipped = [item for item in items if item["key"] in keys]
        for item in flipped:
            for option in item["options"]:
                option["correct"] = not option["correct"]
        if flipped:
            path.write_text(yaml.safe_dump(items, sort_keys=False, allow_unicode=True))


def test_fails_when_one_answer_is_the_key_of_most_true_false_items(broken_copy):
    """Two of the "True" statements flipped to "False": always answering False would score 8 of 12."""
    assert not [p for p in _problems(broken_copy) if "true/false" in p]
    _flip_truefalse(broken_copy, {"dep-06", "ae-06"})
    problems = [p for p in _problems(broken_copy) if "true/false" in p]
    assert len(problems) == 1, problems
    assert "the answer is False in 8 of 12 true/false items (67%)" in problems[0]
    assert "integrity.truefalse_key_share_max allows 60%" in problems[0]
    assert "dep-06" in problems[0] and "enc-c02" in problems[0] and "mood-08" not in problems[0]


def _set_pools(course_dir, changes: dict[str, str]) -> None:
    """Set these items' `pools:` lines (key -> the new flow list)."""
    for path in (course_dir / "items").glob("*.yaml"):
        text = path.read_text()
        for key, pools in changes.items():
            text = re.sub(rf"(- key: {key}\n  type: \w+\n  pools: )\[[^\]]*\]", rf"\g<1>{pools}", text)
        path.write_text(text)


@pytest.mark.parametrize(
    "changes, quiz, named",
    [
        # mood-01 back in the post-test beside pharm-04: both quote the "k-pin" claim.
        ({"mood-01": "[posttest]"}, "the post-test", "(pharm-04, mood-01)"),
        # mood-06 lists the harms that ae-07's key names: both correct the side-effects claim.
        ({"mood-06": "[posttest]"}, "the post-test", "(ae-07, mood-06)"),
        # Two items on one claim in the pre-test.
        ({"mood-01": "[pretest]"}, "the pre-test", "(pharm-04, mood-01)"),
    ],
)
def test_fails_when_one_quiz_can_draw_two_items_on_the_same_claim(broken_copy, changes, quiz, named):
    assert not [p for p in _problems(broken_copy) if "integrity.myth_items_per_quiz_max" in p]
    _set_pools(broken_copy, changes)
    problems = [p for p in _problems(broken_copy) if "integrity.myth_items_per_quiz_max" in p]
    assert len(problems) == 1, problems
    assert f"in the pool of {quiz} {named}" in problems[0]


def test_two_items_on_one_claim_in_one_knowledge_check_fail_too(broken_copy):
    """mood-c01 marked as correcting claim f for the test: lesson 6's check, where mood-06 is, would
    then show two items on that claim in one attempt."""
    _edit(
        broken_copy / "items" / "06-kratom-and-depression.yaml",
        "- key: mood-c01\n  type: single\n  pools: [check]\n  objective: L6.2\n  section: kratom-and-depression#how-to-read-the-evidence\n",
        "- key: mood-c01\n  type: single\n  pools: [check]\n  objective: L6.2\n  section: kratom-and-depression#how-to-read-the-evidence\n  myth: f\n",
    )
    problems = [p for p in _problems(broken_copy) if "integrity.myth_items_per_quiz_max" in p]
    assert len(problems) == 1, problems
    assert "in the pool of the knowledge check of lesson kratom-and-depression (mood-c01, mood-06)" in problems[0]


ITEMS = "items/{}.yaml".format


@pytest.mark.parametrize(
    ("file", "old", "new", "problem"),
    [
        ("06-kratom-and-depression", "  enemies: [ddi-08, ddi-10, enc-06]\n", "  enemies: [ddi-08, ddi-99]\n",
         "item 'mood-07': enemy 'ddi-99' is not an item of this course"),
        ("06-kratom-and-depression", "  enemies: [ddi-08, ddi-10, enc-06]\n", "  enemies: [mood-07]\n",
         "item 'mood-07': an item cannot be its own enemy"),
        ("06-kratom-and-depression", "  enemies: [ddi-08, ddi-10, enc-06]\n", "  enemies: ddi-08\n",
         "item 'mood-07': enemies must be a list of item keys"),
        # enc-01 back in the pre-test beside prac-04, its enemy: the pre-test shows its whole pool.
        ("07-clinical-encounter", "  pools: [posttest]\n  enemies: [prac-04]\n",
         "  pools: [pretest, posttest]\n  enemies: [prac-04]\n",
         "items 'enc-01' and 'prac-04' are enemies but both in the pre-test"),
        # Two items of lesson 3's knowledge check declared enemies: every check attempt shows both.
        ("03-dependence-withdrawal", "- key: dep-02\n  type: single\n  pools: [check]\n",
         "- key: dep-02\n  type: single\n  pools: [check]\n  enemies: [dep-01]\n",
         "items 'dep-01' and 'dep-02' are enemies but both in the knowledge check of lesson dependence-withdrawal"),
        # dep-07 back in lesson 3's check: L3.2's other post-test items all have post-test enemies.
        ("03-dependence-withdrawal", "- key: dep-07\n  type: single\n  pools: [posttest]\n",
         "- key: dep-07\n  type: single\n  pools: [check]\n",
         "objective L3.2: each of its post-test items (dep-08, dep-09, dep-13) has an enemy in the post-test"),
    ],
)
def test_fails_on_a_bad_enemy_declaration(broken_copy, file, old, new, problem):
    _edit(broken_copy / ITEMS(file), old, new)
    problems = _problems(broken_copy)
    assert [p for p in problems if problem in p], problems


def test_enemies_in_different_knowledge_checks_are_allowed(broken_copy):
    """Each lesson's check is its own quiz: enemies there never meet in one attempt."""
    _edit(
        broken_copy / ITEMS("03-dependence-withdrawal"),
        "- key: dep-02\n  type: single\n  pools: [check]\n",
        "- key: dep-02\n  type: single\n  pools: [check]\n  enemies: [mood-c01]\n",
    )
    assert _problems(broken_copy) == []


def test_two_post_test_items_on_one_claim_pass_only_as_enemies(broken_copy):
    """mood-07 and ddi-10 both correct claim g in the post-test pool: allowed because the draw never
    takes both; without the declaration, the myth rule fails."""
    assert _problems(broken_copy) == []
    _edit(broken_copy / ITEMS("06-kratom-and-depression"), "  enemies: [ddi-08, ddi-10, enc-06]\n", "  enemies: [ddi-08, enc-06]\n")
    problems = [p for p in _problems(broken_copy) if "integrity.myth_items_per_quiz_max" in p]
    assert len(problems) == 1, problems
    assert "myth g is corrected by 2 items in the pool of the post-test (ddi-10, mood-07)" in problems[0]
    assert "one attempt can draw 2 of them together" in problems[0]


def test_lesson_6_check_feedback_does_not_answer_mood_c02(bundle):
    """A knowledge check shows every rationale of a question once it is answered, and enemies cannot
    split a pool shown whole. mood-01's rationales once called 7-OH a "mu-opioid agonist", which is
    mood-c02's answer in the same check (review M8, docs/reviews/2026-11-28-posttest-cue-pairs.md)."""
    items = {item.key: item for item in bundle.items}
    assert "check" in items["mood-01"].pools and "check" in items["mood-c02"].pools
    assert items["mood-01"].lesson == items["mood-c02"].lesson
    assert "agonist at the mu-opioid receptor" in " ".join(items["mood-c02"].stem.split())
    for option in items["mood-01"].options:
        assert not re.search(r"opioid|agonis|receptor", option["rationale"], re.IGNORECASE), option["rationale"]


def _item(item_type: str, *options) -> content.ItemDoc:
    return content.ItemDoc(
        path="x", line=1, key="k", type=item_type, pools=[], objective="", lesson="", section="",
        difficulty="", myth="", interaction="", stem="", references=[],
        options=[{"text": text, "correct": correct} for text, correct in options],
    )


def test_key_is_longest_counts_ties_and_ignores_multiple_answer_items():
    assert content.key_is_longest(_item("single", ("bbbb", True), ("aaaa", False), ("cc", False)))
    assert not content.key_is_longest(_item("single", ("bbb", True), ("aaaa", False), ("cc", False)))
    assert not content.key_is_longest(_item("single", ("bbbb", True), ("aaaa", True), ("cc", False)))


def test_keys_are_longest_needs_every_key_at_least_as_long_as_every_wrong_option():
    assert content.keys_are_longest(_item("multiple", ("bbbb", True), ("aaaa", True), ("cc", False)))
    assert content.keys_are_longest(_item("multiple", ("bbb", True), ("aaa", False), ("cc", False)))  # a tie counts
    assert not content.keys_are_longest(_item("multiple", ("bbbb", True), ("aa", True), ("ccc", False)))
    assert not content.keys_are_longest(_item("multiple", ("bbbb", True), ("aaaa", True)))  # no wrong option: no cue
