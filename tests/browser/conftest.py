"""Real headless Chromium (Debian's package) driven by Playwright, with axe-core.

Never `playwright install`: browser downloads are impossible on these
machines. Without /usr/bin/chromium the browser tests skip with the reason
and the fix, except in CI (CI=true), where a missing browser is a failure.
"""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
AXE_SOURCE = (Path(__file__).resolve().parents[1] / "vendor" / "axe.min.js").read_text()
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)
    if Path(CHROMIUM).exists() or shutil.which(CHROMIUM):
        return
    if os.environ.get("CI"):
        raise pytest.UsageError(f"CI needs Chromium at {CHROMIUM} for the browser tests (.ci/run installs it).")
    skip = pytest.mark.skip(
        reason=f"browser tests did not run: no Chromium at {CHROMIUM}. "
        "Enable them with: sudo apt-get install chromium (or set CHROMIUM_PATH)."
    )
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


def axe_violations(page) -> list[dict]:
    """Run axe-core (WCAG 2.x A/AA rules) on the page and return its violations."""
    page.evaluate(AXE_SOURCE)
    result = page.evaluate(
        "opts => axe.run(document, opts)", {"runOnly": {"type": "tag", "values": WCAG_TAGS}}
    )
    return [
        {"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
    ]


# The elements that stick out past the right edge of the page, outermost first
# (what is inside a scrolling region, such as a lesson's table, scrolls there).
_OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  const scrolls = el => ['auto', 'scroll', 'hidden'].includes(getComputedStyle(el).overflowX);
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.right <= width + 1) continue;
    let clipped = false;
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (scrolls(up) || out.includes(up)) { clipped = true; break; }
    }
    if (!clipped) out.push(el);
  }
  return {scrollWidth: document.documentElement.scrollWidth, width,
          sticking_out: out.slice(0, 5).map(el => `${el.tagName.toLowerCase()}: ${el.textContent.trim().slice(0, 60)}`)};
}"""


def horizontal_overflow(page) -> dict | None:
    """None if the page fits its viewport's width; else how wide it is and what sticks out.

    WCAG 2.1's Reflow (1.4.10) asks that a page read at 320 CSS pixels wide without scrolling
    sideways; axe-core does not check it. A phone between patients is where clinicians read."""
    found = page.evaluate(_OVERFLOW_JS)
    return found if found["scrollWidth"] > found["width"] else None


# Radios and checkboxes whose label is not beside them, on the same line.
_DETACHED_CHOICES_JS = """() => [...document.querySelectorAll('main input[type=radio], main input[type=checkbox]')]
  .map(input => [input, document.querySelector(`label[for="${input.id}"]`)])
  .filter(([input, label]) => {
    const i = input.getBoundingClientRect();
    if (i.width === 0 && i.height === 0) return false;  // not shown (a hidden section)
    if (!label) return true;
    const l = label.getBoundingClientRect();
    return !(l.left >= i.right && i.top < l.bottom && l.top < i.bottom);
  })
  .map(([input, label]) => label ? label.textContent.trim().slice(0, 60) : `#${input.id} (no label)`)"""


def detached_choices(page) -> list[str]:
    """The labels of radios and checkboxes not set beside their label, to its right and on the
    same line: a full-width radio centred above its label leaves a clinician guessing which
    circle is which answer."""
    return page.evaluate(_DETACHED_CHOICES_JS)


def accessibility_problems(page) -> list[dict]:
    """axe-core's WCAG A/AA violations, the page's horizontal overflow if any, and any radio or
    checkbox set apart from its label."""
    problems = axe_violations(page)
    overflow = horizontal_overflow(page)
    if overflow:
        problems.append({"id": "reflow (WCAG 1.4.10)", **overflow})
    detached = detached_choices(page)
    if detached:
        problems.append({"id": "choice not beside its label", "labels": detached[:5]})
    return problems


@pytest.fixture
def assert_accessible():
    def check(page, label: str = ""):
        problems = accessibility_problems(page)
        assert problems == [], f"accessibility problems on {label or page.url}: {problems}"

    return check
