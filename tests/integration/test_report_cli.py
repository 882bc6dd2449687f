"""`report --results` and the reports written by `backtest` and `sweep`: content, determinism, errors."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
from pathlib import Path

import pytest

from tests.report_support import LOCAL_CONFIG, experiment_config, run_main, sweep
from trading_runtime.golden.canonical import canonical_bytes
from trading_runtime.report import load_results, render_report
from trading_runtime.report.html import fmt
from trading_runtime.report.results import StudyResults
from trading_runtime.store import open_store, write_complete

SECTIONS_BACKTEST = ["summary", "provenance", "equity", "significance", "trades", "metrics"]
SECTIONS_EXPERIMENT = ["summary", "provenance", "leaderboard", "significance", "equity", "parameters"]


def sections_of(html: str) -> list[str]:
    m = re.search(r'<body data-sections="([^"]*)"', html)
    assert m is not None
    return m.group(1).split()


def assert_self_contained(html: str) -> None:
    """No scripts, no external URLs: only the SVG namespace and data: URIs."""
    assert "<script" not in html
    urls = set(re.findall(r"(?:https?|ftp)://[^\s\"'<>)]+", html))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls
    for attr in re.findall(r'\s(?:src|href)="([^"]*)"', html):
        assert attr.startswith(("#", "data:")), attr
    assert "Content-Security-Policy" in html and "default-src 'none'" in html


def quiet(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_main(*args)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def backtest_dirs(tmp_path_factory):
    """The shipped local backtest, written to two different folders."""
    base = tmp_path_factory.mktemp("bt")
    dirs = []
    for name in ("one", "two"):
        code, out, err = quiet("backtest", "--config", str(LOCAL_CONFIG), "--output-dir", str(base / name), "-q")
        assert code == 0, err
        dirs.append((base / name, out))
    return dirs


@pytest.fixture(scope="module")
def holdout(tmp_path_factory):
    d = tmp_path_factory.mktemp("holdout")
    store = d / "store"
    exp = sweep(experiment_config(d), store)
    return store, exp


def test_backtest_writes_its_report_and_prints_the_path(backtest_dirs):
    out_dir, stdout = backtest_dirs[0]
    report = out_dir / "report.html"
    assert f"report: {report}\n" in stdout
    html = report.read_text()
    assert sections_of(html) == SECTIONS_BACKTEST
    assert_self_contained(html)
    stats = json.loads((out_dir / "stats.json").read_text())
    assert f"{stats['final_equity']:,.2f}" in html
    assert "124 trades" in html


def test_backtest_report_is_byte_identical_wherever_written(backtest_dirs):
    (one, _), (two, _) = backtest_dirs
    assert (one / "report.html").read_bytes() == (two / "report.html").read_bytes()
    # and the report command re-renders the same bytes from the files
    code, out, _ = quiet("report", "--results", str(two), "--output", str(two / "again.html"))
    assert code == 0 and out == f"{two / 'again.html'}\n"
    assert (two / "again.html").read_bytes() == (one / "report.html").read_bytes()


def test_experiment_report_from_the_results_uri(holdout, tmp_path):
    store, exp = holdout
    results = store / "experiments" / exp
    code, out, err = quiet("report", "--results", str(results))
    assert code == 0, err
    assert out == f"{results / 'report.html'}\n"
    html = (results / "report.html").read_text()
    assert sections_of(html) == SECTIONS_EXPERIMENT
    assert_self_contained(html)
    summary = json.loads((results / "summary.json").read_text())
    best = summary["holdout"]
    assert best["best_run_id"] in html
    assert 'data-kind="heatmap"' in html and 'class="best"' in html
    # byte-identical on a second render, from a copy of the store elsewhere, and through file:// and summary.json
    copy = tmp_path / "copy"
    shutil.copytree(store, copy)
    for uri in (str(copy / "experiments" / exp), f"file://{copy}/experiments/{exp}/summary.json"):
        again = render_report(load_results(uri))
        assert again == (results / "report.html").read_bytes(), uri


def test_walk_forward_report_shows_the_stitched_equity(tmp_path):
    cfg = experiment_config(tmp_path, name="wf", validation={"kind": "walk_forward", "train": "4d", "test": "3d"},
                            params={"fast": [10, 30], "slow": [60, 120], })
    exp = sweep(cfg, tmp_path / "store")
    html = (tmp_path / "store" / "experiments" / exp / "report.html").read_text()  # written by sweep
    assert sections_of(html) == SECTIONS_EXPERIMENT
    assert "Stitched out-of-sample equity" in html
    assert html.count('class="marker"') >= 2  # window boundaries on the stitched equity


def test_report_errors_are_one_line_exit_2(tmp_path, holdout):
    code, _, err = quiet("report", "--results", str(tmp_path / "nothing"))
    assert code == 2
    assert err.strip().splitlines() == [f"{tmp_path / 'nothing'}: no results here (expected a backtest folder with "
                                        "manifest.json, an experiment folder <store>/experiments/<id> with a "
                                        "complete plan.json, or a study <store>/optimize/<id>)"]
    store, exp = holdout
    unfinished = tmp_path / "unfinished"
    shutil.copytree(store, unfinished)
    (unfinished / "experiments" / exp / "summary.json.SUCCESS").unlink()
    code, _, err = quiet("report", "--results", str(unfinished / "experiments" / exp))
    assert code == 2
    assert "is not finalized (no summary.json)" in err and "Traceback" not in err


def test_a_summary_this_version_did_not_write_is_one_line_exit_3(tmp_path, holdout):
    """summary.json is parsed into its model where it leaves the store: an unknown key is named, not ignored."""
    store, exp = holdout
    changed = tmp_path / "changed"
    shutil.copytree(store, changed)
    key = f"experiments/{exp}/summary.json"
    doc = json.loads((changed / key).read_text())
    doc["folds"][0]["leaderbord"] = []  # a misspelt key, written complete (marker and all)
    write_complete(open_store(str(changed)), key, canonical_bytes(doc))
    code, _, err = quiet("report", "--results", str(changed / "experiments" / exp))
    assert code == 3
    assert err.strip().splitlines() == [f"file://{changed}/{key}: folds[0].leaderbord: unknown key"]


def test_a_fanin_document_this_version_did_not_write_is_one_line_exit_3(tmp_path, holdout):
    """fanin.json is parsed into its model (FanInDocument) where it leaves the store."""
    store, exp = holdout
    changed = tmp_path / "changed"
    shutil.copytree(store, changed)
    key = f"experiments/{exp}/fanin.json"
    doc = json.loads((changed / key).read_text())
    doc["shards"]["completed"] = "all"
    write_complete(open_store(str(changed)), key, canonical_bytes(doc))
    code, out, err = quiet("report", "--results", str(changed / "experiments" / exp))
    assert (code, out) == (3, "")
    (problem,) = err.strip().splitlines()
    assert problem.startswith(f"file://{changed}/{key}: shards.completed: "), problem


def test_optuna_study_report_from_the_results_folder(tmp_path):
    from tests.report_support import optimize, study_config

    results = optimize(study_config(tmp_path, name="study"), tmp_path / "store")
    assert results.startswith("file://") and results.endswith("/results/")
    code, out, err = quiet("report", "--results", results)
    assert code == 0, err
    path = Path(out.strip())
    assert path == Path(results.removeprefix("file://")) / "report.html"
    html = path.read_text()
    assert sections_of(html) == ["summary", "provenance", "leaderboard", "significance", "equity", "history",
                                 "importances", "parameters"]
    assert_self_contained(html)
    best = json.loads((path.parent / "best_parameters.json").read_text())
    perf = json.loads((path.parent / "performance_metrics.json").read_text())
    assert f"Selected: trial {best['trial']} " in html
    psr = perf["selection_statistics"]["probabilistic_sharpe_ratio"]
    assert f"<td>{fmt(psr)}</td>" in html
    study_root = path.parent.parent
    assert render_report(load_results(str(study_root))) == path.read_bytes()  # <store>/optimize/<id> too
    # the best trial's curves: those its re-evaluation (<study>.best) derived, every fold's in-sample at least
    study = load_results(str(study_root))
    assert isinstance(study, StudyResults)
    assert {(f.id, "in_sample") for f in study.metadata.folds} <= set(study.curves)
    assert "No equity of the best trial" not in html


@pytest.fixture(scope="module")
def multi_objective_study(tmp_path_factory) -> Path:
    """A two-objective study (sharpe up, max_drawdown down): its results folder."""
    from tests.report_support import optimize, study_config

    d = tmp_path_factory.mktemp("multi")
    objectives = [{"metric": "sharpe", "direction": "maximize"}, {"metric": "max_drawdown", "direction": "minimize"}]
    results = optimize(study_config(d, name="multi", objectives=objectives), d / "store")
    return Path(results.removeprefix("file://"))


def test_a_multi_objective_study_report_adds_the_pareto_front(multi_objective_study):
    results = multi_objective_study
    code, out, err = quiet("report", "--results", str(results))
    assert code == 0, err
    html = Path(out.strip()).read_text()
    assert sections_of(html) == ["summary", "provenance", "leaderboard", "significance", "equity", "history",
                                 "importances", "parameters", "pareto"]
    assert_self_contained(html)
    front = json.loads((results / "pareto_front.json").read_text())["trials"]
    assert front
    table = html.split('id="pareto-table"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") - 1 == len(front)  # a header row, then one row per trial on the front
    for t in front:
        assert f"<code>{t['number']}</code>" in table
    history = html.split('id="history"', 1)[1].split("</section>", 1)[0]
    assert "Optimization history: sharpe (max) by trial" in history
    assert "Optimization history: max_drawdown (min) by trial" in history
    assert "best so far" not in history  # one best-so-far line only with one objective
    importances = html.split('id="importances"', 1)[1].split("</section>", 1)[0]
    assert "Parameter importance for sharpe (max)" in importances
    assert "Parameter importance for max_drawdown (min)" in importances
    assert render_report(load_results(str(results.parent))) == Path(out.strip()).read_bytes()


@pytest.mark.parametrize("name, change, line", [
    ("metadata.json", lambda d: d.update(sampelr=d["sampler"]), "sampelr: unknown key"),
    ("pareto_front.json", lambda d: d["trials"][0].update(values="high"), "trials[0].values: "),
    ("optimization_history.json", lambda d: d["trials"][0].pop("state"), "trials[0].state: "),
], ids=["metadata", "pareto_front", "history"])
def test_a_study_document_this_version_did_not_write_is_one_line_exit_3(tmp_path, multi_objective_study, name,
                                                                         change, line):
    """The Optuna result documents are parsed into their models where they leave the store."""
    study = multi_objective_study.parent
    store = tmp_path / "store"
    shutil.copytree(study.parent.parent, store)
    key = f"optimize/{study.name}/results/{name}"
    doc = json.loads((store / key).read_text())
    change(doc)
    write_complete(open_store(str(store)), key, canonical_bytes(doc))  # written complete, marker and all
    code, out, err = quiet("report", "--results", str(store / "optimize" / study.name))
    assert (code, out) == (3, "")
    (problem,) = err.strip().splitlines()
    assert problem.startswith(f"file://{store}/{key}: {line}"), problem
