"""Take the console's screenshots in docs/console.md again: `python docs/screenshots.py`.

Builds a demo store (edm.demo.run_demo in a throwaway folder: mail sent, opened, answered, ordered),
adds an admin and the account manager with the most customers, serves the console on loopback at the
demo's simulated day, and photographs each page in Debian's chromium (Playwright) at 1280×800,
writing docs/images/console-*.png as 256-colour PNGs (optipng squeezes them further when installed).
The demo is seeded, so the pictures change only when the pages or the demo do.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, ViewportSize, sync_playwright
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's edm, wherever the script is run from

from edm.console.app import create_console_app  # noqa: E402
from edm.console.users import ADMIN, MANAGER, add_user  # noqa: E402
from edm.demo import run_demo  # noqa: E402
from edm.store import Customer  # noqa: E402
from edm.tracking import serve_in_background  # noqa: E402

PASSWORD = "screenshots only, a throwaway store"  # noqa: S105 - the demo folder is deleted afterwards
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
CAMPAIGN = "win_back"  # run by the demo: its last run's figures
PREVIEWED = "spring_festival"  # waits for its day: the preview has its whole audience and messages
# name: (user, path); the manager's view is their own customers page (alerts, then churn risk)
SHOTS = {
    "today": ("lead", "/"),
    "campaigns": ("lead", "/campaigns"),
    "campaign": ("lead", f"/campaigns/{CAMPAIGN}"),
    "preview": ("lead", f"/campaigns/{PREVIEWED}/preview"),
    "customers": ("lead", "/customers?q=C00"),
    "customer": ("lead", "/customers/C0005"),
    "reports": ("lead", "/reports"),
    "report": ("lead", "/reports/engagement"),
    "manager": ("manager", "/customers"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--customers", type=int, default=240)
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("needs Debian's chromium: apt-get install chromium")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        done = run_demo(Path(folder) / "demo", customers=args.customers, echo=lambda line: None)
        with done.sessions.begin() as db:
            busiest = db.execute(select(Customer.account_manager_email, func.count()).where(
                Customer.account_manager_email.is_not(None)).group_by(Customer.account_manager_email)
                .order_by(func.count().desc(), Customer.account_manager_email)).first()
            assert busiest is not None, "the demo's customers have account managers"
            add_user(db, "lead", ADMIN, PASSWORD, done.clock.now())
            add_user(db, "manager", MANAGER, PASSWORD, done.clock.now(), busiest[0])
        app = create_console_app(done.sessions, done.settings, done.clock)
        with serve_in_background(app) as url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            try:
                pages = {user: _signed_in(browser.new_page(viewport=VIEWPORT, locale="en-GB"), url, user)
                         for user in ("lead", "manager")}
                for name, (user, path) in SHOTS.items():
                    page = pages[user]
                    answer = page.goto(url + path)
                    assert answer is not None and answer.status == 200, (path, answer and answer.status)
                    target = args.out / f"console-{name}.png"
                    page.screenshot(path=str(target))
                    _squeeze(target)
                    print(f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target} "
                          f"{target.stat().st_size // 1024} KB")
            finally:
                browser.close()


def _signed_in(page: Page, url: str, user: str) -> Page:
    page.goto(f"{url}/login")
    page.fill("#name", user)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.press("#password", "Enter")
    return page


def _squeeze(path: Path) -> None:
    """256 colours are plenty for a page of text and flat colour; optipng, if there, does the rest."""
    with Image.open(path) as shot:
        fewer = shot.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                                             dither=Image.Dither.NONE)
    fewer.save(path, optimize=True)
    if shutil.which("optipng"):
        subprocess.run(["optipng", "-quiet", "-o2", str(path)], check=True)  # noqa: S603, S607


if __name__ == "__main__":
    main()
