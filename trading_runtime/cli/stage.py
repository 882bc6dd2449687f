"""Put a config and its data into a store for the cluster; prints the staged config's URI (last stdout line).

Each local data file the config names is checked (as any command would read it) and uploaded to
``<store>/datasets/<sha256><suffix>`` unless an object with those bytes is already there; a data
URI stays as it is. The config, with ``data.path`` set to the URI and ``data.sha256`` pinned, is
written as canonical JSON to ``<store>/configs/<sha256 of that JSON>.json``: pass that URI as
``--config`` (or the workflow templates' ``config`` parameter) wherever the store is readable.
Works for backtest configs and experiment configs (grid sweeps and Optuna searches).

A universe (``data.instruments`` as an object or a glob, or a long-format file with
``data.symbol_column``) is loaded as every command loads it, each instrument's file is uploaded the
same way, and the staged config names them ``data.instruments: {symbol: URI}`` (a long-format file:
``data.path`` its URI, ``data.symbol_column`` kept), with ``data.sha256`` pinning the universe's
identity (``universe_sha256``). Planning the staged config gives the experiment id of the local one.
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
from trading_runtime.data import BarsFormat, check_sha256, data_suffix, read_bars_file
from trading_runtime.execution.data_source import fetch_data, load_data, resolve_path
from trading_runtime.execution.universe import check_universe_pin, load_universe, resolve_universe, universe_sha256
from trading_runtime.golden.canonical import canonical_bytes
from trading_runtime.store import ArtifactStore, is_uri, open_store

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    config_argument(parser, "backtest or experiment config JSON")
    parser.add_argument("--store", required=True, help="store URI the cluster reads (s3://bucket/prefix, file://...)")


def _put_content(store: ArtifactStore, content: bytes, digest: str, name: str, fmt: BarsFormat | None) -> str:
    """The URI of ``content`` at ``datasets/<sha256><suffix>``: uploaded unless those bytes are already there."""
    key = f"datasets/{digest}{data_suffix(name, fmt)}"
    uri = f"{store.uri.rstrip('/')}/{key}"
    if store.exists(key) and hashlib.sha256(store.get_bytes(key)).hexdigest() == digest:
        log.info("stage: data %s already in the store at %s", name, uri)
    else:
        store.put_bytes(key, content)
        log.info("stage: data %s uploaded to %s (%d bytes)", name, uri, len(content))
    return uri


def _stage_data(store: ArtifactStore, data: DataConfig, cwd: Path) -> tuple[str, str]:
    """(URI, sha256) of the config's data in the store: uploaded unless those bytes are already there."""
    if is_uri(data.path):
        _, digest = fetch_data(data.path, data.sha256, data.format)
        log.info("stage: data %s stays where it is (sha256 %s)", data.path, digest)
        return data.path, digest
    content = read_bars_file(resolve_path(data.path, cwd), data.path)
    digest = hashlib.sha256(content).hexdigest()
    check_sha256(data.path, digest, data.sha256)
    load_data(data, cwd, digest, "the bytes being staged")  # the checks every command runs, now, not in the cluster
    return _put_content(store, content, digest, data.path, data.format), digest


def _stage_universe(store: ArtifactStore, data: DataConfig, cwd: Path, source: str) -> dict[str, object]:
    """The ``data`` updates of a staged universe: each instrument's file in the store, ``data.instruments``
    ``{symbol: URI}`` (a long-format file: ``data.path`` its URI), ``data.sha256`` the universe's identity.
    Every instrument is loaded first, with the checks every command runs (one timeframe included)."""
    members = resolve_universe(data, cwd, source)
    _, loaded = load_universe(data, members, cwd)
    check_universe_pin(data, {s: one.sha256 for s, one in loaded.items()}, source)
    by_path: dict[str, str] = {}  # where each file went (a long-format file: one file for every symbol)
    for member in members:
        path = member.data.path
        if path in by_path:
            continue
        if is_uri(path):
            by_path[path] = path
            continue
        content = read_bars_file(resolve_path(path, cwd), path)
        digest = loaded[member.symbol].sha256
        check_sha256(path, hashlib.sha256(content).hexdigest(), digest, "the sha256 it was checked with")
        by_path[path] = _put_content(store, content, digest, path, data.format)
    uris = {m.symbol: by_path[m.data.path] for m in members}
    pin = universe_sha256({s: one.sha256 for s, one in loaded.items()})
    if data.symbol_column is not None:
        return {"path": uris[members[0].symbol], "sha256": pin}
    return {"instruments": uris, "sha256": pin}


def run(args: argparse.Namespace) -> int:
    name = config_name(args.config)
    raw: Any = parse_json_bytes(read_config_bytes(args.config), name)
    model: type[BacktestConfig] = ExperimentConfig if isinstance(raw, dict) and "sweep" in raw else BacktestConfig
    config = validate_model(model, raw, name)
    cwd = Path.cwd()
    store = open_store(args.store, cwd)
    if config.data.is_universe:
        update = _stage_universe(store, config.data, cwd, name)
    else:
        uri, digest = _stage_data(store, config.data, cwd)
        update = {"path": uri, "sha256": digest}
    staged = config.model_copy(update={"data": config.data.model_copy(update=update)})
    staged = validate_model(model, staged.model_dump(mode="json"), name)  # what the cluster will read back
    content = canonical_bytes(staged.model_dump(mode="json"))
    key = f"configs/{config_sha256(staged)}.json"
    if not (store.exists(key) and store.get_bytes(key) == content):
        store.put_bytes(key, content)
    config_uri = f"{store.uri.rstrip('/')}/{key}"
    log.info("stage: config %s (%s) staged as %s", name, config.id, config_uri)
    sys.stdout.write(config_uri + "\n")
    return 0
