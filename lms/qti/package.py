"""QTI content packages of a course's question bank (issue #7, section 7).

Owns the mapping from our items to QTI, built once as QTI 2.1 and renamed
mechanically to QTI 3.0 (`qti3.py`), so both versions say the same thing:

- one `assessmentItem` per active item, with one `choiceInteraction`:
  `single` and `truefalse` have cardinality single (true/false keeps its two
  choices in order, unshuffled); `multiple` has cardinality multiple and is
  scored all-or-nothing (SCORE 1 only for exactly the keyed set), which is
  what `quizzes.grading.item_is_correct` does, so a QTI player grades as we do;
- the key as `correctResponse`; each option's rationale as a `modalFeedback`
  shown when that option is chosen (FEEDBACK holds the chosen identifiers);
- in the manifest, per item: the objective (key, text) as a LOM
  classification with purpose "educational objective", the references as LOM
  relations of kind "references", the pools and enemies as keywords
  (`pool:posttest`, `enemy:<item key>`), the difficulty, and
  `qtiMetadata` (interaction type, feedback type);
- one `assessmentTest` each for the pre-test and the post-test: an outer
  section holding one sub-section per objective. A quiz that draws
  `draw_per_objective` items gets `selection select=N` in each sub-section; a
  `question_count` no larger than the number of objectives (the bundled
  post-test: 20 over more objectives) becomes `select=question_count` on the
  outer section with one item per sub-section, which is exactly the draw
  `grading.layout_build` makes. A `question_count` above the number of
  objectives has no QTI equivalent (QTI selects whole sub-sections, not items
  across them); such a test selects ceil(count / objectives) per objective,
  a few more questions than our attempts draw. QTI has no enemy items: a
  player draws one per sub-section at random and may show two items that our
  draw keeps apart; the `enemy:` keywords carry the pairs for an item bank
  that can honour them.

Answer keys are in the package by nature: only staff export it (the command,
and the staff-only admin download in `views.py`).
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from lxml import etree
from lxml import html as lxml_html

from lms.qti.selectors import Bank

QTI21 = "http://www.imsglobal.org/xsd/imsqti_v2p1"
IMSCP = "http://www.imsglobal.org/xsd/imscp_v1p1"
IMSMD = "http://www.imsglobal.org/xsd/imsmd_v1p2"
QTIMD21 = "http://www.imsglobal.org/xsd/imsqti_metadata_v2p1"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

TOOL_NAME = "kratom-ce export_qti"
TOOL_VERSION = "1"
LANG = "en"

ITEM_SCHEMA_LOCATION = f"{QTI21} http://www.imsglobal.org/xsd/qti/qtiv2p1/imsqti_v2p1.xsd"
MANIFEST_SCHEMA_LOCATION = (
    f"{IMSCP} http://www.imsglobal.org/xsd/imscp_v1p1.xsd "
    f"{IMSMD} http://www.imsglobal.org/xsd/imsmd_v1p2p4.xsd "
    f"{QTIMD21} http://www.imsglobal.org/xsd/qti/qtiv2p1/imsqti_metadata_v2p1.xsd"
)

# LOM difficulty vocabulary (LOMv1.0) for our three levels.
DIFFICULTY = {"easy": "easy", "medium": "medium", "hard": "difficult"}

# XHTML kept from our sanitised HTML, with the attributes QTI allows on each;
# anything else is unwrapped to its text (the sanitiser already removed scripts).
XHTML_TAGS = {
    "p": (), "em": (), "strong": (), "b": (), "i": (), "sub": (), "sup": (), "br": (), "code": (),
    "ul": (), "ol": (), "li": (), "blockquote": (), "span": (), "div": (), "small": (), "cite": (),
    "q": (), "abbr": ("title",), "a": ("href",), "img": ("src", "alt"), "pre": (), "dl": (), "dt": (),
    "dd": (), "table": (), "caption": (), "thead": (), "tbody": (), "tr": (),
    "th": ("colspan", "rowspan"), "td": ("colspan", "rowspan"),
}


@dataclass(frozen=True)
class Package:
    """A built package: file paths (manifest first) and their bytes."""

    files: dict[str, bytes]

    def zip_bytes(self) -> bytes:
        buffer = io.BytesIO()
        self.zip_write(buffer)
        return buffer.getvalue()

    def zip_write(self, out: BinaryIO) -> None:
        """Write the zip to a binary file object (a file on disk, a response buffer)."""
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for path, content in self.files.items():
                archive.writestr(path, content)


def _q(tag: str) -> str:
    return f"{{{QTI21}}}{tag}"


def _sub(parent, tag: str, text: str | None = None, **attrs) -> etree._Element:
    el = etree.SubElement(parent, tag, {k: str(v) for k, v in attrs.items()})
    if text is not None:
        el.text = text
    return el


def identifier(key: str) -> str:
    """An item key as a QTI identifier (an NCName: keys may start with a digit)."""
    return key if re.match(r"[A-Za-z_]", key) else f"i{key}"


def choice_id(position: int) -> str:
    return chr(ord("A") + position - 1)


def xhtml_append(parent: etree._Element, html: str, namespace: str = QTI21) -> None:
    """Append sanitised HTML to `parent` as XHTML in the QTI namespace."""
    wrapper = lxml_html.fragment_fromstring(html or "", create_parent="div")
    _text_append(parent, wrapper.text)
    for child in wrapper:
        _xhtml_copy(child, parent, namespace)


def _xhtml_copy(source, parent, namespace: str) -> None:
    if not isinstance(source.tag, str):  # comments, processing instructions
        _text_append(parent, source.tail)
        return
    tag = source.tag.lower()
    if tag not in XHTML_TAGS:
        _text_append(parent, source.text)
        for child in source:
            _xhtml_copy(child, parent, namespace)
        _text_append(parent, source.tail)
        return
    el = etree.SubElement(parent, f"{{{namespace}}}{tag}")
    for name in XHTML_TAGS[tag]:
        if source.get(name) is not None:
            el.set(name, source.get(name))
    if tag == "img" and el.get("alt") is None:
        el.set("alt", "")
    el.text = source.text
    for child in source:
        _xhtml_copy(child, el, namespace)
    el.tail = source.tail


def _text_append(parent, text: str | None) -> None:
    if not text:
        return
    if len(parent):
        parent[-1].tail = (parent[-1].tail or "") + text
    else:
        parent.text = (parent.text or "") + text


def plain_text(html: str) -> str:
    text = lxml_html.fragment_fromstring(html or "", create_parent="div").text_content()
    return " ".join(text.split())


# --- items ---------------------------------------------------------------------------


def item_xml(item) -> etree._Element:
    """One item's current version as a QTI 2.1 assessmentItem."""
    version = item.current_version
    options = list(version.options.all())
    multiple = version.type == "multiple"
    root = etree.Element(
        _q("assessmentItem"),
        nsmap={None: QTI21, "xsi": XSI},
        attrib={
            f"{{{XSI}}}schemaLocation": ITEM_SCHEMA_LOCATION,
            "identifier": identifier(item.key),
            "title": f"{item.key} ({version.objective.key})",
            "adaptive": "false",
            "timeDependent": "false",
            XML_LANG: LANG,
            "toolName": TOOL_NAME,
            "toolVersion": TOOL_VERSION,
        },
    )
    response = _sub(
        root, _q("responseDeclaration"), identifier="RESPONSE",
        cardinality="multiple" if multiple else "single", baseType="identifier",
    )
    correct = _sub(response, _q("correctResponse"))
    for option in options:
        if option.is_correct:
            _sub(correct, _q("value"), choice_id(option.position))
    score = _sub(
        root, _q("outcomeDeclaration"), identifier="SCORE", cardinality="single", baseType="float",
        normalMaximum="1",
    )
    _sub(_sub(score, _q("defaultValue")), _q("value"), "0")
    _sub(root, _q("outcomeDeclaration"), identifier="FEEDBACK", cardinality="multiple", baseType="identifier")

    body = _sub(root, _q("itemBody"))
    stem = _sub(body, _q("div"), **{"class": "stem"})
    xhtml_append(stem, version.stem_html)
    interaction = _sub(
        body, _q("choiceInteraction"), responseIdentifier="RESPONSE",
        shuffle="false" if version.type == "truefalse" else "true",
        maxChoices="0" if multiple else "1", minChoices="0",
    )
    for option in options:
        choice = _sub(interaction, _q("simpleChoice"), identifier=choice_id(option.position))
        xhtml_append(choice, option.text_html)

    processing = _sub(root, _q("responseProcessing"))
    condition = _sub(processing, _q("responseCondition"))
    when = _sub(condition, _q("responseIf"))
    match = _sub(when, _q("match"))
    _sub(match, _q("variable"), identifier="RESPONSE")
    _sub(match, _q("correct"), identifier="RESPONSE")
    _sub(_sub(when, _q("setOutcomeValue"), identifier="SCORE"), _q("baseValue"), "1", baseType="float")
    otherwise = _sub(condition, _q("responseElse"))
    _sub(_sub(otherwise, _q("setOutcomeValue"), identifier="SCORE"), _q("baseValue"), "0", baseType="float")
    feedback = _sub(_sub(processing, _q("setOutcomeValue"), identifier="FEEDBACK"), _q("multiple"))
    _sub(feedback, _q("variable"), identifier="RESPONSE")

    for option in options:
        label = choice_id(option.position)
        modal = _sub(
            root, _q("modalFeedback"), outcomeIdentifier="FEEDBACK", identifier=label, showHide="show",
            title=f"{label}: {'correct' if option.is_correct else 'incorrect'}",
        )
        xhtml_append(modal, option.rationale_html)
    return root


# --- tests ---------------------------------------------------------------------------


def assessment_test_xml(bank: Bank, quiz, items: list, item_href) -> etree._Element:
    """A pre- or post-test as a QTI 2.1 assessmentTest: a section per objective."""
    by_objective: dict[int, list] = {}
    for item in items:
        by_objective.setdefault(item.current_version.objective_id, []).append(item)
    objectives = [o for o in bank.objectives if o.pk in by_objective]
    per = quiz.draw_per_objective
    total = quiz.question_count
    sub_select: int | None = per
    outer_select: int | None = None
    drawn = sum(min(per or len(v), len(v)) for v in by_objective.values())
    if total and total < drawn:
        if total <= len(objectives):
            outer_select, sub_select = total, 1
        else:  # no exact QTI equivalent; see the module docstring
            sub_select = min(per or total, math.ceil(total / len(objectives)))

    root = etree.Element(
        _q("assessmentTest"),
        nsmap={None: QTI21, "xsi": XSI},
        attrib={
            f"{{{XSI}}}schemaLocation": ITEM_SCHEMA_LOCATION,
            "identifier": quiz.kind,
            "title": quiz.title,
            "toolName": TOOL_NAME,
            "toolVersion": TOOL_VERSION,
        },
    )
    _sub(root, _q("outcomeDeclaration"), identifier="SCORE", cardinality="single", baseType="float")
    _sub(root, _q("outcomeDeclaration"), identifier="PASS", cardinality="single", baseType="boolean")
    part = _sub(root, _q("testPart"), identifier="part", navigationMode="nonlinear", submissionMode="simultaneous")
    # Our pre- and post-tests show no feedback during the attempt.
    _sub(part, _q("itemSessionControl"), maxAttempts="1", showFeedback="false", allowReview="true")
    outer = _sub(part, _q("assessmentSection"), identifier="questions", title=quiz.title, visible="true")
    if outer_select:
        _sub(outer, _q("selection"), select=outer_select)
    _sub(outer, _q("ordering"), shuffle="true")
    for objective in objectives:
        section = _sub(
            outer, _q("assessmentSection"), identifier=f"objective-{objective.key}",
            title=f"{objective.key}: {objective.text}", visible="false",
        )
        pool = by_objective[objective.pk]
        if sub_select and sub_select < len(pool):
            _sub(section, _q("selection"), select=sub_select)
        _sub(section, _q("ordering"), shuffle="true")
        for item in pool:
            _sub(section, _q("assessmentItemRef"), identifier=identifier(item.key), href=item_href(item))
    processing = _sub(root, _q("outcomeProcessing"))
    total_score = _sub(_sub(processing, _q("setOutcomeValue"), identifier="SCORE"), _q("sum"))
    _sub(total_score, _q("testVariables"), variableIdentifier="SCORE")
    # PASS: the percentage of selected questions answered correctly reaches the pass mark.
    gte = _sub(_sub(processing, _q("setOutcomeValue"), identifier="PASS"), _q("gte"))
    product = _sub(gte, _q("product"))
    divide = _sub(product, _q("divide"))
    _sub(divide, _q("variable"), identifier="SCORE")
    _sub(divide, _q("numberSelected"))
    _sub(product, _q("baseValue"), "100", baseType="float")
    _sub(gte, _q("baseValue"), str(quiz.pass_mark), baseType="float")
    return root


# --- manifest ------------------------------------------------------------------------


class Lom:
    """Writes the LOM record of a resource: IMS MD 1.2 (QTI 2.1) or IEEE LOM (QTI 3.0).

    The two bindings say the same things with different element names and
    string wrappers (`langstring` vs `string`).
    """

    def __init__(self, namespace: str, *, ieee: bool):
        self.ns = namespace
        self.ieee = ieee

    def _t(self, tag: str) -> str:
        if not self.ieee:
            tag = tag.lower()
        return f"{{{self.ns}}}{tag}"

    def _string(self, parent, text: str, lang: str = LANG) -> None:
        el = etree.SubElement(parent, self._t("string" if self.ieee else "langstring"))
        el.set("language" if self.ieee else XML_LANG, lang)
        el.text = text

    def _vocab(self, parent, tag: str, value: str) -> None:
        el = etree.SubElement(parent, self._t(tag))
        if self.ieee:
            _sub(el, self._t("source"), "LOMv1.0")
            _sub(el, self._t("value"), value)
        else:
            self._string(_sub(el, self._t("source")), "LOMv1.0", "x-none")
            self._string(_sub(el, self._t("value")), value.title(), "x-none")

    def _identifier(self, parent, catalog: str, entry: str) -> None:
        if self.ieee:
            el = _sub(parent, self._t("identifier"))
            _sub(el, self._t("catalog"), catalog)
            _sub(el, self._t("entry"), entry)
        else:
            _sub(parent, self._t("identifier"), f"{catalog}:{entry}")

    def item(self, bank: Bank, item) -> etree._Element:
        version = item.current_version
        lom = etree.Element(self._t("lom"))
        general = _sub(lom, self._t("general"))
        self._identifier(general, bank.course.slug, item.key)
        self._string(_sub(general, self._t("title")), f"{item.key} ({version.objective.key})")
        keywords = [f"pool:{pool}" for pool in item.pools] + [f"lesson:{version.lesson.slug}"]
        keywords += [f"enemy:{key}" for key in item.enemies]
        for keyword in keywords:
            self._string(_sub(general, self._t("keyword")), keyword)
        educational = _sub(lom, self._t("educational"))
        self._vocab(educational, "difficulty", DIFFICULTY.get(version.difficulty, "medium"))
        for reference in version.references:
            relation = _sub(lom, self._t("relation"))
            self._vocab(relation, "kind", "references")
            resource = _sub(relation, self._t("resource"))
            if reference.get("doi"):
                self._identifier(resource, "DOI", reference["doi"])
            elif reference.get("pmid"):
                self._identifier(resource, "PMID", reference["pmid"])
            elif reference.get("url"):
                self._identifier(resource, "URI", reference["url"])
            self._string(_sub(resource, self._t("description")), reference.get("citation", reference.get("key", "")))
        classification = _sub(lom, self._t("classification"))
        self._vocab(classification, "purpose", "educational objective")
        path = _sub(classification, self._t("taxonPath"))
        self._string(_sub(path, self._t("source")), f"{bank.course.slug} learning objectives")
        taxon = _sub(path, self._t("taxon"))
        _sub(taxon, self._t("id"), version.objective.key)
        self._string(_sub(taxon, self._t("entry")), version.objective.text)
        self._string(_sub(classification, self._t("description")), version.objective.text)
        return lom

    def test(self, bank: Bank, quiz) -> etree._Element:
        lom = etree.Element(self._t("lom"))
        general = _sub(lom, self._t("general"))
        self._identifier(general, bank.course.slug, quiz.kind)
        self._string(_sub(general, self._t("title")), quiz.title)
        self._string(_sub(general, self._t("description")), f"Pass mark {quiz.pass_mark}%.")
        return lom


def qti_metadata(namespace: str) -> etree._Element:
    md = etree.Element(f"{{{namespace}}}qtiMetadata")
    _sub(md, f"{{{namespace}}}timeDependent", "false")
    _sub(md, f"{{{namespace}}}composite", "false")
    _sub(md, f"{{{namespace}}}interactionType", "choiceInteraction")
    _sub(md, f"{{{namespace}}}feedbackType", "nonadaptive")
    _sub(md, f"{{{namespace}}}solutionAvailable", "true")
    _sub(md, f"{{{namespace}}}toolName", TOOL_NAME)
    _sub(md, f"{{{namespace}}}toolVersion", TOOL_VERSION)
    return md


@dataclass(frozen=True)
class ManifestNames:
    """What differs between the 2.1 and 3.0 manifests besides the item files."""

    cp: str
    qtimd: str
    lom: str
    lom_ieee: bool
    schema: str
    schema_version: str
    item_type: str
    test_type: str
    schema_location: str


MANIFEST_21 = ManifestNames(
    cp=IMSCP, qtimd=QTIMD21, lom=IMSMD, lom_ieee=False, schema="QTIv2.1 Package", schema_version="1.0.0",
    item_type="imsqti_item_xmlv2p1", test_type="imsqti_test_xmlv2p1", schema_location=MANIFEST_SCHEMA_LOCATION,
)


def manifest_xml(bank: Bank, tests: list[tuple], names: ManifestNames = MANIFEST_21) -> etree._Element:
    """The imsmanifest.xml: a resource per item (with its metadata) and per test."""

    def cp(tag: str) -> str:
        return f"{{{names.cp}}}{tag}"

    lom = Lom(names.lom, ieee=names.lom_ieee)
    root = etree.Element(
        cp("manifest"),
        nsmap={None: names.cp, "imsmd" if not names.lom_ieee else "lom": names.lom, "imsqti": names.qtimd,
               "xsi": XSI},
        attrib={"identifier": f"MANIFEST-{bank.course.slug}", f"{{{XSI}}}schemaLocation": names.schema_location},
    )
    metadata = _sub(root, cp("metadata"))
    _sub(metadata, cp("schema"), names.schema)
    _sub(metadata, cp("schemaversion"), names.schema_version)
    _sub(root, cp("organizations"))
    resources = _sub(root, cp("resources"))
    for item in bank.items:
        resource = _sub(
            resources, cp("resource"), identifier=item_resource_id(item), type=names.item_type,
            href=item_path(item),
        )
        md = _sub(resource, cp("metadata"))
        md.append(lom.item(bank, item))
        md.append(qti_metadata(names.qtimd))
        _sub(resource, cp("file"), href=item_path(item))
    for quiz, items in tests:
        resource = _sub(
            resources, cp("resource"), identifier=f"RES-TEST-{quiz.kind}", type=names.test_type,
            href=test_path(quiz),
        )
        _sub(resource, cp("metadata")).append(lom.test(bank, quiz))
        _sub(resource, cp("file"), href=test_path(quiz))
        for item in items:
            _sub(resource, cp("dependency"), identifierref=item_resource_id(item))
    return root


def item_path(item) -> str:
    return f"items/{identifier(item.key)}.xml"


def item_resource_id(item) -> str:
    return f"RES-ITEM-{identifier(item.key)}"


def test_path(quiz) -> str:
    return f"tests/{quiz.kind}.xml"


def test_pools(bank: Bank) -> list[tuple]:
    """(quiz, items) for the pre- and post-test, each with the items of its pool."""
    return [
        (bank.quizzes[kind], [item for item in bank.items if kind in item.pools])
        for kind in ("pretest", "posttest")
        if kind in bank.quizzes
    ]


def serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def documents_21(bank: Bank) -> Iterator[tuple[str, etree._Element]]:
    """Every document of the 2.1 package, manifest first."""
    tests = test_pools(bank)
    yield "imsmanifest.xml", manifest_xml(bank, tests)
    for item in bank.items:
        yield item_path(item), item_xml(item)
    for quiz, items in tests:
        yield test_path(quiz), assessment_test_xml(bank, quiz, items, lambda item: f"../{item_path(item)}")


def document_count(bank: Bank) -> int:
    """How many documents package_build() writes: the manifest, each item, each test."""
    return 1 + len(bank.items) + len(test_pools(bank))


def package_build(
    bank: Bank, *, version: str = "2.1", progress: Callable[[int, int], None] | None = None
) -> Package:
    """The course's QTI package (version "2.1" or "3.0"). No query beyond the bank's.

    `progress(done, total)` is called after each document (manifest, item, test),
    so a command or an export job can show how far it is.
    """
    if version == "2.1":
        documents = documents_21(bank)
    elif version == "3.0":
        from lms.qti.qti3 import documents_30

        documents = documents_30(bank)
    else:
        raise ValueError(f"QTI version {version!r} is not one of 2.1, 3.0.")
    total = document_count(bank)
    files = {}
    for path, root in documents:
        files[path] = serialize(root)
        if progress is not None:
            progress(len(files), total)
    return Package(files)
