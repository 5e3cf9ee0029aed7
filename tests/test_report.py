"""The HTML report (benchmark.reports.html, ``larpbench report``): self-contained, built from
records only, lists unreadable files, refuses an empty folder; and, marked slow, opened in
headless Chromium (selenium): no console errors, sortable headers, one Table 2 row per cell.

The browser test needs Debian's ``chromium`` and ``chromium-driver`` (``apt-get install -y
chromium chromium-driver``) and ``selenium`` (the ``test`` extra); it skips, saying which is
missing, where they are absent. ``LARPBENCH_SAVE_SCREENSHOT=1`` saves its screenshot to
``docs/report-screenshot.png``.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from _records_fixture import metrics_from_topk, random_world, write_cell

from benchmark.cli import main
from benchmark.reports.html import EmptyResults, build_report
from benchmark.reports.tables import table2_data

ROOT = Path(__file__).resolve().parents[1]


def _small_results(tmp_path: Path) -> Path:
    """Three encoders × one recommender on one dataset, rankings stored for two of them, one
    unavailable cell and one unreadable file."""
    res = tmp_path / "results"
    for i, (enc, quality) in enumerate((("good", 0.8), ("mid", 0.4), ("old", 0.1))):
        world = random_world(n_playlists=20, seed=10 + i, quality=quality)
        per = metrics_from_topk(world["topk"], world["truth"])
        write_cell(res, "ci", "synth-mpd", enc, "itemknn", per, rankings=world if enc != "old" else None)
    write_cell(res, "ci", "synth-mpd", "gone", "itemknn", None, status="unavailable")
    broken = res / "ci" / "synth-mpd" / "broken" / "itemknn" / "seed0.json"
    broken.parent.mkdir(parents=True)
    broken.write_text('{"schema": "larpbench-result/2", "kind": "cell"')  # truncated
    return res


def test_report_is_self_contained_and_lists_what_is_missing(tmp_path):
    res = _small_results(tmp_path)
    page = build_report(res, "ci")
    assert page.startswith("<!DOCTYPE html>") and "</html>" in page
    # nothing fetched: no external URL in src/href, no CDN
    assert not re.search(r"""(src|href)\s*=\s*['"]?(https?:)?//""", page)
    assert "<script src" not in page and "stylesheet" not in page
    # the unreadable file is listed as missing, with its path
    assert "missing (unreadable)" in page and "broken/itemknn/seed0.json" in page
    # Table 2: one body row per result cell of the dataset (readable ones), letters present
    t2 = page[page.index("<section id='table2'>"):page.index("<section id='comparisons'>")]
    assert t2.count("<tr data-dataset=") == 4 == len(table2_data(res, "ci", errors=[])["values"])
    assert "<span class='cld'>a</span>" in t2
    # diagnostics: two cells with rankings, one without
    diag = page[page.index("<section id='diagnostics'>"):page.index("<section id='provenance'>")]
    assert "2 of 4 cell(s) have stored rankings" in diag
    assert "not available (record predates stored rankings)" in diag
    assert "Regression check: <b>not run</b>" in page
    assert "0123456789ab" in page  # the cells' git commit in the provenance table


def test_report_cli_regression_status_and_empty_folder(tmp_path, capsys):
    res = _small_results(tmp_path)
    (res / "ci" / "synth-mpd" / "broken" / "itemknn" / "seed0.json").unlink()
    out = tmp_path / "r.html"
    assert main(["report", "--profile", "ci", "--results", str(res), "--out", str(out),
                 "--compare-with", str(res)]) == 0
    assert "data-status='passed'" in out.read_text()
    other = tmp_path / "other"
    shutil.copytree(res, other)
    (other / "ci" / "synth-mpd" / "mid" / "itemknn" / "seed0.json").unlink()
    assert main(["report", "--profile", "ci", "--results", str(res), "--out", str(out),
                 "--compare-with", str(other)]) == 0
    page = out.read_text()
    assert "data-status='failed'" in page and "row disappeared" in page
    capsys.readouterr()
    assert main(["report", "--profile", "ci", "--results", str(tmp_path / "empty"), "--out", str(out)]) == 2
    assert "no result records" in capsys.readouterr().err
    with pytest.raises(EmptyResults):
        build_report(tmp_path / "empty", "ci")


def test_committed_quick_report_is_a_fresh_render(monkeypatch):
    """results/quick/report.html is what ``nox -s report`` (``larpbench report --profile quick``,
    run from the repository root) writes, byte for byte."""
    monkeypatch.chdir(ROOT)
    committed = (ROOT / "results" / "quick" / "report.html").read_text(encoding="utf-8")
    assert committed == build_report(Path("results"), "quick")
    assert "data:image/png;base64," in committed and "Regression check: <b>not run</b>" in committed


# ----------------------------------------------------------------------------- browser
def _browser():
    """A headless Chromium driver, or a skip that says what is missing."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed (pip install -e .[test])")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver_bin = shutil.which("chromedriver")
    if not chromium or not driver_bin:
        pytest.skip(f"headless Chromium not found (chromium: {chromium}, chromedriver: {driver_bin}); "
                    "on Debian/Ubuntu: apt-get install -y chromium chromium-driver")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1500,1100"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        return webdriver.Chrome(service=Service(driver_bin), options=opts)
    except Exception as e:  # a broken install: say so rather than fail obscurely
        pytest.skip(f"headless Chromium did not start: {type(e).__name__}: {str(e).splitlines()[0]}")


@pytest.mark.slow
def test_report_in_headless_chromium():
    """Opens the committed quick report (a fresh render, test above) as a file:// page."""
    page = ROOT / "results" / "quick" / "report.html"
    n_cells = len(table2_data(ROOT / "results", "quick", comparisons=False)["values"])
    driver = _browser()
    try:
        from selenium.webdriver.common.by import By

        driver.get(page.as_uri())
        assert driver.title.startswith("larpbench report")
        png = driver.get_screenshot_as_png()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        if os.environ.get("LARPBENCH_SAVE_SCREENSHOT") == "1":
            (ROOT / "docs" / "report-screenshot.png").write_bytes(png)
        rows = driver.find_elements(By.CSS_SELECTOR, "table.table2 > tbody > tr")
        assert len(rows) == n_cells
        # clicking a metric header re-orders the rows of that table (descending first)
        table = driver.find_element(By.CSS_SELECTOR, "table.table2[data-dataset='synth-mpd']")

        def order() -> list[str]:
            return [r.get_attribute("data-encoder") + "/" + r.get_attribute("data-recommender")
                    for r in table.find_elements(By.CSS_SELECTOR, "tbody > tr")]

        def r10() -> list[float]:
            return [float(c.get_attribute("data-sort")) for c in
                    table.find_elements(By.CSS_SELECTOR, "tbody > tr > td:nth-child(4)")
                    if c.get_attribute("data-sort")]

        before = order()
        table.find_element(By.XPATH, ".//thead/tr/th[4]").click()
        after = order()
        assert sorted(after) == sorted(before) and after != before
        values = r10()
        assert values == sorted(values, reverse=True) and len(values) > 2
        table.find_element(By.XPATH, ".//thead/tr/th[4]").click()
        assert r10() == sorted(values)
        severe = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        assert not severe, severe
    finally:
        driver.quit()


def test_sortable_script_is_present():
    page = build_report(ROOT / "results", "ci")
    assert "table.sortable" in page and page.count("<table class='sortable table2'") == 2


def test_study_render_all_refreshes_only_existing_outputs_and_the_report(tmp_path, capsys):
    """``larpbench study render all``: every study whose outputs exist in the profile's folder
    is re-rendered (stale files rewritten), absent outputs stay absent, report.html follows."""
    res = _small_results(tmp_path)
    folder = res / "ci"
    (folder / "synth-mpd" / "broken" / "itemknn" / "seed0.json").unlink()  # rendering refuses it
    (folder / "table2.md").write_text("stale\n")
    (folder / "report.html").write_text("stale\n")
    assert main(["study", "render", "all", "--profile", "ci", "--results", str(res)]) == 0
    capsys.readouterr()
    assert (folder / "table2.md").read_text() != "stale\n" and "good" in (folder / "table2.md").read_text()
    assert (folder / "report.html").read_text() == build_report(res, "ci")
    assert not (folder / "table3.md").exists() and not (folder / "figure4.png").exists()
