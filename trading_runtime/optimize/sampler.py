"""Seeded Optuna samplers, rebuilt for every step from the config's seed and a stable label.

A sampler's random state never lives between steps: each ``ask``/``tell`` builds its sampler with
``derive_seed(seed, "generation/<g>")`` (sha256, never ``hash()``), so what a generation asks
depends only on the seed, the generation and the trials already told — not on which process or
pod asks, nor on how many times a step was retried.

Per sampler:

- ``tpe``: ``TPESampler(seed)`` with Optuna's defaults (constant liar on, so the trials of one
  batch spread out instead of repeating the same proposal);
- ``random``: ``RandomSampler(seed)``;
- ``qmc``: scrambled Sobol ``QMCSampler``; its scramble seed is the config's seed itself in every
  generation (the sequence must stay one sequence; its position lives in the study), categorical
  parameters come from a per-generation seeded random sampler;
- ``cmaes``: ``CmaEsSampler(seed, popsize=batch_size)`` (one CMA-ES generation per batch; one
  objective; categorical parameters fall back to a seeded random sampler);
- ``nsga2``: ``NSGAIISampler(seed, population_size=batch_size)`` (one GA generation per batch).
"""

from __future__ import annotations

import hashlib
import warnings

import optuna
from optuna.samplers import BaseSampler

from trading_runtime.config.experiment import SamplerConfig

__all__ = ["build_sampler", "derive_seed", "sampler_problems"]


def derive_seed(seed: int, label: str) -> int:
    """A 32-bit seed from (seed, label) by sha256: stable across processes, platforms and runs."""
    digest = hashlib.sha256(f"{seed}/{label}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def sampler_problems(cfg: SamplerConfig, n_objectives: int, batch_size: int) -> list[str]:
    """Why this sampler cannot run the search (``json.path: message (got …)``), empty when it can."""
    out = []
    if cfg.name == "cmaes" and n_objectives > 1:
        out.append(f"sweep.sampler.name: cmaes optimises one objective (got {n_objectives} objectives; "
                   "use nsga2, tpe, random or qmc)")
    if cfg.name in ("nsga2", "cmaes") and batch_size < 2:
        out.append(f"sweep.batch_size: {cfg.name} needs a population (batch) of at least 2 (got {batch_size})")
    return out


def build_sampler(cfg: SamplerConfig, label: str, batch_size: int) -> BaseSampler:
    """The sampler of one step; ``label`` names the step's stream (``generation/0003``, ``async/1``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return _build(cfg, derive_seed(cfg.seed, label), batch_size)


def _build(cfg: SamplerConfig, seed: int, batch_size: int) -> BaseSampler:
    if cfg.name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if cfg.name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if cfg.name == "qmc":
        return optuna.samplers.QMCSampler(qmc_type="sobol", scramble=True, seed=cfg.seed,
                                          independent_sampler=optuna.samplers.RandomSampler(seed=seed),
                                          warn_independent_sampling=False)
    if cfg.name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, popsize=batch_size,
                                            independent_sampler=optuna.samplers.RandomSampler(seed=seed),
                                            warn_independent_sampling=False)
    assert cfg.name == "nsga2"
    return optuna.samplers.NSGAIISampler(seed=seed, population_size=batch_size)
