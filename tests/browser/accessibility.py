"""Accessibility checks in the browser: axe-core (the copy the axe-playwright-python package
ships, pinned in uv.lock; never fetched at test time) and the page's focus and layout.

axe runs through ``page.evaluate`` (the DevTools protocol), which the pages' Content Security
Policy (``script-src 'none'``) does not apply to.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

from playwright.async_api import Page

#: axe's impact levels that fail a test.
BLOCKING = frozenset({"serious", "critical"})


@cache
def axe_source() -> str:
    return (files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now (WCAG 2 A/AA and
    best practices), each with the nodes it found."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(axe_source())
    results: dict[str, Any] = await page.evaluate(
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', "
        "'best-practice']}, resultTypes: ['violations']})"
    )
    return [v for v in results["violations"] if v.get("impact") in BLOCKING]


def describe(violations: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}" for v in violations
    )


async def sideways_overflow(page: Page) -> int:
    """How many pixels the page scrolls sideways (0: it fits the viewport). Against the layout
    width (``clientWidth``): on a phone ``innerWidth`` grows with overflowing content, so
    comparing with it never finds any."""
    return int(await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"))


async def focus_in(page: Page, selector: str) -> bool:
    """Whether the focused element is (inside) ``selector``."""
    return bool(
        await page.evaluate(
            "(s) => { const f = document.activeElement; const t = document.querySelector(s);"
            " return !!(f && t && (t === f || t.contains(f))); }",
            selector,
        )
    )


async def tab_stops(page: Page, selector: str) -> list[int]:
    """The keyboard tab stops inside each element matching ``selector``."""
    counts: list[int] = await page.evaluate(
        """(s) => [...document.querySelectorAll(s)].map(el => [...el.querySelectorAll(
            'a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), select, textarea, [tabindex]'
        )].filter(e => e.tabIndex >= 0).length)""",
        selector,
    )
    return counts


async def focus_ring(page: Page) -> dict[str, Any]:
    """The focused element's outline (style, width in px, colour) and the page background behind it."""
    ring: dict[str, Any] = await page.evaluate(
        """() => { const behind = (el) => { for (let n = el.parentElement; n; n = n.parentElement) {
            const c = getComputedStyle(n).backgroundColor;
            if (c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') return c; } return 'rgb(255, 255, 255)'; };
        const e = document.activeElement; const s = getComputedStyle(e);
        return {tag: e.tagName, cls: e.className, style: s.outlineStyle, width: parseFloat(s.outlineWidth),
                offset: parseFloat(s.outlineOffset), color: s.outlineColor,
                background: behind(e), buttonBackground: s.backgroundColor}; }"""
    )
    return ring


def contrast(first: str, second: str) -> float:
    """WCAG contrast ratio of two CSS ``rgb()``/``rgba()`` colours (alpha ignored)."""

    def luminance(color: str) -> float:
        parts = [float(p) for p in color[color.index("(") + 1 : color.index(")")].split(",")[:3]]
        linear = [c / 255 / 12.92 if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in parts]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)
