"""QTI export (issue #7, section 7): schema-valid 2.1 packages, and a 3.0 package
that a third-party converter turns into valid 2.1 without losing anything.

The 2.1 checks use the 1EdTech schemas vendored in lms/standards/qti21/; QTI
3.0 has no offline schema, so `citolab-qti-convert` (test-only) downgrades
the 3.0 package and the result is validated and compared with our 2.1 export.
"""

from __future__ import annotations

import io
import zipfile
from http import HTTPStatus

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.urls import reverse
from lxml import etree
from qti_convert import downgrade_package

from lms.qti import package, schemas, selectors
from quizzes.models import Item, Quiz
from tests.factories import UserFactory
from tests.quizzes.factories import course_dir_write

QTI = {"q": package.QTI21}
BUNDLED = "kratom-for-clinicians"
SMALL = "quiz-course"


def _export(tmp_path, course: str, version: str = "2.1") -> dict[str, bytes]:
    target = tmp_path / f"{course}-{version}.zip"
    call_command("export_qti", course, "--version", version, "--output", str(target))
    with zipfile.ZipFile(target) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _as_files(files: dict) -> dict[str, bytes]:
    return {path: content.encode() if isinstance(content, str) else content for path, content in files.items()}


@pytest.fixture
def bundled(db):
    call_command("load_curriculum")


@pytest.fixture
def small(db, tmp_path):
    call_command("load_curriculum", content_dir=str(course_dir_write(tmp_path / "content")))


def _item_summary(files: dict[str, bytes]) -> dict[str, dict]:
    """Per item file: cardinality, choice ids, keyed ids, and feedback text per choice."""
    summary = {}
    for path, content in files.items():
        if not path.startswith("items/"):
            continue
        root = etree.fromstring(content)
        summary[path] = {
            "identifier": root.get("identifier"),
            "cardinality": root.find("q:responseDeclaration", QTI).get("cardinality"),
            "choices": [c.get("identifier") for c in root.iterfind(".//q:simpleChoice", QTI)],
            "key": [v.text for v in root.iterfind("q:responseDeclaration/q:correctResponse/q:value", QTI)],
            "feedback": {
                f.get("identifier"): " ".join("".join(f.itertext()).split())
                for f in root.iterfind("q:modalFeedback", QTI)
            },
        }
    return summary


# --- QTI 2.1 ------------------------------------------------------------------------


def test_every_document_of_the_bundled_course_is_schema_valid(bundled, tmp_path):
    """All items, both tests and the manifest validate against the vendored 2.1 schemas."""
    files = _export(tmp_path, BUNDLED)
    active = Item.objects.filter(course__slug=BUNDLED, is_active=True).count()
    assert sum(1 for path in files if path.startswith("items/")) == active
    assert {"imsmanifest.xml", "tests/pretest.xml", "tests/posttest.xml"} <= set(files)
    assert schemas.package21_errors(files) == {}


def test_schema_check_rejects_a_broken_item(small, tmp_path):
    """The validation can fail: an item without its interaction's response id is reported."""
    files = _export(tmp_path, SMALL)
    root = etree.fromstring(files["items/post-1-1.xml"])
    del root.find(".//q:choiceInteraction", QTI).attrib["responseIdentifier"]
    assert schemas.errors(schemas.qti21_schema(), root) != []


def test_schema_check_rejects_unknown_metadata_in_the_manifest(small, tmp_path):
    """Metadata is validated, not skipped: a misspelt qtiMetadata element fails."""
    files = _export(tmp_path, SMALL)
    root = etree.fromstring(files["imsmanifest.xml"])
    md = root.find(f".//{{{package.QTIMD21}}}interactionType")
    md.tag = f"{{{package.QTIMD21}}}interactionKind"
    assert schemas.errors(schemas.manifest21_schema(), root) != []


def test_items_carry_the_key_and_one_rationale_per_option(small, tmp_path):
    """correctResponse lists exactly the keyed options; each option has its rationale as feedback."""
    files = _export(tmp_path, SMALL)
    summary = _item_summary(files)
    for item in Item.objects.filter(course__slug=SMALL).prefetch_related("current_version__options"):
        options = list(item.current_version.options.order_by("position"))
        entry = summary[f"items/{item.key}.xml"]
        assert entry["key"] == [package.choice_id(o.position) for o in options if o.is_correct]
        assert entry["feedback"] == {
            package.choice_id(o.position): package.plain_text(o.rationale_html) for o in options
        }


def test_choice_cardinality_follows_the_item_type(small, tmp_path):
    """single -> single; multiple -> multiple, all-or-nothing; true/false -> two fixed choices."""
    summary = _item_summary(_export(tmp_path, SMALL))
    assert summary["items/post-1-1.xml"]["cardinality"] == "single"
    assert summary["items/post-1-2.xml"]["cardinality"] == "multiple"
    assert summary["items/post-1-2.xml"]["key"] == ["A", "B"]
    assert summary["items/post-tf.xml"]["choices"] == ["A", "B"]
    files = _export(tmp_path, SMALL)
    multiple = etree.fromstring(files["items/post-1-2.xml"])
    # Full marks only when the response matches the whole keyed set, as in quizzes.grading.
    assert multiple.find("q:responseProcessing//q:responseIf/q:match/q:correct", QTI) is not None
    assert multiple.find(".//q:choiceInteraction", QTI).get("maxChoices") == "0"
    truefalse = etree.fromstring(files["items/post-tf.xml"])
    assert truefalse.find(".//q:choiceInteraction", QTI).get("shuffle") == "false"


def test_manifest_carries_objective_references_and_pools(small, tmp_path):
    """Each item resource has its objective (key, text), its references and its pools as metadata."""
    files = _export(tmp_path, SMALL)
    root = etree.fromstring(files["imsmanifest.xml"])
    md = {"cp": package.IMSCP, "md": package.IMSMD}
    resource = root.find("cp:resources/cp:resource[@href='items/post-2-1.xml']", md)
    assert resource.get("type") == "imsqti_item_xmlv2p1"
    assert resource.findtext(".//md:classification//md:taxon/md:id", namespaces=md) == "L2.1"
    assert resource.findtext(".//md:classification//md:taxon/md:entry/md:langstring", namespaces=md) == (
        "Describe placeholder topic 2a."
    )
    relation = resource.find(".//md:relation/md:resource", md)
    assert relation.findtext("md:identifier", namespaces=md) == "PMID:12345672"
    assert "Placeholder title" in relation.findtext("md:description/md:langstring", namespaces=md)
    keywords = [k.text for k in resource.iterfind(".//md:general/md:keyword/md:langstring", md)]
    assert "pool:posttest" in keywords


def test_tests_have_a_section_per_objective_and_the_quiz_draw(small, tmp_path):
    """The post-test: a sub-section per objective; a per-objective draw becomes `selection`."""
    Quiz.objects.filter(course__slug=SMALL, kind="posttest").update(draw_per_objective=1, question_count=None)
    files = _export(tmp_path, SMALL)
    test = etree.fromstring(files["tests/posttest.xml"])
    sections = test.findall("q:testPart/q:assessmentSection/q:assessmentSection", QTI)
    assert [s.get("identifier") for s in sections] == [
        "objective-L1.1", "objective-L1.2", "objective-L2.1", "objective-L2.2"
    ]
    l21 = test.find(".//q:assessmentSection[@identifier='objective-L2.1']", QTI)
    assert l21.find("q:selection", QTI).get("select") == "1"
    assert {r.get("href") for r in l21.iterfind("q:assessmentItemRef", QTI)} == {
        "../items/post-2-1.xml", "../items/post-tf.xml"
    }
    manifest = etree.fromstring(files["imsmanifest.xml"])
    test_resource = manifest.find(f".//{{{package.IMSCP}}}resource[@href='tests/posttest.xml']")
    assert test_resource.get("type") == "imsqti_test_xmlv2p1"


def test_a_question_count_below_the_objectives_selects_one_per_objective(small, tmp_path):
    """question_count 3 over 4 objectives: the outer section selects 3 sub-sections of one item each."""
    Quiz.objects.filter(course__slug=SMALL, kind="posttest").update(draw_per_objective=None, question_count=3)
    test = etree.fromstring(_export(tmp_path, SMALL)["tests/posttest.xml"])
    outer = test.find("q:testPart/q:assessmentSection", QTI)
    assert outer.find("q:selection", QTI).get("select") == "3"
    selects = {s.find("q:selection", QTI).get("select") for s in outer.iterfind("q:assessmentSection", QTI)
               if s.find("q:selection", QTI) is not None}
    assert selects == {"1"}


def test_unknown_course_is_a_command_error(db, tmp_path):
    with pytest.raises(CommandError, match="No course"):
        call_command("export_qti", "no-such-course", "--output", str(tmp_path / "x.zip"))


def test_bank_reads_a_fixed_number_of_queries(small, django_assert_num_queries):
    with django_assert_num_queries(5):
        bank = selectors.qti_bank_get(course_slug=SMALL)
        package.package_build(bank)


# --- QTI 3.0 ------------------------------------------------------------------------


def test_qti30_package_uses_qti3_names(small, tmp_path):
    files = _export(tmp_path, SMALL, "3.0")
    item = etree.fromstring(files["items/post-1-2.xml"])
    assert item.tag == "{http://www.imsglobal.org/xsd/imsqtiasi_v3p0}qti-assessment-item"
    ns = {"q3": "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"}
    interaction = item.find(".//q3:qti-choice-interaction", ns)
    assert interaction.get("response-identifier") == "RESPONSE"
    assert len(item.findall("q3:qti-modal-feedback", ns)) == 4
    manifest = etree.fromstring(files["imsmanifest.xml"])
    types = {r.get("type") for r in manifest.iter("{http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1}resource")}
    assert types == {"imsqti_item_xmlv3p0", "imsqti_test_xmlv3p0"}


def test_qti30_converts_to_valid_qti21_losing_nothing(bundled, tmp_path):
    """The third-party converter turns our 3.0 package into schema-valid 2.1 with every item,
    option, key and feedback of our own 2.1 export, and the objectives in the manifest."""
    ours21 = _export(tmp_path, BUNDLED, "2.1")
    ours30 = _export(tmp_path, BUNDLED, "3.0")
    result = downgrade_package(ours30)
    converted = _as_files(result.files)
    assert result.warnings == []
    assert schemas.package21_errors(converted) == {}
    assert _item_summary(converted) == _item_summary(ours21)
    for path in ("tests/pretest.xml", "tests/posttest.xml"):
        refs = [r.get("href") for r in etree.fromstring(converted[path]).iter(f"{{{package.QTI21}}}assessmentItemRef")]
        expected = [r.get("href") for r in etree.fromstring(ours21[path]).iter(f"{{{package.QTI21}}}assessmentItemRef")]
        assert refs == expected
    manifest = etree.fromstring(converted["imsmanifest.xml"])
    lom = {"lom": "http://ltsc.ieee.org/xsd/LOM"}
    objective_ids = {t.text for t in manifest.iterfind(".//lom:taxon/lom:id", lom)}
    bank = selectors.qti_bank_get(course_slug=BUNDLED)
    assert objective_ids == {item.current_version.objective.key for item in bank.items}


# --- the staff download (section 8) -------------------------------------------------


@pytest.mark.parametrize("version", ["2.1", "3.0"])
def test_staff_can_download_the_package(small, client, version):
    staff = UserFactory(is_staff=True)  # with the permission the answer key needs (tests/lms/test_exports.py)
    staff.user_permissions.add(Permission.objects.get(codename="export_answer_keys"))
    client.force_login(staff)
    response = client.get(reverse("lms_qti:export", args=[SMALL]), {"version": version})
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert "imsmanifest.xml" in archive.namelist()


def test_a_learner_cannot_download_the_answer_key(small, learner_client):
    response = learner_client.get(reverse("lms_qti:export", args=[SMALL]))
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert b"imsmanifest" not in response.content


def test_an_anonymous_visitor_is_sent_to_log_in(small, client):
    response = client.get(reverse("lms_qti:export", args=[SMALL]))
    assert response.status_code == HTTPStatus.FOUND
    assert "imsmanifest" not in response.content.decode()


def test_manifest_carries_enemies_as_keywords(small, tmp_path):
    """QTI has no enemy items; the pairs travel as `enemy:<key>` keywords for a bank that can use them."""
    Item.objects.filter(key="post-1-1").update(enemies=["post-2-1"])
    root = etree.fromstring(_export(tmp_path, SMALL)["imsmanifest.xml"])
    md = {"cp": package.IMSCP, "md": package.IMSMD}

    def keywords(href):
        resource = root.find(f"cp:resources/cp:resource[@href='{href}']", md)
        return [k.text for k in resource.iterfind(".//md:general/md:keyword/md:langstring", md)]

    assert "enemy:post-2-1" in keywords("items/post-1-1.xml")
    assert not [k for k in keywords("items/post-2-1.xml") if k.startswith("enemy:")]
