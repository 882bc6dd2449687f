"""``stage`` over a universe of instruments: each instrument's file is uploaded content-addressed, the staged
config names them ``data.instruments: {symbol: URI}`` (a long-format file: ``data.path`` its URI, with
``data.symbol_column``) and pins the universe's identity in ``data.sha256``; planned from another directory
it gives the experiment id and the summary.json bytes of the local config.

Real parts only: the CLI in subprocesses, a real local store, and the real moto S3 server on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tests.experiment_support import experiment_config, problem_lines, write_json
from tests.integration.test_stage import cluster_steps, elsewhere, read_staged, run, stage, summary_of
from tests.optimize_support import small_config
from tests.universe_support import SYMBOLS, write_long_format, write_universe
from trading_runtime.execution.universe import universe_sha256
from trading_runtime.store import open_store

pytestmark = pytest.mark.slow


def universe_config(data: dict[str, Any]) -> dict[str, Any]:
    return experiment_config(
        data={"path": None, "end": None, **data},
        sweep={"kind": "grid", "params": {"fast": [5, 20], "slow": [60, 120]}},
        validation={"kind": "holdout", "test_fraction": 0.3})


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def bars(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_universe(tmp_path_factory.mktemp("bars") / "bars")


@pytest.fixture(scope="module")
def local_glob(tmp_path_factory: pytest.TempPathFactory, bars: dict[str, Path]) -> tuple[str, bytes]:
    """The reference: the glob universe planned and run from the local files."""
    tmp = tmp_path_factory.mktemp("reference")
    cfg = write_json(tmp / "u.json", universe_config({"instruments": str(bars["AAA"].parent / "*.csv")}))
    experiment = cluster_steps(str(cfg), str(tmp / "store"), tmp, tmp / "tmp")
    return experiment, summary_of(str(tmp / "store"), experiment)


@pytest.mark.s3
def test_staged_glob_universe_runs_from_s3_with_the_local_experiment_id_and_summary_bytes(
        tmp_path, s3_env, s3_bucket, bars, local_glob):
    store = f"s3://{s3_bucket}/stage/universe"
    cfg = write_json(tmp_path / "u.json", universe_config({"instruments": str(bars["AAA"].parent / "*.csv")}))
    uri = stage(cfg, store, tmp_path)

    doc, content = read_staged(uri)
    assert uri == f"{store}/configs/{hashlib.sha256(content).hexdigest()}.json"
    digests = {s: sha256_of(bars[s]) for s in SYMBOLS}
    assert doc["data"]["instruments"] == {s: f"{store}/datasets/{digests[s]}.csv" for s in SYMBOLS}
    assert doc["data"]["sha256"] == universe_sha256(digests)
    for s in SYMBOLS:
        assert open_store(store).get_bytes(f"datasets/{digests[s]}.csv") == bars[s].read_bytes()

    experiment = cluster_steps(uri, store, elsewhere(tmp_path), tmp_path / "tmp-pod")
    assert experiment == local_glob[0]
    assert summary_of(store, experiment) == local_glob[1]
    plan = json.loads(open_store(store).get_bytes(f"experiments/{experiment}/plan.json"))
    assert {i["symbol"]: i["data"]["path"] for i in plan["instruments"]} == doc["data"]["instruments"]

    assert stage(cfg, store, tmp_path) == uri  # staged again: the same config, nothing new


def test_staged_object_universe_with_a_store_uri_gives_the_glob_universes_results(tmp_path, bars, local_glob):
    """An object naming local files and a URI already in a store: the files are uploaded, the URI stays."""
    store = (tmp_path / "store").as_uri()
    elsewhere_store = open_store(str(tmp_path / "other"))
    elsewhere_store.put_bytes("ccc.csv", bars["CCC"].read_bytes())
    instruments = {"AAA": str(bars["AAA"]), "BBB": str(bars["BBB"]), "CCC": f"{elsewhere_store.uri}/ccc.csv"}
    uri = stage(write_json(tmp_path / "u.json", universe_config({"instruments": instruments})), store, tmp_path)
    doc, _ = read_staged(uri)
    assert doc["data"]["instruments"] == {"AAA": f"{store}/datasets/{sha256_of(bars['AAA'])}.csv",
                                          "BBB": f"{store}/datasets/{sha256_of(bars['BBB'])}.csv",
                                          "CCC": instruments["CCC"]}
    experiment = cluster_steps(uri, store, elsewhere(tmp_path), tmp_path / "tmp-pod")
    assert experiment == local_glob[0]  # the same symbols and bytes: the same universe
    assert summary_of(store, experiment) == local_glob[1]


def test_staged_long_format_universe_is_one_object_with_the_local_results(tmp_path):
    long = write_long_format(tmp_path / "all.csv")
    cfg = write_json(tmp_path / "u.json", universe_config({"path": str(long), "symbol_column": "ticker"}))
    local = cluster_steps(str(cfg), str(tmp_path / "local-store"), tmp_path, tmp_path / "tmp")

    store = (tmp_path / "store").as_uri()
    uri = stage(cfg, store, tmp_path)
    doc, _ = read_staged(uri)
    digest = sha256_of(long)
    assert doc["data"]["path"] == f"{store}/datasets/{digest}.csv"
    assert doc["data"]["symbol_column"] == "ticker" and "instruments" not in doc["data"]
    assert doc["data"]["sha256"] == universe_sha256(dict.fromkeys(SYMBOLS, digest))
    assert [p.name for p in (tmp_path / "store" / "datasets").iterdir()] == [f"{digest}.csv"]

    experiment = cluster_steps(uri, store, elsewhere(tmp_path), tmp_path / "tmp-pod")
    assert experiment == local
    assert summary_of(store, experiment) == summary_of(str(tmp_path / "local-store"), local)


def backtest_config(bars: dict[str, Path]) -> dict[str, Any]:
    cfg = experiment_config()
    return {**{k: cfg[k] for k in ("schema_version", "id", "seed", "strategy", "execution")},
            "data": {"instruments": str(bars["AAA"].parent / "*.csv")}}


def test_staged_universe_backtest_writes_the_local_results(tmp_path, bars):
    path = write_json(tmp_path / "b.json", backtest_config(bars))
    uri = stage(path, (tmp_path / "store").as_uri(), tmp_path)
    out = {}
    for label, config, cwd in (("local", str(path), tmp_path), ("staged", uri, elsewhere(tmp_path))):
        out[label] = tmp_path / f"out-{label}"
        proc = run("backtest", "--config", config, "--output-dir", str(out[label]), cwd=cwd, tmpdir=tmp_path / "t")
        assert proc.returncode == 0, proc.stderr
    for s in SYMBOLS:
        for name in ("stats.json", "trades.csv", "equity.parquet"):
            assert (out["staged"] / s / name).read_bytes() == (out["local"] / s / name).read_bytes(), (s, name)
    universes = [json.loads((out[label] / "universe.json").read_text()) for label in ("local", "staged")]
    assert universes[0]["universe_sha256"] == universes[1]["universe_sha256"]
    assert universes[0]["instruments"] == universes[1]["instruments"]


def test_a_pinned_universe_with_other_bytes_is_one_line_and_writes_nothing(tmp_path, bars):
    store = str(tmp_path / "store")
    for config, command in ((universe_config({"instruments": str(bars["AAA"].parent / "*.csv")}),
                             ["plan", "--config", "-", "--store", str(tmp_path / "plans")]),
                            (backtest_config(bars),
                             ["backtest", "--config", "-", "--output-dir", str(tmp_path / "out")])):
        doc, _ = read_staged(stage(write_json(tmp_path / "u.json", config), store, tmp_path))
        actual = doc["data"]["sha256"]
        doc["data"]["sha256"] = "0" * 64
        proc = run(*command, cwd=elsewhere(tmp_path), tmpdir=tmp_path / "t", stdin=json.dumps(doc))
        assert proc.returncode == 2, proc.stderr
        assert problem_lines(proc.stderr) == [
            f"<stdin>: data.instruments: universe sha256 {actual} (its sorted symbols with each file's sha256) "
            f"does not match data.sha256 {'0' * 64}"]
    assert not (tmp_path / "plans").exists() and not (tmp_path / "out").exists()


def test_a_universe_that_does_not_load_is_one_line_and_stages_nothing(tmp_path):
    paths = write_universe(tmp_path / "bars")
    frame = paths["BBB"].read_text().splitlines()
    paths["BBB"].write_text("\n".join(frame[:1] + frame[1::2]) + "\n")  # every other bar: 2m bars
    cfg = write_json(tmp_path / "u.json", universe_config({"instruments": str(tmp_path / "bars" / "*.csv")}))
    proc = run("stage", "--config", str(cfg), "--store", str(tmp_path / "store"), cwd=tmp_path, tmpdir=tmp_path / "t")
    assert proc.returncode == 2, proc.stderr
    assert problem_lines(proc.stderr) == [
        f"{paths['BBB']}: data.timeframe 1m contradicts the bars: their most common spacing is 2m (1,499 of 1,499 "
        "gaps); set data.timeframe to 2m or leave it out"]
    assert not (tmp_path / "store").exists()


def test_staged_universe_study_gives_the_results_of_the_local_path(tmp_path, bars):
    cfg = small_config()
    cfg["data"] = {"instruments": str(bars["AAA"].parent / "*.csv")}
    cfg["sweep"].update({"n_trials": 4, "batch_size": 2})
    path = write_json(tmp_path / "opt.json", cfg)
    uri = stage(path, (tmp_path / "staged").as_uri(), tmp_path)
    outputs = {}
    for label, config, cwd in (("local", str(path), tmp_path), ("staged", uri, elsewhere(tmp_path))):
        store = tmp_path / f"study-{label}"
        proc = run("optimize", "--config", config, "--store", str(store), "--workers", "1", cwd=cwd,
                   tmpdir=tmp_path / f"t-{label}")
        assert proc.returncode == 0, proc.stderr
        (study,) = (store / "optimize").iterdir()
        outputs[label] = (study.name, {p.name: p.read_bytes() for p in sorted((study / "results").glob("*.json"))})
    assert outputs["staged"][0] == outputs["local"][0]  # the same study id
    assert sorted(outputs["local"][1]) == sorted(outputs["staged"][1]) and len(outputs["local"][1]) >= 5
    for name, content in outputs["local"][1].items():
        assert outputs["staged"][1][name] == content, name
