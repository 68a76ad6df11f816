"""Easy-mode page weight and time to interactive on a slow phone network (prints a table).

    .venv/bin/python bench/easy_pages.py [--runs 3] [--json]

A fresh SQLite database is built from the migrations and filled with the demo data
(`flask seed-demo`); the app is served by werkzeug on a free 127.0.0.1 port. Chromium (Debian's,
headless) signs in as the demo elder, then loads each easy page cold — new browser context, empty
cache, no service worker — under a throttled "slow 3G" profile (CDP
Network.emulateNetworkConditions: 400 kbit/s down, 400 kbit/s up, 400 ms round trip; CPU 4×
slower) and records:

  * bytes: everything transferred for the page before photos (HTML, CSS, JS; image responses
    are left out), measured by CDP (encodedDataLength, headers included). Target < 100 KB.
  * TTI: time to interactive ≈ when the DOM is ready and the page script has wired the page
    (window.__easyReady, set at the end of easy.js), from the start of navigation. Target < 2 s.
  * load: the load event, for reference.

Each page is measured `--runs` times; the table shows the median.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SLOW_3G = {
    "offline": False,
    "latency": 400,
    "downloadThroughput": 400 * 1000 / 8,
    "uploadThroughput": 400 * 1000 / 8,
}
CPU_SLOWDOWN = 4
TARGET_BYTES = 100 * 1024
TARGET_TTI_MS = 2000


def start_demo_server(tmp: Path):
    """Build a demo database from the migrations, serve the app; returns (base_url, app, stop)."""
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from tests.live import ThreadedServer

    instance = tmp / "instance"
    app = create_app(
        {
            "ENV_OVERRIDES": {"LINLI_ENV": "development", "LINLI_INSTANCE_PATH": str(instance)},
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.db'}",
            "UPLOAD_FOLDER": str(instance / "uploads"),
            "MEDIA_CACHE_FOLDER": str(instance / "cache"),
            "INSTANCE_PATH": str(instance),
        }
    )
    with app.app_context():
        upgrade()
        db.create_all()  # tables whose migration is still being written by their feature
        result = app.test_cli_runner().invoke(args=["seed-demo", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    server = ThreadedServer(app).start()
    app.config["PUBLIC_BASE_URL"] = server.url
    return server.url, app, summary, server.stop


def demo_paths(app, summary) -> tuple[dict, list[tuple[str, str]]]:
    """The demo elder's login and the pages to measure (with a real case and category)."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Person
    from app.models.case import Case, CaseCategory

    residents = [a for a in summary["accounts"] if a["role"] == "resident"]
    elder = next((a for a in residents if a.get("note") == "独居老人"), residents[0])
    with app.app_context():
        person = db.session.scalar(select(Person).where(Person.phone == elder["login"]))
        category = db.session.scalar(
            select(CaseCategory)
            .where(CaseCategory.community_id == person.community_id)
            .order_by(CaseCategory.sort_order)
        )
        case = db.session.scalar(
            select(Case).where(Case.reporter_id == person.id).order_by(Case.id.desc())
        )
    pages = [
        ("sign-in", "/easy/login"),
        ("join", "/easy/join?code=ABCD2345"),
        ("home", "/easy/"),
        ("notices", "/easy/announcements"),
        ("activities", "/easy/activities"),
        ("report: categories", "/easy/report"),
    ]
    if category is not None:
        pages.append(("report: form", f"/easy/report/{category.id}"))
    pages.append(("my matters", "/easy/cases"))
    if case is not None:
        pages += [
            ("one matter", f"/easy/cases/{case.id}"),
            ("reference", f"/easy/cases/{case.id}/received"),
        ]
    pages += [
        ("contact", "/easy/contact"),
        ("more", "/easy/more"),
        ("settings", "/easy/settings"),
        ("family help", "/easy/family"),
    ]
    return elder, pages


def measure(browser, base: str, cookies: list, path: str) -> dict:
    """One cold load under the slow profile."""
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, locale="zh-CN", service_workers="block"
    )
    if cookies and not path.startswith(("/easy/login", "/easy/join")):
        context.add_cookies(cookies)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    cdp.send("Network.emulateNetworkConditions", SLOW_3G)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
    kinds: dict[str, str] = {}
    sizes: dict[str, float] = {}
    cdp.on("Network.responseReceived", lambda e: kinds.__setitem__(e["requestId"], e["type"]))
    cdp.on(
        "Network.loadingFinished",
        lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]),
    )
    page.goto(base + path, wait_until="load")
    page.wait_for_function("window.__easyReady !== undefined")
    timing = page.evaluate("""() => {
        const nav = performance.getEntriesByType('navigation')[0];
        return {dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
                ready: window.__easyReady, status: nav.responseStatus};
    }""")
    page.wait_for_timeout(50)  # let the last loadingFinished events arrive
    counted = [rid for rid in sizes if kinds.get(rid) != "Image"]
    result = {
        "bytes": int(sum(sizes[rid] for rid in counted)),
        "requests": len(counted),
        "tti": max(timing["dcl"], timing["ready"]),
        "load": timing["load"],
        "status": timing.get("status"),
        "final_url": page.url,
    }
    context.close()
    return result


def sign_in_cookies(browser, base: str, elder: dict) -> list:
    """Sign in through the real form (unthrottled) and keep the session cookies."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(base + "/easy/login")
    page.fill("#phone", elder["login"])
    page.fill("#pin", elder["pin"])
    page.click("form.form button[type=submit]")
    page.wait_for_url(re.compile(r".*/easy/$"))
    cookies = context.cookies()
    context.close()
    return cookies


def run(runs: int = 3) -> list[dict]:
    """Measure every page; returns one row per page (medians)."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="linli-bench-") as tmp:
        base, app, summary, stop = start_demo_server(Path(tmp))
        try:
            elder, pages = demo_paths(app, summary)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                cookies = sign_in_cookies(browser, base, elder)
                rows = []
                for name, path in pages:
                    samples = [measure(browser, base, cookies, path) for _ in range(runs)]
                    rows.append(
                        {
                            "page": name,
                            "path": path,
                            "requests": samples[0]["requests"],
                            "bytes": int(statistics.median(s["bytes"] for s in samples)),
                            "tti_ms": round(statistics.median(s["tti"] for s in samples)),
                            "load_ms": round(statistics.median(s["load"] for s in samples)),
                            "final_url": samples[0]["final_url"].replace(base, ""),
                        }
                    )
                browser.close()
        finally:
            stop()
    return rows


def print_table(rows: list[dict]) -> None:
    """The figures, with the targets."""
    print(
        f"Easy mode, cold first load, slow 3G (400 kbit/s, 400 ms RTT), CPU {CPU_SLOWDOWN}x "
        f"slower; median of runs"
    )
    print(f"{'page':<20} {'path':<32} {'req':>3} {'KB':>7} {'TTI ms':>7} {'load ms':>8}  ok")
    for r in rows:
        ok = r["bytes"] < TARGET_BYTES and r["tti_ms"] < TARGET_TTI_MS
        print(
            f"{r['page']:<20} {r['path'][:32]:<32} {r['requests']:>3} {r['bytes'] / 1024:>7.1f} "
            f"{r['tti_ms']:>7} {r['load_ms']:>8}  {'yes' if ok else 'NO'}"
        )
    print(
        f"targets: < {TARGET_BYTES // 1024} KB before photos, time to interactive "
        f"< {TARGET_TTI_MS} ms"
    )
    print(
        f"largest page: {max(r['bytes'] for r in rows) / 1024:.1f} KB; slowest TTI: "
        f"{max(r['tti_ms'] for r in rows)} ms"
    )


def main() -> int:
    """Run and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = run(args.runs)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
