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


@pytest.fixture
def assert_accessible():
    def check(page, label: str = ""):
        violations = axe_violations(page)
        assert violations == [], f"axe-core violations on {label or page.url}: {violations}"

    return check
