"""Put a config and its data into a store for the cluster; prints the staged config's URI (last stdout line).

Each local data file the config names is checked (as any command would read it) and uploaded to
``<store>/datasets/<sha256><suffix>`` unless an object with those bytes is already there; a data
URI stays as it is. The config, with ``data.path`` set to the URI and ``data.sha256`` pinned, is
written as canonical JSON to ``<store>/configs/<sha256 of that JSON>.json``: pass that URI as
``--config`` (or the workflow templates' ``config`` parameter) wherever the store is readable.
Works for backtest configs and experiment configs (grid sweeps and Optuna searches).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
from pathlib import Path
from typing import Any

from trading_runtime.cli.common import config_name, read_config_bytes
from trading_runtime.cli.flags import config_argument
from trading_runtime.config import BacktestConfig, DataConfig, config_sha256, parse_json_bytes, validate_model
from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.data import check_sha256, data_suffix, read_bars_file
from trading_runtime.errors import InputError
from trading_runtime.execution.data_source import fetch_data, load_data, resolve_path
from trading_runtime.golden.canonical import canonical_bytes
from trading_runtime.store import ArtifactStore, is_uri, open_store

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    config_argument(parser, "backtest or experiment config JSON")
    parser.add_argument("--store", required=True, help="store URI the cluster reads (s3://bucket/prefix, file://...)")


def _stage_data(store: ArtifactStore, data: DataConfig, cwd: Path) -> tuple[str, str]:
    """(URI, sha256) of the config's data in the store: uploaded unless those bytes are already there."""
    if data.is_universe:
        raise InputError("stage: data: a universe of instruments is not staged (stage one file at a time, or name "
                         "store URIs in data.instruments)")
    if is_uri(data.path):
        _, digest = fetch_data(data.path, data.sha256, data.format)
        log.info("stage: data %s stays where it is (sha256 %s)", data.path, digest)
        return data.path, digest
    content = read_bars_file(resolve_path(data.path, cwd), data.path)
    digest = hashlib.sha256(content).hexdigest()
    check_sha256(data.path, digest, data.sha256)
    load_data(data, cwd, digest, "the bytes being staged")  # the checks every command runs, now, not in the cluster
    key = f"datasets/{digest}{data_suffix(data.path, data.format)}"
    uri = f"{store.uri.rstrip('/')}/{key}"
    if store.exists(key) and hashlib.sha256(store.get_bytes(key)).hexdigest() == digest:
        log.info("stage: data %s already in the store at %s", data.path, uri)
    else:
        store.put_bytes(key, content)
        log.info("stage: data %s uploaded to %s (%d bytes)", data.path, uri, len(content))
    return uri, digest


def run(args: argparse.Namespace) -> int:
    name = config_name(args.config)
    raw: Any = parse_json_bytes(read_config_bytes(args.config), name)
    model: type[BacktestConfig] = ExperimentConfig if isinstance(raw, dict) and "sweep" in raw else BacktestConfig
    config = validate_model(model, raw, name)
    cwd = Path.cwd()
    store = open_store(args.store, cwd)
    uri, digest = _stage_data(store, config.data, cwd)
    staged = config.model_copy(update={"data": config.data.model_copy(update={"path": uri, "sha256": digest})})
    staged = validate_model(model, staged.model_dump(mode="json"), name)  # what the cluster will read back
    content = canonical_bytes(staged.model_dump(mode="json"))
    key = f"configs/{config_sha256(staged)}.json"
    if not (store.exists(key) and store.get_bytes(key) == content):
        store.put_bytes(key, content)
    config_uri = f"{store.uri.rstrip('/')}/{key}"
    log.info("stage: config %s (%s) staged as %s", name, config.id, config_uri)
    sys.stdout.write(config_uri + "\n")
    return 0
