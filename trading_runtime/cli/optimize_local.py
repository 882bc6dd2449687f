"""The local all-in-one search: ``optimize --config F [--workers N]`` — the generation steps on this machine.

The work (init → ask → shards on a pool → tell, generation after generation → finalize → report) is
``orchestration.search.run_search``; this module adds the progress bar and the lines it prints.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from trading_runtime.cli.common import allowed_prefixes, config_name, provenance
from trading_runtime.cli.optimize_steps import load_experiment_config
from trading_runtime.optimize import StudyManifest, Told, generation_label
from trading_runtime.orchestration.search import run_search
from trading_runtime.store import open_store

log = logging.getLogger(__name__)


class _TrialBar:
    """Trials told / n_trials and the best so far: tqdm on a terminal, a log line per generation otherwise."""

    def __init__(self, manifest: StudyManifest, told: int) -> None:
        self.manifest = manifest
        self.metric = manifest.sweep.objectives[0].metric
        self._tqdm = None
        if sys.stderr.isatty():
            from tqdm import tqdm
            self._tqdm = tqdm(total=manifest.n_trials, initial=told, unit="trial", file=sys.stderr,
                              dynamic_ncols=True, desc="optimize")

    def logging(self) -> contextlib.AbstractContextManager[Any]:
        """Log lines printed above the bar instead of through it."""
        if self._tqdm is None:
            return contextlib.nullcontext()
        from tqdm.contrib.logging import logging_redirect_tqdm
        redirect: contextlib.AbstractContextManager[Any] = logging_redirect_tqdm()
        return redirect

    def update(self, told: Told) -> None:
        best = "none yet" if told.best is None else f"{told.best[1]:.6g} (trial {told.best[0]})"
        if self._tqdm is not None:
            self._tqdm.update(told.told_total - self._tqdm.n)  # trials rejected at ask count too
            self._tqdm.set_postfix_str(f"best {self.metric} {best}")
        else:
            log.info("generation %s told: trials %d/%d, best %s %s", generation_label(told.generation),
                     told.told_total, self.manifest.n_trials, self.metric, best,
                     extra={"experiment": self.manifest.study_id, "generation": generation_label(told.generation),
                            "done": told.told_total, "total": self.manifest.n_trials})

    def close(self) -> None:
        if self._tqdm is not None:
            self._tqdm.close()


def cmd_run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    cwd = Path.cwd()
    config = load_experiment_config(args.config)
    store = open_store(args.store or config.store, cwd)
    with contextlib.ExitStack() as stack:
        bars: list[_TrialBar] = []

        def on_start(manifest: StudyManifest, told: int) -> None:
            bar = _TrialBar(manifest, told)
            stack.callback(bar.close)
            stack.enter_context(bar.logging())
            bars.append(bar)

        def on_told(told: Told) -> None:
            bars[0].update(told)

        result = run_search(config, config_name(args.config), store, cwd, allowed_prefixes(args),
                            args.workers or os.cpu_count() or 1, args.storage_format, args.max_generations,
                            provenance(), on_start, on_told)
    manifest = result.manifest
    if result.next_generation is not None:
        sys.stderr.write(f"optimize {manifest.study_id}: stopped after {result.generations} generation(s) with "
                         f"{generation_label(result.next_generation)} next; rerun to continue\n")
        return 0
    sys.stderr.write(f"optimize {manifest.study_id}: {manifest.n_trials} trials, ran {result.generations} "
                     f"generation(s) and {result.shards} shard(s) in {time.perf_counter() - t0:.1f}s\n"
                     f"report: {result.report}\n")
    sys.stdout.write(f"{store.uri.rstrip('/')}/{result.results_key}/\n")
    return 0
