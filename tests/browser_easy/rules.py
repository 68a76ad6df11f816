"""The age-friendly floor measured in the browser (MIIT 适老化 + WCAG 2.2): computed font sizes
and line heights, target sizes and spacing from bounding boxes, contrast from computed colours,
icons with words, and no horizontal scrolling."""

from __future__ import annotations

from pathlib import Path

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

MEASURE = (Path(__file__).with_name("measure.js")).read_text(encoding="utf-8")


def measure(page, min_font: int) -> dict:
    """Run the checks on the current page; returns {problems, texts, targets}."""
    return page.evaluate(MEASURE, {"minFont": min_font})


def overflow(page) -> int:
    """How many CSS pixels the page is wider than the viewport (0 when it fits)."""
    return page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def axe_violations(page) -> list[str]:
    """axe-core with the WCAG 2.2 AA rule tags; one line per violation."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": AXE_TAGS}})
    lines = []
    for violation in results.response["violations"]:
        targets = [", ".join(node["target"]) for node in violation["nodes"]][:3]
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} → {targets}")
    return lines
