"""Markdown to sanitised HTML, done once when content is loaded.

Pure functions, no database: the loader (`curriculum/content.py`) and the
admin call them, and the stored result is what pages serve. The only HTML a
template renders raw is what leaves `sanitise()`, so an author (or a
compromised content file) cannot inject script into a clinical course.
"""

import re
from dataclasses import dataclass, field

import markdown
import nh3

_EXTENSIONS = ["tables", "footnotes", "toc", "admonition", "sane_lists", "attr_list"]
_EXTENSION_CONFIGS = {
    "toc": {"toc_depth": "2-3", "permalink": False},
    "footnotes": {"BACKLINK_TEXT": "↩", "BACKLINK_TITLE": "Back to citation %d in the text"},
}

ALLOWED_TAGS = {
    "a", "abbr", "blockquote", "br", "code", "dd", "div", "dl", "dt", "em", "figcaption",
    "figure", "h2", "h3", "h4", "h5", "h6", "hr", "img", "li", "ol", "p", "pre", "section",
    "span", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}
ALLOWED_ATTRIBUTES = {
    "*": {"id", "class"},
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "ol": {"start"},
    "th": {"scope"},
    "div": {"role", "tabindex", "aria-label"},
}
ADMONITION_TYPES = {"pearl", "warning", "note", "myth"}


def sanitise(html: str) -> str:
    """Keep only the allow-listed tags, attributes and URL schemes."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


@dataclass
class Rendered:
    html: str
    toc_html: str
    anchors: list[str] = field(default_factory=list)


def _flatten(tokens: list[dict]) -> list[str]:
    out: list[str] = []
    for token in tokens:
        out.append(token["id"])
        out.extend(_flatten(token.get("children", [])))
    return out


_TABLE_ALIGN = re.compile(r' style="text-align: ?\w+;?"')
_ADMONITION = re.compile(r'<div class="admonition (\w+)">')


def render_document(text: str) -> Rendered:
    """Render a lesson body (with its generated footnote definitions)."""
    md = markdown.Markdown(extensions=_EXTENSIONS, extension_configs=_EXTENSION_CONFIGS)
    html = md.convert(text)
    html = _TABLE_ALIGN.sub("", html)
    # Tables scroll sideways on a phone instead of breaking the layout; the
    # scrolling region is focusable so keyboard users can scroll it too.
    html = html.replace(
        "<table>", '<div class="table-wrap" role="region" tabindex="0" aria-label="Table"><table>'
    ).replace(
        "</table>", "</table></div>"
    )
    html = _ADMONITION.sub(r'<div class="admonition \1" role="note">', html)
    html = html.replace(
        '<div class="footnote">\n<hr />',
        '<section class="references" id="references"><h2>References</h2>\n<div class="footnote">',
        1,
    )
    if '<section class="references"' in html:
        html = html.rstrip()
        html += "</section>"
    return Rendered(
        html=sanitise(html),
        toc_html=sanitise(md.toc),
        anchors=_flatten(md.toc_tokens),
    )


def render_fragment(text: str) -> str:
    """Render a short piece (an item stem, an option, a rationale)."""
    md = markdown.Markdown(extensions=["tables", "sane_lists"])
    return sanitise(md.convert(text))


def render_inline(text: str) -> str:
    """Render one line without its paragraph wrapper (an option's text)."""
    html = render_fragment(text)
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        html = html[3:-4]
    return html
