"""Async mode: two worker processes on one shared storage (a journal file, a real PostgreSQL), then verify."""

from __future__ import annotations

import json
import subprocess
import sys

import optuna
import pytest

from tests.conftest import ROOT
from tests.optimize_support import cli, small_config, write_json
from tests.postgres_server import postgres_server
from trading_runtime.optimize.storage import open_url_storage

pytestmark = pytest.mark.slow

N_TRIALS = 8


def start_worker(config, url, index, n_trials):
    return subprocess.Popen(
        [sys.executable, "-m", "trading_runtime", "--log-format", "json", "optimize", "worker", "--config", str(config),
         "--storage", url, "--n-trials", str(n_trials), "--worker-index", str(index)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_two_workers(config, url):
    procs = [start_worker(config, url, i, N_TRIALS // 2) for i in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    docs = [json.loads(out) for out, _ in outs]
    assert len({d["study"] for d in docs}) == 1
    assert sum(d["trials"] for d in docs) == N_TRIALS
    return docs[0]["study"]


def check_study(storage, study_name):
    study = optuna.load_study(study_name=study_name, storage=storage)
    trials = study.get_trials(deepcopy=False)
    assert sorted(t.number for t in trials) == list(range(N_TRIALS))
    assert all(t.state.is_finished() for t in trials)
    assert all("evaluation" in t.user_attrs for t in trials)
    assert any(t.state.name == "COMPLETE" for t in trials)
    return study


def verify_and_tamper(config, url, study):
    code, out, err = cli("optimize", "verify", "--config", str(config), "--storage", url, "--sample", "3")
    assert code == 0, err
    report = json.loads(out)
    assert (report["ok"], report["n_checked"], report["finished_trials"]) == (True, 3, N_TRIALS)
    # A trial whose stored value is not what its parameters give is caught.
    good = next(t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE")
    study.add_trial(optuna.trial.create_trial(params=good.params, distributions=good.distributions,
                                              values=[good.values[0] + 1.0], user_attrs=good.user_attrs))
    code, out, err = cli("optimize", "verify", "--config", str(config), "--storage", url, "--sample", "100")
    assert code == 3
    report = json.loads(out)
    assert report["ok"] is False and report["n_checked"] == N_TRIALS + 1
    assert [m["number"] for m in report["mismatches"]] == [N_TRIALS]
    assert err.splitlines()[-2].startswith(f"study {report['study_id']}: trial {N_TRIALS}: values [")
    assert err.splitlines()[-1] == f"verify: 1 of {N_TRIALS + 1} trials differ"


def test_two_workers_on_a_journal_file(tmp_path):
    config = write_json(tmp_path / "config.json", small_config(n_trials=N_TRIALS))
    path = tmp_path / "journal" / "study.log"
    url = f"journal:{path}"
    study_name = run_two_workers(config, url)
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    study = check_study(storage, study_name)
    verify_and_tamper(config, url, study)


def test_two_workers_on_a_real_postgresql_server(tmp_path):
    config = write_json(tmp_path / "config.json", small_config(n_trials=N_TRIALS))
    with postgres_server() as url:
        study_name = run_two_workers(config, url)
        storage = open_url_storage(url, tmp_path)
        try:
            study = check_study(storage, study_name)
            verify_and_tamper(config, url, study)
        finally:
            storage.engine.dispose()


def test_an_unreachable_database_is_a_transient_error(tmp_path):
    config = write_json(tmp_path / "config.json", small_config(n_trials=N_TRIALS))
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    code, _, err = cli("optimize", "worker", "--config", str(config), "--n-trials", "1",
                         "--storage", f"postgresql://u:secret@127.0.0.1:{port}/db")
    assert code == 75
    assert err.splitlines()[-1].startswith(f"--storage: cannot reach postgresql://u:***@127.0.0.1:{port}/db: ")
    assert "secret" not in err
