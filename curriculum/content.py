"""Read and validate a course folder (`curriculum/content/<course>/`).

`course_bundle_parse()` is pure: it reads files, renders Markdown and returns
a `CourseBundle` with every problem found, each naming its file, line and
reason. It writes nothing; `services.curriculum_load()` stores a bundle only
when it has no errors, and `check_curriculum` prints the problems. The format
is documented in `curriculum/content/README.md`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import yaml
from django.conf import settings

from curriculum import markdown as md

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
OBJECTIVE_RE = re.compile(r"^L\d+\.\d+$")
PMID_RE = re.compile(r"^\d{1,9}$")
DOI_RE = re.compile(r"^10\.\d{4,9}/\S+$")
URL_RE = re.compile(r"^https?://[^\s/$.?#][^\s]*$")
LESSON_FILE_RE = re.compile(r"^(\d{2})-([a-z0-9-]+)\.md$")
CITATION_RE = re.compile(r"\[\^([^\]\s]+)\](?!:)")
LINK_RE = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FIGURE_RE = re.compile(r"^!\[([^\]]*)\]\(([^)\s]+)\)\s*$")
TABLE_MARKER = "[[interaction-table]]"
ADMONITION_RE = re.compile(r"^!!!\s+(\w+)")

ITEM_TYPES = {"single", "multiple", "truefalse"}
POOLS = {"pretest", "check", "posttest"}
DIFFICULTIES = {"easy", "medium", "hard"}
SEVERITIES = {"major", "moderate", "minor", "unknown"}
EVIDENCE = {"well-established", "limited", "case-reports", "theoretical"}


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    message: str
    severity: str = "error"  # "error" blocks a load; "warning" is reported

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.severity}: {self.message}"


@dataclass
class LessonDoc:
    path: str
    slug: str
    order: int
    title: str
    estimated_minutes: int
    last_reviewed: dt.date
    objectives: list[dict]
    references: list[dict]
    source: str
    body: str
    body_line: int
    body_html: str = ""
    toc_html: str = ""
    anchors: list[str] = field(default_factory=list)
    # (line, slug, anchor, target) of each lesson: link, checked once all lessons are rendered
    links: list[tuple[int, str, str, str]] = field(default_factory=list)

    def content_hash(self) -> str:
        payload = json.dumps(
            [
                self.title,
                self.estimated_minutes,
                self.last_reviewed.isoformat(),
                self.objectives,
                self.references,
                self.body_html,
                self.toc_html,
            ],
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()


@dataclass
class ItemDoc:
    path: str
    line: int
    key: str
    type: str
    pools: list[str]
    objective: str
    lesson: str
    section: str
    difficulty: str
    myth: str
    interaction: str
    stem: str
    options: list[dict]
    references: list[dict]
    stem_html: str = ""
    source: str = ""  # the item as YAML (one mapping), for the admin's edit form
    enemies: list[str] = field(default_factory=list)  # assembly metadata, like pools: not hashed

    def content_hash(self) -> str:
        payload = json.dumps(
            [
                self.type,
                self.objective,
                self.lesson,
                self.section,
                self.difficulty,
                self.myth,
                self.interaction,
                self.stem,
                self.options,
                self.references,
            ],
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()


@dataclass
class CourseBundle:
    root: Path
    course: dict = field(default_factory=dict)
    lessons: list[LessonDoc] = field(default_factory=list)
    items: list[ItemDoc] = field(default_factory=list)
    interactions: list[dict] = field(default_factory=list)
    myths: list[dict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    course_path: str = "course.md"

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def objectives(self) -> dict[str, tuple[LessonDoc, dict]]:
        return {o["key"]: (lesson, o) for lesson in self.lessons for o in lesson.objectives}


# --- YAML with line numbers -------------------------------------------------


class _LineLoader(yaml.SafeLoader):
    """A safe loader that records each mapping's line as "__line__" (1-based)."""

    def construct_mapping(self, node, deep=False):
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        return mapping


def _yaml_load(text: str, path: str, line_offset: int, problems: list[Problem]):
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506  (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = line_offset + (mark.line + 1 if mark else 1)
        problems.append(Problem(path, line, f"invalid YAML: {getattr(exc, 'problem', exc)}"))
        return None
    return _shift_lines(data, line_offset)


def _shift_lines(data, offset: int):
    if isinstance(data, dict):
        if "__line__" in data:
            data["__line__"] += offset
        for value in data.values():
            _shift_lines(value, offset)
    elif isinstance(data, list):
        for value in data:
            _shift_lines(value, offset)
    return data


def _clean(data):
    """Drop the __line__ bookkeeping before data is stored."""
    if isinstance(data, dict):
        return {k: _clean(v) for k, v in data.items() if k != "__line__"}
    if isinstance(data, list):
        return [_clean(v) for v in data]
    return data


def _split_front_matter(text: str, path: str, problems: list[Problem]):
    """Return (header_text, body_text, body_first_line) or None."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        problems.append(Problem(path, 1, "missing YAML header: the file must start with '---'"))
        return None
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            header = "\n".join(lines[1:index])
            body = "\n".join(lines[index + 1 :])
            return header, body, index + 2
    problems.append(Problem(path, 1, "unterminated YAML header: no closing '---' line"))
    return None


def _line(data, default: int = 1) -> int:
    return data.get("__line__", default) if isinstance(data, dict) else default


def _body_line(body: str, first_line: int, needle: str) -> int:
    for offset, text in enumerate(body.splitlines()):
        if needle in text:
            return first_line + offset
    return first_line


def _as_date(value, path: str, line: int, name: str, problems: list[Problem]):
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        problems.append(Problem(path, line, f"{name} must be a date like 2026-01-31, not {value!r}"))
        return None


def _require(data: dict, names: list[str], path: str, problems: list[Problem]) -> bool:
    ok = True
    for name in names:
        value = data.get(name)
        if value is None or (isinstance(value, (str, list)) and not value):
            problems.append(Problem(path, _line(data), f"missing required field '{name}'"))
            ok = False
    return ok


def _add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    days_in_month = [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28,
                     31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    return dt.date(year, month, min(day.day, days_in_month))


# --- references ----------------------------------------------------------------


def validate_reference(ref, path: str, problems: list[Problem], default_line: int) -> dict | None:
    """Check one reference entry; return it cleaned, or None."""
    if not isinstance(ref, dict):
        problems.append(Problem(path, default_line, "a reference must be a mapping with key and citation"))
        return None
    line = _line(ref, default_line)
    ok = True
    key = str(ref.get("key", ""))
    if not KEY_RE.match(key):
        problems.append(Problem(path, line, f"reference key {key!r} must match [a-z0-9_-]+"))
        ok = False
    if not str(ref.get("citation", "")).strip():
        problems.append(Problem(path, line, f"reference '{key}' has no citation text"))
        ok = False
    pmid, doi, url = (str(ref.get(n, "") or "").strip() for n in ("pmid", "doi", "url"))
    if not (pmid or doi or url):
        problems.append(Problem(path, line, f"reference '{key}' needs a PMID, DOI or URL"))
        ok = False
    if pmid and not PMID_RE.match(pmid):
        problems.append(Problem(path, line, f"reference '{key}' has an invalid PMID {pmid!r} (digits only)"))
        ok = False
    if doi and not DOI_RE.match(doi):
        problems.append(Problem(path, line, f"reference '{key}' has an invalid DOI {doi!r} (10.NNNN/suffix)"))
        ok = False
    if url and not URL_RE.match(url):
        problems.append(Problem(path, line, f"reference '{key}' has an invalid URL {url!r}"))
        ok = False
    if not ok:
        return None
    return {"key": key, "citation": str(ref["citation"]).strip(), "pmid": pmid, "doi": doi, "url": url}


def reference_markdown(ref: dict) -> str:
    parts = [ref["citation"]]
    if ref.get("pmid"):
        parts.append(f"PMID: [{ref['pmid']}](https://pubmed.ncbi.nlm.nih.gov/{ref['pmid']}/)")
    if ref.get("doi"):
        parts.append(f"doi: [{ref['doi']}](https://doi.org/{ref['doi']})")
    if ref.get("url"):
        parts.append(f"[{ref['url']}]({ref['url']})")
    return " ".join(parts)


# --- banned phrases --------------------------------------------------------------


def banned_phrases(content_dir: Path) -> list[str]:
    path = content_dir / "banned_phrases.txt"
    if not path.exists():
        return []
    return [
        line.strip().lower()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def _strip_myth_blocks(body: str) -> list[tuple[int, str]]:
    """Body lines outside `!!! myth` admonitions, with their offsets."""
    kept: list[tuple[int, str]] = []
    in_myth = False
    for offset, line in enumerate(body.splitlines()):
        match = ADMONITION_RE.match(line)
        if match:
            in_myth = match.group(1) == "myth"
            continue
        if in_myth and (line.startswith("    ") or not line.strip()):
            continue
        in_myth = False
        kept.append((offset, line))
    return kept


def _check_banned(text: str, phrases: list[str], path: str, line: int, problems: list[Problem]):
    lowered = text.lower()
    for phrase in phrases:
        if phrase in lowered:
            problems.append(Problem(path, line, f"banned promotional phrase {phrase!r}"))


# --- lessons ---------------------------------------------------------------------


def _lesson_parse(path: Path, rel: str, problems: list[Problem]) -> LessonDoc | None:
    text = path.read_text(encoding="utf-8")
    return lesson_parse_text(text, rel, problems, filename=path.name)


def lesson_parse_text(
    text: str, rel: str, problems: list[Problem], filename: str | None = None
) -> LessonDoc | None:
    """Parse one lesson file's text (also used by the admin's edit form)."""
    split = _split_front_matter(text, rel, problems)
    if split is None:
        return None
    header_text, body, body_line = split
    header = _yaml_load(header_text, rel, 1, problems)
    if header is None:
        return None
    if not isinstance(header, dict):
        problems.append(Problem(rel, 2, "the YAML header must be a mapping"))
        return None
    before = len(problems)
    _require(header, ["title", "slug", "order", "estimated_minutes", "last_reviewed"], rel, problems)
    slug = str(header.get("slug", ""))
    if slug and not SLUG_RE.match(slug):
        problems.append(Problem(rel, _line(header), f"slug {slug!r} must be lowercase words joined by hyphens"))
    order = header.get("order")
    if order is not None and not isinstance(order, int):
        problems.append(Problem(rel, _line(header), f"order must be a whole number, not {order!r}"))
    if filename:
        match = LESSON_FILE_RE.match(filename)
        if not match:
            problems.append(Problem(rel, 1, "lesson file names look like NN-slug.md"))
        elif isinstance(order, int) and int(match.group(1)) != order:
            problems.append(Problem(rel, 1, f"file prefix {match.group(1)} does not match order {order}"))
    minutes = header.get("estimated_minutes")
    if minutes is not None and (not isinstance(minutes, int) or minutes <= 0):
        problems.append(Problem(rel, _line(header), "estimated_minutes must be a positive whole number"))
    reviewed = None
    if header.get("last_reviewed") is not None:
        reviewed = _as_date(header["last_reviewed"], rel, _line(header), "last_reviewed", problems)

    objectives: list[dict] = []
    raw_objectives = header.get("objectives") or []
    if not raw_objectives:
        problems.append(Problem(rel, _line(header), "lesson has no learning objectives"))
    for raw in raw_objectives if isinstance(raw_objectives, list) else []:
        if not isinstance(raw, dict) or not raw.get("id") or not str(raw.get("text", "")).strip():
            problems.append(Problem(rel, _line(raw, _line(header)), "each objective needs an id and a text"))
            continue
        key = str(raw["id"])
        if not OBJECTIVE_RE.match(key):
            problems.append(Problem(rel, _line(raw), f"objective id {key!r} must look like L2.1"))
            continue
        objectives.append({"key": key, "text": str(raw["text"]).strip()})

    references: list[dict] = []
    raw_refs = header.get("references") or []
    if not raw_refs:
        problems.append(Problem(rel, _line(header), "lesson has no references"))
    seen_keys: set[str] = set()
    for raw in raw_refs if isinstance(raw_refs, list) else []:
        ref = validate_reference(raw, rel, problems, _line(header))
        if ref is None:
            continue
        if ref["key"] in seen_keys:
            problems.append(Problem(rel, _line(raw), f"reference key '{ref['key']}' is listed twice"))
            continue
        seen_keys.add(ref["key"])
        references.append(ref)

    if len(problems) > before:
        return None
    return LessonDoc(
        path=rel,
        slug=slug,
        order=order,
        title=str(header["title"]).strip(),
        estimated_minutes=minutes,
        last_reviewed=reviewed,
        objectives=objectives,
        references=references,
        source=text,
        body=body,
        body_line=body_line,
    )


def _lesson_citations(lesson: LessonDoc, problems: list[Problem]) -> list[dict] | None:
    """Check citations against the reference list; return references in citation order."""
    by_key = {ref["key"]: ref for ref in lesson.references}
    order: list[str] = []
    ok = True
    for match in CITATION_RE.finditer(lesson.body):
        key = match.group(1)
        if key not in by_key:
            line = _body_line(lesson.body, lesson.body_line, match.group(0))
            problems.append(Problem(lesson.path, line, f"citation [^{key}] has no entry in the header's references"))
            ok = False
        elif key not in order:
            order.append(key)
    for ref in lesson.references:
        if ref["key"] not in order:
            problems.append(Problem(lesson.path, 1, f"reference '{ref['key']}' is listed but never cited"))
            ok = False
    if re.search(r"^\[\^[^\]]+\]:", lesson.body, re.MULTILINE):
        line = _body_line(lesson.body, lesson.body_line, "]:")
        problems.append(Problem(lesson.path, line, "do not write footnote definitions; the loader builds them from the references"))
        ok = False
    if not ok:
        return None
    return [dict(by_key[key], number=index) for index, key in enumerate(order, start=1)]


def interaction_table_markdown(rows: list[dict]) -> str:
    def cell(value: str) -> str:
        return " ".join(str(value).split()).replace("|", "\\|")

    lines = [
        "| Drug or class | Mechanism | Expected effect | Severity | Evidence | Management |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            "| "
            + " | ".join(
                [
                    f"**{cell(row['drug'])}**",
                    cell(row["mechanism"]),
                    cell(row["effect"]),
                    cell(row["severity"]).capitalize(),
                    cell(row["evidence"]).replace("-", " ").capitalize(),
                    cell(row["management"]),
                ]
            )
            + " |"
        )
    return "\n".join(lines)


class UrlScheme:
    """How the loader writes internal links; the defaults match curriculum/urls.py."""

    def __init__(self, course_slug: str):
        self.course_slug = course_slug

    def lesson(self, slug: str) -> str:
        return f"/courses/{self.course_slug}/lessons/{slug}/"

    def interactions(self) -> str:
        return f"/courses/{self.course_slug}/interactions/"

    def figure(self, name: str) -> str:
        return f"{settings.STATIC_URL.rstrip('/')}/content/{self.course_slug}/figures/{name}"

    @staticmethod
    def static_prefix() -> str:
        return "/" + settings.STATIC_URL.strip("/") + "/" if not settings.STATIC_URL.startswith("http") else settings.STATIC_URL


def lesson_render(
    lesson: LessonDoc,
    *,
    urls: UrlScheme,
    course_dir: Path | None,
    interactions: list[dict],
    problems: list[Problem],
) -> bool:
    """Render one lesson in place (links rewritten, references appended). Returns success."""
    ordered = _lesson_citations(lesson, problems)
    if ordered is None:
        return False
    ok = True
    lines = lesson.body.splitlines()
    out: list[str] = []
    for offset, line in enumerate(lines):
        lineno = lesson.body_line + offset
        if line.strip() == TABLE_MARKER:
            if not interactions:
                problems.append(Problem(lesson.path, lineno, "[[interaction-table]] used but the course has no interactions.yaml rows"))
                ok = False
            out.append(interaction_table_markdown(interactions))
            continue
        if re.search(r"<\s*[a-zA-Z/!]", line) and not line.startswith("    "):
            problems.append(Problem(lesson.path, lineno, "raw HTML is not allowed in lessons; use Markdown"))
            ok = False
        figure = FIGURE_RE.match(line.strip())
        if figure:
            alt, target = figure.groups()
            if not alt.strip():
                problems.append(Problem(lesson.path, lineno, "a figure needs alternative text: ![description](figures/name.svg)"))
                ok = False
            if target.startswith("figures/"):
                name = target.removeprefix("figures/")
                if course_dir is not None and not (course_dir / "figures" / name).is_file():
                    problems.append(Problem(lesson.path, lineno, f"figure file {target!r} does not exist"))
                    ok = False
                line = line.replace(f"]({target})", f"]({urls.figure(name)})")
        match = ADMONITION_RE.match(line)
        if match and match.group(1) not in md.ADMONITION_TYPES:
            problems.append(Problem(lesson.path, lineno, f"unknown admonition '{match.group(1)}' (use {', '.join(sorted(md.ADMONITION_TYPES))})"))
            ok = False

        def rewrite(m: re.Match, lineno: int = lineno) -> str:
            target = m.group(1)
            if target.startswith("lesson:"):
                slug, _, anchor = target.removeprefix("lesson:").partition("#")
                url = urls.lesson(slug) + (f"#{anchor}" if anchor else "")
                lesson.links.append((lineno, slug, anchor, target))
                return m.group(0).replace(f"({target}", f"({url}")
            if target == "interactions:":
                return m.group(0).replace(f"({target}", f"({urls.interactions()}")
            return m.group(0)

        for m in LINK_RE.finditer(line):
            target = m.group(1)
            if target.startswith(("lesson:", "interactions:", "http://", "https://", "mailto:", "#", "figures/", urls.static_prefix())):
                continue
            problems.append(Problem(lesson.path, lineno, f"link target {target!r} is not allowed (use lesson:<slug>, interactions:, #anchor or https://)"))
            ok = False
        out.append(LINK_RE.sub(rewrite, line))
    out.append("")
    for ref in ordered:
        out.append(f"[^{ref['key']}]: {reference_markdown(ref)}")
    rendered = md.render_document("\n".join(out) + "\n")
    lesson.body_html = rendered.html
    lesson.toc_html = rendered.toc_html
    lesson.anchors = rendered.anchors
    lesson.references = ordered
    return ok


def lesson_links_check(lesson: LessonDoc, anchors_by_slug: dict[str, list[str]], problems: list[Problem]) -> None:
    for lineno, slug, anchor, target in lesson.links:
        if slug not in anchors_by_slug:
            problems.append(Problem(lesson.path, lineno, f"broken internal link {target!r}: no lesson with slug '{slug}'"))
        elif anchor and anchor not in anchors_by_slug[slug] and anchor != "references":
            problems.append(Problem(lesson.path, lineno, f"broken internal link {target!r}: lesson '{slug}' has no section '#{anchor}'"))


# --- items, interactions, myths --------------------------------------------------


def _items_parse(path: Path, rel: str, bundle: CourseBundle, phrases: list[str]) -> None:
    problems = bundle.problems
    data = _yaml_load(path.read_text(encoding="utf-8"), rel, 0, problems)
    if data is None:
        return
    if not isinstance(data, list):
        problems.append(Problem(rel, 1, "an item file is a YAML list of items"))
        return
    objectives = bundle.objectives()
    lessons = {lesson.slug: lesson for lesson in bundle.lessons}
    myths = {str(m.get("id")) for m in bundle.myths}
    interactions = {str(r.get("id")) for r in bundle.interactions}
    for raw in data:
        item = _item_parse(raw, rel, problems, objectives, lessons, myths, interactions, phrases)
        if item is not None:
            bundle.items.append(item)


def _item_parse(raw, rel, problems, objectives, lessons, myths, interactions, phrases) -> ItemDoc | None:
    if not isinstance(raw, dict):
        problems.append(Problem(rel, 1, "each item must be a mapping"))
        return None
    line = _line(raw)
    before = len(problems)
    key = str(raw.get("key", ""))
    if not KEY_RE.match(key):
        problems.append(Problem(rel, line, f"item key {key!r} must match [a-z0-9_-]+"))
    where = f"item '{key}'"
    item_type = raw.get("type")
    if item_type not in ITEM_TYPES:
        problems.append(Problem(rel, line, f"{where}: type must be one of {sorted(ITEM_TYPES)}"))
    pools = raw.get("pools") or []
    if not isinstance(pools, list) or not pools or not set(pools) <= POOLS:
        problems.append(Problem(rel, line, f"{where}: pools must be a non-empty list of {sorted(POOLS)}"))
        pools = []
    if "check" in pools and "posttest" in pools:
        problems.append(Problem(rel, line, f"{where}: a knowledge-check item (feedback shown at once) cannot also be a post-test item"))
    enemies = raw.get("enemies") or []
    if not isinstance(enemies, list) or not all(isinstance(e, str) and KEY_RE.match(e) for e in enemies):
        problems.append(Problem(rel, line, f"{where}: enemies must be a list of item keys"))
        enemies = []
    elif key in enemies:
        problems.append(Problem(rel, line, f"{where}: an item cannot be its own enemy"))
    objective = str(raw.get("objective") or "")
    if not objective:
        problems.append(Problem(rel, line, f"{where}: no learning objective"))
    elif objective not in objectives:
        problems.append(Problem(rel, line, f"{where}: objective {objective!r} is not an objective of any lesson"))
    section = str(raw.get("section") or "")
    lesson_slug, _, anchor = section.partition("#")
    lesson = lessons.get(lesson_slug)
    if not section or not anchor:
        problems.append(Problem(rel, line, f"{where}: section must be <lesson-slug>#<anchor>"))
    elif lesson is None:
        problems.append(Problem(rel, line, f"{where}: section names unknown lesson '{lesson_slug}'"))
    elif lesson.anchors and anchor not in lesson.anchors:
        problems.append(Problem(rel, line, f"{where}: lesson '{lesson_slug}' has no section '#{anchor}'"))
    difficulty = raw.get("difficulty")
    if difficulty not in DIFFICULTIES:
        problems.append(Problem(rel, line, f"{where}: difficulty must be one of {sorted(DIFFICULTIES)}"))
    myth = str(raw.get("myth") or "")
    if myth and myth not in myths:
        problems.append(Problem(rel, line, f"{where}: myth {myth!r} is not in myths.yaml"))
    interaction = str(raw.get("interaction") or "")
    if interaction and interaction not in interactions:
        problems.append(Problem(rel, line, f"{where}: interaction {interaction!r} is not a row of interactions.yaml"))
    stem = str(raw.get("stem") or "").strip()
    if not stem:
        problems.append(Problem(rel, line, f"{where}: no stem"))
    elif not myth:
        _check_banned(stem, phrases, rel, line, problems)

    options = raw.get("options") or []
    cleaned: list[dict] = []
    if not isinstance(options, list):
        options = []
    for option in options:
        oline = _line(option, line)
        if not isinstance(option, dict) or not str(option.get("text", "")).strip():
            problems.append(Problem(rel, oline, f"{where}: each option needs a text"))
            continue
        if not str(option.get("rationale", "") or "").strip():
            problems.append(Problem(rel, oline, f"{where}: option {str(option['text'])[:40]!r} has no rationale"))
        if not isinstance(option.get("correct"), bool):
            problems.append(Problem(rel, oline, f"{where}: option {str(option['text'])[:40]!r} needs correct: true or false"))
        _check_banned(str(option.get("text")) + " " + str(option.get("rationale", "")), phrases, rel, oline, problems)
        cleaned.append(
            {
                "text": str(option["text"]).strip(),
                "correct": option.get("correct") is True,
                "rationale": str(option.get("rationale", "") or "").strip(),
            }
        )
    n_correct = sum(o["correct"] for o in cleaned)
    texts = [o["text"] for o in cleaned]
    if len(set(texts)) != len(texts):
        problems.append(Problem(rel, line, f"{where}: two options have the same text"))
    if item_type == "single" and not (3 <= len(cleaned) <= 5 and n_correct == 1):
        problems.append(Problem(rel, line, f"{where}: a single-best-answer item has 3-5 options and exactly one correct"))
    if item_type == "multiple" and not (4 <= len(cleaned) <= 6 and n_correct >= 1):
        problems.append(Problem(rel, line, f"{where}: a multiple-response item has 4-6 options and at least one correct"))
    if item_type == "truefalse" and not (sorted(texts) == ["False", "True"] and n_correct == 1):
        problems.append(Problem(rel, line, f"{where}: a true/false item has the options True and False, one correct"))

    refs = raw.get("references") or []
    resolved: list[dict] = []
    if not refs:
        problems.append(Problem(rel, line, f"{where}: no references"))
    elif lesson is not None:
        by_key = {r["key"]: r for r in lesson.references}
        for ref_key in refs:
            if str(ref_key) not in by_key:
                problems.append(Problem(rel, line, f"{where}: reference '{ref_key}' is not in lesson '{lesson_slug}'s references"))
            else:
                resolved.append(by_key[str(ref_key)])
    if len(problems) > before:
        return None
    return ItemDoc(
        path=rel,
        line=line,
        key=key,
        type=item_type,
        pools=sorted(set(pools)),
        enemies=sorted(set(enemies)),
        objective=objective,
        lesson=lesson_slug,
        section=anchor,
        difficulty=difficulty,
        myth=myth,
        interaction=interaction,
        stem=stem,
        options=[
            dict(o, text_html=md.render_inline(o["text"]), rationale_html=md.render_fragment(o["rationale"]))
            for o in cleaned
        ],
        references=[{k: r[k] for k in ("key", "citation", "pmid", "doi", "url")} for r in resolved],
        stem_html=md.render_fragment(stem),
        source=yaml.safe_dump(_clean(raw), sort_keys=False, allow_unicode=True, width=100),
    )


def item_parse_text(
    text: str,
    *,
    path: str,
    objectives: set[str],
    lessons: dict,
    myths: set[str],
    interactions: set[str],
    phrases: list[str],
) -> tuple[ItemDoc | None, list[Problem]]:
    """Parse one item (a YAML mapping, as in an item file) with the loader's rules.

    `lessons` maps slug to an object with `anchors` and `references` (a
    LessonDoc, or a stored LessonVersion). Used by the admin's item editor.
    """
    problems: list[Problem] = []
    raw = _yaml_load(text, path, 0, problems)
    if raw is None:
        return None, problems
    if isinstance(raw, list) and len(raw) == 1:
        raw = raw[0]
    if not isinstance(raw, dict):
        problems.append(Problem(path, 1, "an item is one YAML mapping (key, type, pools, ...)"))
        return None, problems
    item = _item_parse(raw, path, problems, dict.fromkeys(objectives), lessons, myths, interactions, phrases)
    return item, problems


def _interactions_parse(path: Path, rel: str, bundle: CourseBundle) -> None:
    problems = bundle.problems
    data = _yaml_load(path.read_text(encoding="utf-8"), rel, 0, problems)
    if data is None:
        return
    if not isinstance(data, list):
        problems.append(Problem(rel, 1, "interactions.yaml is a YAML list of rows"))
        return
    seen: set[str] = set()
    for raw in data:
        if not isinstance(raw, dict):
            problems.append(Problem(rel, 1, "each interaction row must be a mapping"))
            continue
        line = _line(raw)
        before = len(problems)
        if not _require(raw, ["id", "drug", "drug_class", "mechanism", "effect", "severity", "evidence", "management", "references"], rel, problems):
            continue
        row_id = str(raw["id"])
        if not SLUG_RE.match(row_id) or row_id in seen:
            problems.append(Problem(rel, line, f"interaction id {row_id!r} must be a unique slug"))
        seen.add(row_id)
        if raw["severity"] not in SEVERITIES:
            problems.append(Problem(rel, line, f"interaction '{row_id}': severity must be one of {sorted(SEVERITIES)}"))
        if raw["evidence"] not in EVIDENCE:
            problems.append(Problem(rel, line, f"interaction '{row_id}': evidence must be one of {sorted(EVIDENCE)}"))
        refs = [validate_reference(r, rel, problems, line) for r in raw["references"]]
        if len(problems) > before:
            continue
        row = _clean(raw)
        row["references"] = refs
        bundle.interactions.append(row)


def _myths_parse(path: Path, rel: str, bundle: CourseBundle) -> None:
    problems = bundle.problems
    data = _yaml_load(path.read_text(encoding="utf-8"), rel, 0, problems)
    if data is None:
        return
    if not isinstance(data, list):
        problems.append(Problem(rel, 1, "myths.yaml is a YAML list"))
        return
    slugs = {lesson.slug for lesson in bundle.lessons}
    for raw in data:
        if not isinstance(raw, dict):
            problems.append(Problem(rel, 1, "each myth must be a mapping"))
            continue
        if not _require(raw, ["id", "claim", "verdict", "lesson"], rel, problems):
            continue
        if str(raw["lesson"]) not in slugs:
            problems.append(Problem(rel, _line(raw), f"myth '{raw['id']}': unknown lesson '{raw['lesson']}'"))
            continue
        bundle.myths.append({k: str(v).strip() for k, v in _clean(raw).items()})


# --- the course ------------------------------------------------------------------

COURSE_FIELDS = [
    "title", "slug", "summary", "estimated_minutes", "target_audience", "release_date",
    "review_date", "expiry_date", "commercial_support", "accreditation_notice",
    "hardware_software", "privacy",
]


def course_bundle_parse(course_dir: Path, *, content_root: Path | None = None, today: dt.date | None = None) -> CourseBundle:
    """Read, validate and render one course folder. Writes nothing."""
    content_root = content_root or course_dir.parent
    today = today or dt.date.today()
    bundle = CourseBundle(root=course_dir)
    problems = bundle.problems

    def rel(path: Path) -> str:
        try:
            return str(path.relative_to(content_root.parent.parent))
        except ValueError:
            return str(path)

    course_path = course_dir / "course.md"
    bundle.course_path = rel(course_path)
    if not course_path.exists():
        problems.append(Problem(rel(course_path), 1, "course.md is missing"))
        return bundle
    text = course_path.read_text(encoding="utf-8")
    split = _split_front_matter(text, rel(course_path), problems)
    if split is None:
        return bundle
    header = _yaml_load(split[0], rel(course_path), 1, problems)
    if not isinstance(header, dict):
        problems.append(Problem(rel(course_path), 2, "the YAML header must be a mapping"))
        return bundle
    if not _require(header, COURSE_FIELDS, rel(course_path), problems):
        return bundle
    course = _clean(header)
    if course["slug"] != course_dir.name:
        problems.append(Problem(rel(course_path), _line(header), f"slug {course['slug']!r} must match the folder name {course_dir.name!r}"))
    for name in ("release_date", "review_date", "expiry_date"):
        course[name] = _as_date(course[name], rel(course_path), _line(header), name, problems)
    course.setdefault("review_cycle_months", 12)
    course.setdefault("faculty", [])
    course.setdefault("disclosure_mitigation", "")
    course["description_html"] = md.render_fragment(split[1])
    bundle.course = course
    urls = UrlScheme(course["slug"])
    phrases = banned_phrases(content_root)

    interactions_path = course_dir / "interactions.yaml"
    if interactions_path.exists():
        _interactions_parse(interactions_path, rel(interactions_path), bundle)

    lesson_dir = course_dir / "lessons"
    paths = sorted(lesson_dir.glob("*.md")) if lesson_dir.exists() else []
    if not paths:
        problems.append(Problem(rel(lesson_dir), 1, "the course has no lessons"))
    seen_slugs: dict[str, str] = {}
    seen_orders: dict[int, str] = {}
    seen_objectives: dict[str, str] = {}
    for path in paths:
        lesson = _lesson_parse(path, rel(path), problems)
        if lesson is None:
            continue
        if lesson.slug in seen_slugs:
            problems.append(Problem(lesson.path, 1, f"duplicate slug '{lesson.slug}' (also used by {seen_slugs[lesson.slug]})"))
            continue
        if lesson.order in seen_orders:
            problems.append(Problem(lesson.path, 1, f"duplicate order {lesson.order} (also used by {seen_orders[lesson.order]})"))
            continue
        seen_slugs[lesson.slug] = lesson.path
        seen_orders[lesson.order] = lesson.path
        for objective in lesson.objectives:
            if objective["key"] in seen_objectives:
                problems.append(Problem(lesson.path, 1, f"objective id {objective['key']} is also used by {seen_objectives[objective['key']]}"))
            seen_objectives[objective["key"]] = lesson.path
        for offset, line in _strip_myth_blocks(lesson.body):
            _check_banned(line, phrases, lesson.path, lesson.body_line + offset, problems)
        for objective in lesson.objectives:
            _check_banned(objective["text"], phrases, lesson.path, 1, problems)
        if lesson.last_reviewed and _add_months(lesson.last_reviewed, int(course["review_cycle_months"])) < today:
            problems.append(Problem(lesson.path, 1, f"lesson is past its review date (last reviewed {lesson.last_reviewed}, cycle {course['review_cycle_months']} months)", "warning"))
        if lesson_render(lesson, urls=urls, course_dir=course_dir, interactions=bundle.interactions, problems=problems):
            bundle.lessons.append(lesson)
    anchors = {lesson.slug: lesson.anchors for lesson in bundle.lessons}
    for lesson in bundle.lessons:
        lesson_links_check(lesson, anchors, problems)

    myths_path = course_dir / "myths.yaml"
    if myths_path.exists():
        _myths_parse(myths_path, rel(myths_path), bundle)
    item_dir = course_dir / "items"
    seen_items: dict[str, str] = {}
    for path in sorted(item_dir.glob("*.yaml")) if item_dir.exists() else []:
        start = len(bundle.items)
        _items_parse(path, rel(path), bundle, phrases)
        for item in bundle.items[start:]:
            if item.key in seen_items:
                problems.append(Problem(item.path, item.line, f"duplicate item key '{item.key}' (also in {seen_items[item.key]})"))
            seen_items[item.key] = item.path
    if not bundle.errors:
        problems.extend(enemies_problems(bundle.items))
        problems.extend(integrity_problems(bundle))
    return bundle


# Quizzes that show every item of their pool (nothing is drawn), with how a message names them.
WHOLE_POOLS = {"pretest": "the pre-test", "check": "the knowledge check of lesson {}"}


def enemies_problems(items) -> list[Problem]:
    """Problems with the items' declared enemies; `items` are ItemDocs (or alike: key, pools,
    lesson, objective, enemies, path, line), all of one course.

    Enemies are item-bank "enemy items": two questions of which one cues or answers the other,
    so no attempt may show both. A declaration on either side bars the pair. The post-test's
    draw honours them (quizzes.grading.layout_build); the pre-test and the knowledge checks show
    their whole pool, so enemies cannot share one. And the draw must never be left without a
    question for an objective: each keeps at least one post-test item with no post-test enemy.
    """
    problems: list[Problem] = []
    by_key = {item.key: item for item in items}
    pairs: set[tuple[str, str]] = set()
    for item in items:
        for other in item.enemies:
            if other not in by_key:
                problems.append(Problem(item.path, item.line, f"item '{item.key}': enemy '{other}' is not an item of this course"))
            elif other != item.key:
                pairs.add(tuple(sorted((item.key, other))))
    barred: dict[str, set[str]] = defaultdict(set)  # post-test item -> its post-test enemies
    for a, b in sorted(pairs):
        first, second = by_key[a], by_key[b]
        for pool in sorted(set(first.pools) & set(second.pools)):
            if pool == "posttest":
                barred[a].add(b)
                barred[b].add(a)
            elif pool in WHOLE_POOLS and (pool != "check" or first.lesson == second.lesson):
                quiz = WHOLE_POOLS[pool].format(first.lesson)
                problems.append(Problem(
                    first.path, first.line,
                    f"items '{a}' and '{b}' are enemies but both in {quiz}, which shows every item of its pool: "
                    "every attempt would show them together. Move one to another quiz, or rewrite one so it "
                    "no longer cues the other",
                ))
    by_objective: dict[str, list] = defaultdict(list)
    for item in items:
        if "posttest" in item.pools:
            by_objective[item.objective].append(item)
    for objective, members in sorted(by_objective.items()):
        if all(barred[item.key] for item in members):
            problems.append(Problem(
                members[0].path, members[0].line,
                f"objective {objective}: each of its post-test items ({', '.join(i.key for i in members)}) has an "
                "enemy in the post-test, so a draw could be left with no question on it. Keep at least one of "
                "them free of post-test enemies",
            ))
    return problems


INTEGRITY_RULES = {
    "lessons", "lesson_minutes", "objectives_per_lesson", "pretest_items", "check_items_per_lesson",
    "posttest_items_min", "posttest_items_per_objective_min", "myth_items_min", "interaction_lessons",
    "longest_key_share_max", "longest_keys_share_max", "truefalse_key_share_max", "myth_items_per_quiz_max",
}


def keys_are_longest(item: ItemDoc) -> bool:
    """Whether an item's correct options are its longest ones (ties count) and some option is
    wrong: the cue a test-wise learner follows, as item-writing guides warn ("the correct answer
    is longer, more specific or more complete than the other options"). For a select-all item
    it means ticking the longest options scores full marks."""
    right = [len(option["text"]) for option in item.options if option.get("correct")]
    wrong = [len(option["text"]) for option in item.options if not option.get("correct")]
    return bool(right) and bool(wrong) and min(right) >= max(wrong)


def key_is_longest(item: ItemDoc) -> bool:
    """Whether a single-answer item's one correct option is its longest (ties count)."""
    return sum(bool(option.get("correct")) for option in item.options) == 1 and keys_are_longest(item)


def integrity_problems(bundle: CourseBundle) -> list[Problem]:
    """Course-level rules declared in course.md's `integrity:` block.

    Pure; each rule is optional, so a small course can declare only what it
    promises. The bundled course declares all of them (issue #4's bar).
    """
    rules = bundle.course.get("integrity") or {}
    where = bundle.course_path
    problems: list[Problem] = []

    def add(message: str, path: str = where, line: int = 1) -> None:
        problems.append(Problem(path, line, message))

    unknown = set(rules) - INTEGRITY_RULES
    if unknown:
        add(f"unknown integrity rule(s): {', '.join(sorted(unknown))}")
    if "lessons" in rules and len(bundle.lessons) != rules["lessons"]:
        add(f"the course has {len(bundle.lessons)} lessons; integrity.lessons says {rules['lessons']}")
    for lesson in bundle.lessons:
        if "lesson_minutes" in rules:
            low, high = rules["lesson_minutes"]
            if not low <= lesson.estimated_minutes <= high:
                add(f"estimated_minutes {lesson.estimated_minutes} is outside {low}-{high}", lesson.path)
        if "objectives_per_lesson" in rules:
            low, high = rules["objectives_per_lesson"]
            if not low <= len(lesson.objectives) <= high:
                add(f"{len(lesson.objectives)} objectives; each lesson needs {low}-{high}", lesson.path)
    items = bundle.items
    if "pretest_items" in rules:
        count = sum("pretest" in item.pools for item in items)
        if count != rules["pretest_items"]:
            add(f"{count} pretest items; integrity.pretest_items says {rules['pretest_items']}")
    if "check_items_per_lesson" in rules:
        low, high = rules["check_items_per_lesson"]
        for lesson in bundle.lessons:
            count = sum("check" in item.pools and item.lesson == lesson.slug for item in items)
            if not low <= count <= high:
                add(f"{count} knowledge-check items; each lesson needs {low}-{high}", lesson.path)
    if "posttest_items_min" in rules:
        count = sum("posttest" in item.pools for item in items)
        if count < rules["posttest_items_min"]:
            add(f"{count} post-test items; at least {rules['posttest_items_min']} are needed")
    if "posttest_items_per_objective_min" in rules:
        need = rules["posttest_items_per_objective_min"]
        for key, (lesson, _objective) in bundle.objectives().items():
            count = sum("posttest" in item.pools and item.objective == key for item in items)
            if count < need:
                add(f"objective {key} is assessed by {count} post-test items; at least {need} are needed", lesson.path)
    if "myth_items_min" in rules:
        count = sum(bool(item.myth) for item in items)
        if count < rules["myth_items_min"]:
            add(f"{count} myth-correction items; at least {rules['myth_items_min']} are needed")
    if "myth_items_per_quiz_max" in rules:
        # Items correcting one claim quote it alike and share their correction: two of them in one
        # attempt, and one gives the other away. The pre-test and the checks show their whole pool;
        # the post-test draws, and never draws two enemies, so there it counts what one draw can hold.
        most = rules["myth_items_per_quiz_max"]
        quizzes = {"pretest": "the pre-test", "posttest": "the post-test"}
        enemies = {frozenset((item.key, other)) for item in items for other in item.enemies}
        by_quiz: dict[tuple[str, str, str], list[str]] = defaultdict(list)
        for item in items:
            for pool in item.pools:
                if item.myth:
                    quiz = f"the knowledge check of lesson {item.lesson}" if pool == "check" else quizzes.get(pool, pool)
                    by_quiz[(pool, quiz, item.myth)].append(item.key)
        for (pool, quiz, myth), keys in by_quiz.items():
            together = len(keys) if pool != "posttest" else max(
                size
                for size in range(1, len(keys) + 1)
                for group in combinations(keys, size)
                if not any(frozenset(pair) in enemies for pair in combinations(group, 2))
            )
            if together > most:
                add(
                    f"myth {myth} is corrected by {len(keys)} items in the pool of {quiz} ({', '.join(keys)}); "
                    f"integrity.myth_items_per_quiz_max allows {most}: one attempt can draw {together} of them "
                    "together, and one then gives the other away. Keep one in that pool and move the others"
                    + (", or declare them enemies (`enemies:`)" if pool == "posttest" else "")
                )
    # Length cues: (rule, the items it counts, the cue, what the share measures, what a learner gains).
    length_cues = (
        ("longest_key_share_max", [item for item in items if item.type == "single" and len(item.options) > 1],
         key_is_longest, "the correct option is the longest in {} of {} single-answer items",
         "a learner who always picks the longest option would score that much"),
        ("longest_keys_share_max", [item for item in items if item.type == "multiple"],
         keys_are_longest, "the correct options are the longest ones in {} of {} select-all items",
         "a learner who ticks the longest options would get those items right"),
    )
    for rule, pool, cued, what, gain in length_cues:
        if rule not in rules:
            continue
        longest = [item.key for item in pool if cued(item)]
        share = len(longest) / len(pool) if pool else 0.0
        if share > rules[rule]:
            add(
                f"{what.format(len(longest), len(pool))} ({share:.0%}); integrity.{rule} allows {rules[rule]:.0%}: "
                f"{gain}. Shorten those keys or lengthen distractors: {', '.join(longest)}"
            )
    if "truefalse_key_share_max" in rules:
        # A learner who always answers "False" (or always "True") must not score by it.
        keys = {"True": [], "False": []}
        for item in items:
            if item.type == "truefalse":
                keys[next(o["text"] for o in item.options if o.get("correct"))].append(item.key)
        answer, named = max(keys.items(), key=lambda pair: len(pair[1]))
        total = len(keys["True"]) + len(keys["False"])
        share = len(named) / total if total else 0.0
        if share > rules["truefalse_key_share_max"]:
            add(
                f"the answer is {answer} in {len(named)} of {total} true/false items ({share:.0%}); "
                f"integrity.truefalse_key_share_max allows {rules['truefalse_key_share_max']:.0%}: a learner who "
                f"always answers {answer} would score that much. Restate some as {'True' if answer == 'False' else 'False'} "
                f"statements: {', '.join(named)}"
            )
    for slug in rules.get("interaction_lessons", []):
        for item in items:
            if item.lesson == slug and not item.interaction:
                add(f"item '{item.key}' draws on {slug} but names no interactions.yaml row", item.path, item.line)
    return problems


def content_dirs(content_root: Path | None = None) -> list[Path]:
    root = content_root or Path(settings.CURRICULUM_CONTENT_DIR)
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / "course.md").exists())
