"""`lode report` opened the way a reviewer opens it: headless Chromium (Debian's package),
from disk, with networking off. The report must render — the comparison rows in the DOM,
every chart drawn with a non-zero size, no console error — and a screenshot is kept in
test-artifacts/ (or $LODE_TEST_ARTIFACTS) to look at."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(os.environ.get("LODE_TEST_ARTIFACTS", REPO_ROOT / "test-artifacts"))
C_VALUES = ("0.5", "1.5", "0.05")

pytest.importorskip("sklearn", reason="the churn pipeline needs the demo extra")


@pytest.fixture(scope="module")
def churn3(tmp_path_factory, base_env) -> Path:
    """The churn project with three commits of different train.C, each reproduced."""
    root = tmp_path_factory.mktemp("report")
    env = dict(base_env)

    def run(*args: str, cwd: Path) -> str:
        proc = subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    lode = ["python3", "-m", "lode"]
    run(*lode, "init", "--template", "churn", str(root / "churn"), cwd=root)
    proj = root / "churn"
    params = proj / "params.yaml"
    previous = "0.5"
    for c in C_VALUES:
        params.write_text(params.read_text().replace(f"C: {previous}", f"C: {c}"))
        previous = c
        run(*lode, "repro", cwd=proj)
        run("git", "add", "-A", cwd=proj)
        run("git", "commit", "-q", "-m", f"train.C = {c}", cwd=proj)
    return proj


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                    "(.ci/run installs it)")
def test_the_report_renders_offline_in_chromium(churn3, lode):
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright drives Chromium (.ci/run installs it)")
    out = churn3.parent / "report.html"
    lode("report", "HEAD~2", "HEAD~1", "HEAD", "-o", out, cwd=churn3)
    html = out.read_text(encoding="utf-8")
    assert "<script src=" not in html and "<link " not in html

    requests: list[str] = []
    problems: list[str] = []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--disable-sync"])
        try:
            context = browser.new_context(offline=True, viewport={"width": 1400,
                                                                   "height": 900})
            page = context.new_page()
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("request", lambda r: r.url.startswith("file:") or
                    r.url.startswith("data:") or requests.append(r.url))
            page.goto(out.as_uri())
            charts = page.locator("[data-vega-spec]")
            n = charts.count()
            assert n >= 1
            # every chart's SVG is drawn (vega-embed renders asynchronously)
            page.wait_for_function(
                "n => document.querySelectorAll('[data-vega-spec] svg').length >= n",
                arg=n, timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
            rows = page.locator("table.compare tbody tr")
            assert rows.count() == 3
            assert {rows.nth(i).get_attribute("data-rev") for i in range(3)} == \
                {"HEAD~2", "HEAD~1", "HEAD"}
            for i in range(n):
                box = charts.nth(i).locator("svg").first.bounding_box()
                assert box and box["width"] > 50 and box["height"] > 50, (i, box)
            text = page.inner_text("body")
            assert "roc_auc" in text and "train.C" in text
            assert "Metric deltas against HEAD~2" in text  # the oldest is the baseline
        finally:
            browser.close()
    assert problems == []
    assert requests == []  # nothing asked of the network
