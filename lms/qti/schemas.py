"""Validation of QTI 2.1 documents against the vendored 1EdTech schemas.

The schemas live in `lms/standards/qti21/` (copied with their notices from
the 1EdTech distribution; every import is a relative path, so they load
offline). A manifest is checked against the content-packaging schema with the
IMS MD and QTI metadata schemas imported too, so the `lax` wildcards of
`<metadata>` validate our metadata instead of skipping it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree

STANDARDS = Path(__file__).resolve().parents[1] / "standards"
QTI21_DIR = STANDARDS / "qti21"

_MANIFEST_DRIVER = b"""<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:import namespace="http://www.imsglobal.org/xsd/imscp_v1p1" schemaLocation="imscp_v1p1.xsd"/>
  <xs:import namespace="http://www.imsglobal.org/xsd/imsmd_v1p2" schemaLocation="imsmd_v1p2p4.xsd"/>
  <xs:import namespace="http://www.imsglobal.org/xsd/imsqti_metadata_v2p1"
             schemaLocation="qtiv2p1/imsqti_metadata_v2p1.xsd"/>
</xs:schema>
"""


@cache
def qti21_schema() -> etree.XMLSchema:
    """assessmentItem and assessmentTest (QTI 2.1, with MathML, XInclude and APIP)."""
    return etree.XMLSchema(etree.parse(str(QTI21_DIR / "qtiv2p1" / "imsqti_v2p1.xsd")))


@cache
def manifest21_schema() -> etree.XMLSchema:
    """imsmanifest.xml (IMS CP 1.1) with IMS MD 1.2 and QTI 2.1 metadata."""
    driver = etree.fromstring(_MANIFEST_DRIVER, base_url=str(QTI21_DIR / "driver.xsd"))
    return etree.XMLSchema(driver)


def errors(schema: etree.XMLSchema, document: bytes | etree._Element) -> list[str]:
    """Schema errors of a document, as `line: message`; empty when it is valid."""
    tree = etree.fromstring(document) if isinstance(document, bytes) else document
    if schema.validate(tree):
        return []
    return [f"{e.line}: {e.message}" for e in schema.error_log]


def package21_errors(files: dict[str, bytes]) -> dict[str, list[str]]:
    """Per file of a QTI 2.1 package, its schema errors (only files that have some)."""
    problems = {}
    for path, content in files.items():
        if not path.endswith(".xml"):
            continue
        schema = manifest21_schema() if path == "imsmanifest.xml" else qti21_schema()
        found = errors(schema, content)
        if found:
            problems[path] = found
    return problems
