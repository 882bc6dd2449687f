"""Every report opened in Debian's Chromium, headless and offline: sections render, no console errors.

Chromium is driven over its DevTools pipe (``tests/chromium.py``, standard library only) with a
fresh profile and background networking off; pages load from file:// URLs. Each report must
list its sections in ``<body data-sections>``, each section must be laid out (non-zero size) with
its tables and non-empty SVG charts, the console and the log must hold no error (a CSP violation
from an external reference would be one), and the only request is the page itself. A screenshot
of each page is saved in the test's temporary folder. Chromium missing is a failure, not a skip:
``scripts/install-chromium.sh`` installs it (CI runs it).

``UPDATE_SCREENSHOT=1`` also rewrites the README's screenshot (refused when CI is set).
"""

from __future__ import annotations

import contextlib
import io
import os
import struct
from pathlib import Path

import pytest

from tests.chromium import CHROMIUM, Chromium
from tests.conftest import ROOT
from tests.report_support import (
    LOCAL_CONFIG,
    SWEEP_CONFIG,
    experiment_config,
    optimize,
    run_main,
    study_config,
    sweep,
)

README_SCREENSHOT = ROOT / "trading_runtime" / "report" / "screenshot.png"

CHECK_SECTIONS = """(() => {
  const ids = (document.body.dataset.sections || '').split(' ').filter(Boolean);
  return ids.map(id => {
    const s = document.getElementById(id);
    if (!s) return {id, found: false};
    const box = s.getBoundingClientRect();
    const svgs = [...s.querySelectorAll('svg.chart')].map(svg => {
      const b = svg.getBoundingClientRect();
      const marks = svg.querySelectorAll('path, rect, circle, line').length;
      const drawn = [...svg.querySelectorAll('path.series, g.cells rect, g.bars rect, g.lines path, circle')]
        .filter(el => { const r = el.getBBox(); return r.width > 0 || r.height > 0; }).length;
      return {kind: svg.dataset.kind, width: b.width, height: b.height, marks, drawn};
    });
    return {id, found: true, width: box.width, height: box.height, text: s.innerText.length,
            heading: (s.querySelector('h2') || {}).textContent || '', tables: s.querySelectorAll('table').length,
            svgs};
  });
})()"""

EXPECTED = {
    "backtest": {"summary": 0, "provenance": 0, "equity": 3, "significance": 0, "trades": 0, "metrics": 0},
    "walk_forward": {"summary": 0, "provenance": 0, "leaderboard": 0, "significance": 0, "equity": 3,
                     "parameters": 2},
    "holdout": {"summary": 0, "provenance": 0, "leaderboard": 0, "significance": 0, "equity": 2, "parameters": 2},
    "compare": {"summary": 0, "equity": 3, "difference": 1, "test": 0, "provenance": 0},
    "optuna": {"summary": 0, "provenance": 0, "leaderboard": 0, "significance": 0, "equity": 3, "history": 1,
               "importances": 1, "parameters": 2},
    "optuna_multi": {"summary": 0, "provenance": 0, "leaderboard": 0, "significance": 0, "equity": 3, "history": 2,
                     "importances": 2, "parameters": 2, "pareto": 1},
}


def _quiet(*args: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_main(*args)
    assert code == 0, err.getvalue()


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("reports")
    _quiet("backtest", "--config", str(LOCAL_CONFIG), "--output-dir", str(d / "backtest"), "-q")
    wf = sweep(SWEEP_CONFIG, d / "store")
    ho = sweep(experiment_config(d, name="holdout"), d / "store")
    b_config = d / "b.json"
    b_config.write_text(LOCAL_CONFIG.read_text().replace('"fast": 20, "slow": 120', '"fast": 10, "slow": 60')
                        .replace('"local-sma-cross"', '"local-sma-fast"')
                        .replace('"tests/data', f'"{ROOT}/tests/data'))
    _quiet("compare", str(d / "backtest"), str(b_config), "--output-dir", str(d / "compare"), "-q")
    reports = {}
    for kind, objectives in (("optuna", None), ("optuna_multi", [{"metric": "sharpe", "direction": "maximize"},
                                                                 {"metric": "max_drawdown", "direction": "minimize"}])):
        results = optimize(study_config(d, name=kind.replace("_", "-"), objectives=objectives), d / "store")
        _quiet("report", "--results", results, "-q")
        reports[kind] = Path(results.removeprefix("file://")) / "report.html"
    return reports | {"backtest": d / "backtest" / "report.html",
            "walk_forward": d / "store" / "experiments" / wf / "report.html",
            "holdout": d / "store" / "experiments" / ho / "report.html",
            "compare": d / "compare" / "compare.html"}


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-chromium.sh (the browser test never skips)")
    with Chromium(width=1280, height=900) as b:
        yield b


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(EXPECTED))
def test_report_renders_in_chromium(kind, reports, browser, tmp_path):
    page = reports[kind]
    record = browser.open(page)
    assert record.errors() == []
    assert record.exceptions == []
    assert record.requests == [page.resolve().as_uri()]  # nothing fetched but the page itself
    sections = browser.evaluate(CHECK_SECTIONS)
    assert [s["id"] for s in sections] == list(EXPECTED[kind])
    for s in sections:
        assert s["found"], s["id"]
        assert s["width"] > 600 and s["height"] > 40 and s["text"] > 20, s
        assert s["heading"], s
        assert s["tables"] + len(s["svgs"]) > 0, s
        assert len(s["svgs"]) >= EXPECTED[kind][s["id"]], s
        for svg in s["svgs"]:
            assert svg["width"] > 200 and svg["height"] > 60, (s["id"], svg)
            assert svg["marks"] >= 2 and svg["drawn"] > 0, (s["id"], svg)
    shot = browser.screenshot(tmp_path / f"{kind}.png", full_page=True)
    width, height = png_size(shot)
    assert width == 1280 and height > 900
    assert shot.stat().st_size > 50_000  # a rendered page, not a blank one


@pytest.mark.slow
def test_update_readme_screenshot(reports, browser):
    """Rewrites the README's screenshot only with UPDATE_SCREENSHOT=1 (never in CI)."""
    if os.environ.get("UPDATE_SCREENSHOT") != "1":
        assert README_SCREENSHOT.exists(), "README screenshot missing: run with UPDATE_SCREENSHOT=1"
        return
    if os.environ.get("CI"):
        pytest.fail("UPDATE_SCREENSHOT=1 is refused when CI is set")
    browser.open(reports["walk_forward"])
    browser.screenshot(README_SCREENSHOT, full_page=True)
    assert png_size(README_SCREENSHOT)[0] == 1280
