"""The QTI 3.0 package: the 2.1 documents renamed to QTI 3.0's names.

QTI 3.0 keeps 2.1's information model and renames it: elements become
`qti-` plus their kebab-case name (`choiceInteraction` ->
`qti-choice-interaction`), their attributes kebab-case (`responseIdentifier`
-> `response-identifier`), and the XHTML content moves into the QTI 3
namespace unchanged. Renaming the one tree we build keeps the two exports
saying exactly the same thing. The manifest uses the QTI 3 content-packaging
and metadata namespaces and IEEE LOM instead of IMS MD 1.2.

No offline QTI 3.0 schema exists; the tests convert this package to 2.1 with
a third-party converter and validate the result against the 2.1 schemas.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lxml import etree

from lms.qti import package as qti21
from lms.qti.selectors import Bank

QTI3 = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
IMSCP3 = "http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1"
QTIMD3 = "http://www.imsglobal.org/xsd/imsqti_metadata_v3p0"
LOM = "http://ltsc.ieee.org/xsd/LOM"

ITEM_SCHEMA_LOCATION = f"{QTI3} https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqti_asiv3p0_v1p0.xsd"
MANIFEST_30 = qti21.ManifestNames(
    cp=IMSCP3, qtimd=QTIMD3, lom=LOM, lom_ieee=True, schema="QTI Package", schema_version="3.0.0",
    item_type="imsqti_item_xmlv3p0", test_type="imsqti_test_xmlv3p0",
    schema_location=(
        f"{IMSCP3} https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqtiv3p0_imscpv1p2_v1p0.xsd "
        f"{LOM} https://purl.imsglobal.org/spec/md/v1p3/schema/xsd/imsmd_loose_v1p3p2.xsd "
        f"{QTIMD3} https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqti_metadatav3p0_v1p0.xsd"
    ),
)

# The QTI elements our 2.1 builder writes; every other element is XHTML.
QTI_ELEMENTS = frozenset({
    "assessmentItem", "responseDeclaration", "correctResponse", "value", "outcomeDeclaration",
    "defaultValue", "itemBody", "choiceInteraction", "simpleChoice", "prompt", "responseProcessing",
    "responseCondition", "responseIf", "responseElse", "match", "variable", "correct", "setOutcomeValue",
    "baseValue", "multiple", "modalFeedback", "feedbackInline", "assessmentTest", "testPart",
    "itemSessionControl", "assessmentSection", "selection", "ordering", "assessmentItemRef",
    "outcomeProcessing", "sum", "testVariables", "gte", "product", "divide", "numberSelected",
})


def kebab(name: str) -> str:
    return re.sub(r"[A-Z]", lambda m: f"-{m.group(0).lower()}", name)


def to_qti3(root: etree._Element) -> etree._Element:
    """A copy of a QTI 2.1 item or test with QTI 3.0 names."""

    def convert(source: etree._Element) -> etree._Element:
        local = etree.QName(source).localname
        is_qti = local in QTI_ELEMENTS
        el = etree.Element(f"{{{QTI3}}}{'qti-' + kebab(local) if is_qti else local}")
        for name, value in source.attrib.items():
            if name.startswith("{"):  # xml:lang, xsi:schemaLocation
                continue
            el.set(kebab(name) if is_qti else name, value)
        lang = source.get(qti21.XML_LANG)
        if lang:
            el.set(qti21.XML_LANG, lang)
        el.text = source.text
        for child in source:
            if isinstance(child.tag, str):
                converted = convert(child)
                converted.tail = child.tail
                el.append(converted)
        return el

    converted = convert(root)
    result = etree.Element(converted.tag, nsmap={None: QTI3, "xsi": qti21.XSI})
    result.set(f"{{{qti21.XSI}}}schemaLocation", ITEM_SCHEMA_LOCATION)
    for name, value in converted.attrib.items():
        result.set(name, value)
    result.text = converted.text
    result.extend(list(converted))
    return result


def documents_30(bank: Bank) -> Iterator[tuple[str, etree._Element]]:
    """Every document of the 3.0 package, manifest first (same paths as 2.1)."""
    tests = qti21.test_pools(bank)
    yield "imsmanifest.xml", qti21.manifest_xml(bank, tests, MANIFEST_30)
    for item in bank.items:
        yield qti21.item_path(item), to_qti3(qti21.item_xml(item))
    for quiz, items in tests:
        test = qti21.assessment_test_xml(bank, quiz, items, lambda item: f"../{qti21.item_path(item)}")
        yield qti21.test_path(quiz), to_qti3(test)
