"""The store's key layout of an experiment (one place, so every step agrees)."""

from __future__ import annotations

import re
from dataclasses import dataclass

SHARD_SCHEMA_VERSION = 2
"""schema_version of a shard's result.json. 2: run records only (finalize derives the curves); 1 (before
issue 13) also indexed the shard's own equity blob, which this version no longer reads."""

# <store URI>/experiments/<experiment id>: the store root is what completion markers are relative to.
_LOCATION = re.compile(r"^(?P<store>.*?)/?experiments/(?P<experiment>[^/]+)/?$")


def split_experiment_location(uri: str) -> tuple[str, str] | None:
    """``<store>/experiments/<id>`` → (store URI, id), the store ``"."`` when empty; None for another shape."""
    m = _LOCATION.match(uri)
    return None if m is None else (m["store"] or ".", m["experiment"])


@dataclass(frozen=True)
class ExperimentKeys:
    """Keys relative to the store root: ``experiments/<experiment_id>/...``."""

    experiment_id: str
    split: str = "default"  # how runs were split into shards (plan.split): shards of two splits never mix

    @property
    def root(self) -> str:
        return f"experiments/{self.experiment_id}"

    @property
    def plan(self) -> str:
        return f"{self.root}/plan.json"

    def shard_result(self, shard_id: str) -> str:
        return f"{self.root}/shards/{self.split}/{shard_id}/result.json"

    def shard_failure(self, shard_id: str) -> str:
        return f"{self.root}/shards/{self.split}/{shard_id}/failed.json"

    @property
    def fanin(self) -> str:
        return f"{self.root}/fanin.json"

    @property
    def summary(self) -> str:
        return f"{self.root}/summary.json"

    @property
    def curves(self) -> str:
        """The index of the equity curves finalize derived (the runs whose curves are read), marked."""
        return f"{self.root}/curves.json"

    @property
    def curves_blob(self) -> str:
        """The curves' arrays (``planning.equity_blob`` layout); its sha256 is in ``curves.json``."""
        return f"{self.root}/curves.f64"

    @property
    def oos_equity(self) -> str:
        return f"{self.root}/oos_equity.json"

    @property
    def provenance(self) -> str:
        """Runtime and framework versions and commits of the finalizing image (metadata; never golden)."""
        return f"{self.root}/provenance.json"

    @property
    def status(self) -> str:
        return f"{self.root}/status.json"
