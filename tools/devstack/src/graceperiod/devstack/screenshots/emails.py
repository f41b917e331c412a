"""Screenshots of HTML files in Debian's Chromium (headless, through Playwright), for the docs.

python -m graceperiod.devstack.screenshots.email_preview --out var/preview
python -m graceperiod.devstack.screenshots.emails var/preview/*.html --out docs/screenshots --prefix email-
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from pathlib import Path

from playwright.async_api import async_playwright

from graceperiod.devstack.testkit.web import CHROMIUM, CHROMIUM_ARGS


async def screenshot(pages: Sequence[Path], out: Path, *, width: int = 720, prefix: str = "") -> list[Path]:
    """One full-page PNG per HTML file, ``<out>/<prefix><stem>.png``. Pages load with the
    network off: an email must not depend on remote resources."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": width, "height": 800}, offline=True)
            page = await context.new_page()
            for source in pages:
                await page.set_content(source.read_text(), wait_until="load")
                target = out / f"{prefix}{source.stem}.png"
                await page.screenshot(path=str(target), full_page=True)
                written.append(target)
        finally:
            await browser.close()
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--width", type=int, default=720)
    parser.add_argument("--prefix", default="", help="before each file's name (docs/: email-)")
    args = parser.parse_args(argv)
    for path in asyncio.run(screenshot(args.pages, args.out, width=args.width, prefix=args.prefix)):
        print(path)


if __name__ == "__main__":
    main()
