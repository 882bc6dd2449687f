"""`compare A B`: the strategy A/B test on the same bars, from configs or from results folders."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math

import numpy as np
import pytest

from tests.conftest import ROOT
from tests.report_support import LOCAL_CONFIG, cli, run_main
from trading_runtime.report.results import load_backtest
from trading_runtime.store import open_store


def quiet(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_main(*args)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def configs(tmp_path_factory):
    d = tmp_path_factory.mktemp("cmp")
    cfg = json.loads(LOCAL_CONFIG.read_text())
    cfg["data"]["path"] = str(ROOT / cfg["data"]["path"])
    a = d / "a.json"
    a.write_text(json.dumps(cfg))
    cfg_b = json.loads(json.dumps(cfg))
    cfg_b["id"] = "sma-fast"
    cfg_b["strategy"]["params"] = {"fast": 10, "slow": 60}
    b = d / "b.json"
    b.write_text(json.dumps(cfg_b))
    cfg_c = json.loads(json.dumps(cfg))
    cfg_c["id"] = "other-data"
    cfg_c["data"]["path"] = str(ROOT / "tests/data/parts/synthetic_1m.parquet")
    cfg_c["data"]["format"] = None
    c = d / "c.json"
    c.write_text(json.dumps(cfg_c))
    for name, path in (("a", a), ("b", b)):
        code, _, err = quiet("backtest", "--config", str(path), "--output-dir", str(d / f"res-{name}"), "-q")
        assert code == 0, err
    return d, a, b, c


@pytest.fixture(scope="module")
def compared(configs):
    d, a, b, _ = configs
    code, out, err = quiet("compare", str(a), str(b), "--output-dir", str(d / "out"), "-q")
    assert code == 0, err
    return out, json.loads((d / "out" / "compare.json").read_text())


def test_compare_configs_prints_the_table_and_writes_the_report(configs, compared):
    d, a, b, _ = configs
    out, _ = compared
    lines = out.splitlines()
    assert lines[0] == f"compare: A = local-sma-cross ({a}), B = sma-fast ({b})"
    assert lines[1].startswith("data: ") and "20,160 common bars of 1m" in lines[1]
    assert lines[3].split() == ["metric", "A", "B", "A", "−", "B"]
    assert any(line.startswith("paired t-test of per-bar returns (A − B): n 20,160,") for line in lines)
    assert any(line.startswith("verdict: ") for line in lines)
    assert lines[-1] == f"report: {d / 'out' / 'compare.html'}"
    html = (d / "out" / "compare.html").read_text()
    assert 'data-sections="summary equity difference test provenance"' in html
    assert "<script" not in html


def test_the_test_statistics_match_an_independent_computation(configs, compared):
    d = configs[0]
    doc = compared[1]
    ra_eq = load_backtest(open_store(str(d / "res-a"))).curve
    rb_eq = load_backtest(open_store(str(d / "res-b"))).curve
    ra = np.diff(np.concatenate(([100000.0], ra_eq.equity))) / np.concatenate(([100000.0], ra_eq.equity[:-1]))
    rb = np.diff(np.concatenate(([100000.0], rb_eq.equity))) / np.concatenate(([100000.0], rb_eq.equity[:-1]))
    diff = ra - rb
    t = diff.mean() / (diff.std(ddof=1) / math.sqrt(len(diff)))
    test = doc["paired_t_test"]
    assert test["n"] == 20160 and test["df"] == 20159
    assert test["t"] == pytest.approx(t, rel=1e-9)
    # with 20159 degrees of freedom Student's t is the normal to ~1e-4
    from statistics import NormalDist
    assert test["p_two_sided"] == pytest.approx(2 * (1 - NormalDist().cdf(abs(t))), abs=2e-4)
    sr = diff.mean() / diff.std(ddof=1)
    assert doc["difference"]["sharpe_per_bar"] == pytest.approx(sr, rel=1e-9)
    assert 0.0 <= doc["difference"]["psr"] <= 1.0
    assert (doc["difference"]["psr"] > 0.5) == (sr > 0)


def test_results_folders_give_the_same_statistics_as_configs(configs, compared):
    d = configs[0]
    code, _, err = quiet("compare", str(d / "res-a"), str(d / "res-b"), "--output-dir", str(d / "from-results"), "-q")
    assert code == 0, err
    one = compared[1]
    two = json.loads((d / "from-results" / "compare.json").read_text())
    for key in ("paired_t_test", "difference", "correlation", "verdict", "data"):
        assert one[key] == two[key], key
    assert one["a"]["metrics"] == two["a"]["metrics"]


def test_different_data_is_exit_2_with_one_line(configs):
    d, a, _, c = configs
    proc = cli("compare", str(a), str(c), "--output-dir", str(d / "bad"), "--log-format", "json", "-q")
    assert proc.returncode == 2
    assert proc.stdout == ""
    csv, parquet = ROOT / "tests/data/parts/synthetic_1m.csv", ROOT / "tests/data/parts/synthetic_1m.parquet"
    sha = {p: hashlib.sha256(p.read_bytes()).hexdigest()[:12] for p in (csv, parquet)}
    assert proc.stderr.splitlines() == [
        f"compare: A and B use different data: A {csv} (sha256 {sha[csv]}), "
        f"B {parquet} (sha256 {sha[parquet]}); both must run on the same bars"]
    assert not (d / "bad").exists()


def test_missing_input_is_exit_2(configs, tmp_path):
    a = configs[1]
    code, _, err = quiet("compare", str(a), str(tmp_path / "nope"), "-q")
    assert code == 2
    assert err.strip() == f"{tmp_path / 'nope'}: not found (expected a backtest config file or a results folder)"


def test_compare_json_skew_is_the_exactly_rounded_skew_of_the_differences(configs, compared):
    """compare.json's skew, pinned to a value derived without numpy: the skew of the per-bar return
    differences (the same float returns, equity / previous - 1), summed exactly with fractions and
    rounded once. compare.json is written in the "power" rounding form (numpy ``d**3``, ``d**2``;
    trading_runtime/sharpe.py), the bits it has had since it was written, which on these bars is the
    exactly rounded value; the Optuna results' "product" form (``d*d*d``) is 2 ulp away here."""
    from decimal import Decimal, localcontext
    from fractions import Fraction

    from trading_runtime.sharpe import moments

    d = configs[0]

    def returns(name: str) -> list[float]:
        curve = load_backtest(open_store(str(d / name))).curve
        equity = curve.equity.tolist()
        return [e / p - 1.0 for e, p in zip(equity, [curve.initial, *equity[:-1]], strict=True)]

    diff = [a - b for a, b in zip(returns("res-a"), returns("res-b"), strict=True)]
    exact = [Fraction(x) for x in diff]
    mean = sum(exact) / len(exact)
    m2 = sum((x - mean) ** 2 for x in exact) / len(exact)
    m3 = sum((x - mean) ** 3 for x in exact) / len(exact)
    with localcontext() as ctx:
        ctx.prec = 60

        def dec(f: Fraction) -> Decimal:
            return Decimal(f.numerator) / Decimal(f.denominator)

        skew = float(dec(m3) / (dec(m2) ** 3).sqrt())
    written = compared[1]["difference"]["skew"]
    assert written.hex() == skew.hex() == "0x1.e251aa6a27399p-1"
    assert moments(np.array(diff), powers="product").skew != written  # the form matters on these bars
