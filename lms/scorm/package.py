"""SCORM 1.2 and 2004 (4th edition) packages of a course.

Two modes, one SCO each:

- **connected** (the default, and the only one that can lead to credit):
  `launch.html` asks our server for a session for the LMS's learner
  (`cmi.core.student_id` / `cmi.learner_id`, with the signed package token),
  lets the learner open the hosted course in a new window, and polls our
  status endpoint, writing completion, success, score and progress back
  through the LMS's SCORM API. Lessons, answer keys, attempts and credit
  records stay on the server; the package holds no course content.
- **self-contained**: the lessons' stored HTML, their figures and the
  knowledge checks, readable offline, with `offline.js` reporting completion
  (all lessons viewed), the knowledge-check score and session time. No
  post-test and no credit. The knowledge-check keys and rationales *are* in
  the package: these checks give immediate feedback by design (as on our
  site), and nothing in this mode counts towards credit.

The manifests are validated against ADL's schemas in the tests (`schemas.py`).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.contrib.staticfiles import finders
from django.template import Context, Engine
from lxml import etree
from lxml import html as lxml_html

ASSETS = Path(__file__).resolve().parent / "assets"
# progress(done, total): called as a build advances (per lesson offline; once connected).
ProgressHook = Callable[[int, int], None] | None
XSI = "http://www.w3.org/2001/XMLSchema-instance"

NS_12 = {
    "cp": "http://www.imsproject.org/xsd/imscp_rootv1p1p2",
    "adlcp": "http://www.adlnet.org/xsd/adlcp_rootv1p2",
}
NS_2004 = {
    "cp": "http://www.imsglobal.org/xsd/imscp_v1p1",
    "adlcp": "http://www.adlnet.org/xsd/adlcp_v1p3",
    "adlseq": "http://www.adlnet.org/xsd/adlseq_v1p3",
    "adlnav": "http://www.adlnet.org/xsd/adlnav_v1p3",
    "imsss": "http://www.imsglobal.org/xsd/imsss",
}
SCHEMA_LOCATION = {
    "1.2": (
        "http://www.imsproject.org/xsd/imscp_rootv1p1p2 imscp_rootv1p1p2.xsd "
        "http://www.adlnet.org/xsd/adlcp_rootv1p2 adlcp_rootv1p2.xsd"
    ),
    "2004": (
        "http://www.imsglobal.org/xsd/imscp_v1p1 imscp_v1p1.xsd "
        "http://www.adlnet.org/xsd/adlcp_v1p3 adlcp_v1p3.xsd "
        "http://www.adlnet.org/xsd/adlseq_v1p3 adlseq_v1p3.xsd "
        "http://www.adlnet.org/xsd/adlnav_v1p3 adlnav_v1p3.xsd "
        "http://www.imsglobal.org/xsd/imsss imsss_v1p0.xsd"
    ),
}
VERSIONS = ("1.2", "2004")
MODES = ("connected", "self-contained")

# Templates are ours, rendered with autoescaping; lesson and item HTML is the
# loader's nh3-sanitised output, the only HTML rendered raw (as on the site).
_ENGINE = Engine(dirs=[str(ASSETS)], autoescape=True, libraries={})


@dataclass(frozen=True)
class Package:
    files: dict[str, bytes]  # imsmanifest.xml first

    def zip_bytes(self) -> bytes:
        buffer = io.BytesIO()
        self.zip_write(buffer)
        return buffer.getvalue()

    def zip_write(self, out: BinaryIO) -> None:
        """Write the zip to a binary file object (a file on disk, a response buffer)."""
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for path, content in self.files.items():
                archive.writestr(path, content)


def manifest_xml(*, version: str, identifier: str, title: str, launch: str, files: list[str]) -> bytes:
    """imsmanifest.xml: one organisation with one item, launching one SCO resource."""
    ns = NS_12 if version == "1.2" else NS_2004

    def el(parent, prefix: str, tag: str, text: str | None = None, **attrs):
        node = etree.SubElement(parent, f"{{{ns[prefix]}}}{tag}")
        for key, value in attrs.items():
            node.set(key, value)
        if text is not None:
            node.text = text
        return node

    nsmap = {None: ns["cp"], **{k: v for k, v in ns.items() if k != "cp"}, "xsi": XSI}
    root = etree.Element(f"{{{ns['cp']}}}manifest", nsmap=nsmap)
    root.set("identifier", identifier)
    root.set("version", "1")
    root.set(f"{{{XSI}}}schemaLocation", SCHEMA_LOCATION[version])
    metadata = el(root, "cp", "metadata")
    el(metadata, "cp", "schema", "ADL SCORM")
    el(metadata, "cp", "schemaversion", "1.2" if version == "1.2" else "2004 4th Edition")
    organizations = el(root, "cp", "organizations", default="ORG")
    organization = el(organizations, "cp", "organization", identifier="ORG")
    el(organization, "cp", "title", title)
    item = el(organization, "cp", "item", identifier="ITEM-1", identifierref="RES-SCO")
    el(item, "cp", "title", title)
    if version == "2004":
        # The SCO itself sets completion and success; the LMS must not guess them.
        sequencing = el(item, "imsss", "sequencing")
        el(sequencing, "imsss", "deliveryControls", completionSetByContent="true", objectiveSetByContent="true")
    resources = el(root, "cp", "resources")
    resource = el(resources, "cp", "resource", identifier="RES-SCO", type="webcontent", href=launch)
    resource.set(f"{{{ns['adlcp']}}}{'scormtype' if version == '1.2' else 'scormType'}", "sco")
    for path in files:
        el(resource, "cp", "file", href=path)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _render(template: str, context: dict) -> bytes:
    return _ENGINE.get_template(template).render(Context(context)).encode()


def _assemble(*, version: str, identifier: str, title: str, launch: str, files: dict[str, bytes]) -> Package:
    manifest = manifest_xml(
        version=version, identifier=identifier, title=title, launch=launch, files=list(files)
    )
    return Package({"imsmanifest.xml": manifest, **files})


# --- connected ------------------------------------------------------------------------


def connected_build(
    *, version: str, course, server_url: str, package_token: str, progress: ProgressHook = None
) -> Package:
    """The connected package: a launch page that talks to `server_url` (our site's origin)."""
    launch = _render("launch.html", {
        "version": version,
        "title": course.title,
        "server_url": server_url.rstrip("/"),
        "package_token": package_token,
    })
    files = {
        "launch.html": launch,
        "scorm-api.js": (ASSETS / "scorm-api.js").read_bytes(),
        "connected.js": (ASSETS / "connected.js").read_bytes(),
        "package.css": (ASSETS / "package.css").read_bytes(),
    }
    built = _assemble(
        version=version, identifier=f"kratom-ce-{course.slug}-connected-{version}", title=course.title,
        launch="launch.html", files=files,
    )
    if progress is not None:
        progress(1, 1)
    return built


# --- self-contained --------------------------------------------------------------------


def _localise(html: str, *, prefix: str, course_slug: str, lesson_ids: dict[str, str],
              figures: dict[str, str]) -> str:
    """Make one lesson's stored HTML work inside the single offline page.

    Ids (headings, footnotes) get the lesson's prefix, since every lesson's
    footnotes start at 1 and all lessons share one page; in-page links follow.
    Figures point at the package's copies, lesson links at in-package anchors;
    other site-relative links (the interaction explorer, say) have no offline
    target, so they become plain text.
    """
    wrapper = lxml_html.fragment_fromstring(html, create_parent="div")
    for el in wrapper.iter():
        if isinstance(el.tag, str) and el.get("id"):
            el.set("id", f"{prefix}-{el.get('id')}")
    for img in wrapper.iter("img"):
        src = img.get("src", "")
        if src in figures:
            img.set("src", figures[src])
    lesson_link = re.compile(rf"^/courses/{re.escape(course_slug)}/lessons/([a-z0-9-]+)/?(?:#(.+))?$")
    for link in list(wrapper.iter("a")):
        href = link.get("href", "")
        match = lesson_link.match(href)
        if href.startswith("#"):
            link.set("href", f"#{prefix}-{href[1:]}")
        elif match and match.group(1) in lesson_ids:
            target = lesson_ids[match.group(1)]
            link.set("href", f"#{target}-{match.group(2)}" if match.group(2) else f"#{target}")
        elif href.startswith("/"):
            link.drop_tag()
    return "".join(
        [wrapper.text or ""] + [lxml_html.tostring(child, encoding="unicode") for child in wrapper]
    )


def _figures(lessons) -> dict[str, tuple[str, bytes]]:
    """Each figure a lesson shows: its site URL -> (package path, bytes), found via staticfiles."""
    found = {}
    for lesson in lessons:
        for src in re.findall(r'<img[^>]+src="([^"]+)"', lesson.current_version.body_html):
            if src in found or not src.startswith("/static/"):
                continue
            path = finders.find(src[len("/static/"):])
            if path:
                found[src] = (f"figures/{Path(path).name}", Path(path).read_bytes())
    return found


def offline_build(*, version: str, offline, progress: ProgressHook = None) -> Package:
    """The self-contained package of `offline` (a selectors.OfflineCourse).

    `progress(done, total)` after each lesson and once more when the package is assembled.
    """
    course = offline.course
    total = len(offline.lessons) + 1
    figures = _figures(offline.lessons)
    lesson_ids = {lesson.slug: f"lesson-{lesson.slug}" for lesson in offline.lessons}
    lessons = []
    for lesson in offline.lessons:
        questions = []
        for item in offline.checks.get(lesson.pk, []):
            version_ = item.current_version
            options = list(version_.options.all())
            questions.append({
                "id": f"q-{item.key}",
                "multiple": version_.type == "multiple",
                "stem_html": version_.stem_html,
                "options": [
                    {"id": f"q-{item.key}-{o.position}", "value": o.position, "text_html": o.text_html,
                     "rationale_html": o.rationale_html}
                    for o in options
                ],
                # The key, for immediate feedback by design (see the module docstring).
                "key": json.dumps(sorted(o.position for o in options if o.is_correct)),
            })
        lessons.append({
            "id": lesson_ids[lesson.slug],
            "title": lesson.current_version.title,
            "body_html": _localise(
                lesson.current_version.body_html, prefix=lesson_ids[lesson.slug], course_slug=course.slug,
                lesson_ids=lesson_ids,
                figures={src: path for src, (path, _) in figures.items()},
            ),
            "questions": questions,
        })
        if progress is not None:
            progress(len(lessons), total)
    index = _render("index.html", {"version": version, "course": course, "lessons": lessons})
    files = {
        "index.html": index,
        "scorm-api.js": (ASSETS / "scorm-api.js").read_bytes(),
        "offline.js": (ASSETS / "offline.js").read_bytes(),
        "package.css": (ASSETS / "package.css").read_bytes(),
        **dict(sorted(figures.values())),
    }
    built = _assemble(
        version=version, identifier=f"kratom-ce-{course.slug}-offline-{version}", title=course.title,
        launch="index.html", files=files,
    )
    if progress is not None:
        progress(total, total)
    return built
