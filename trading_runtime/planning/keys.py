"""The store's key layout of an experiment (one place, so every step agrees)."""

from __future__ import annotations

import re
from dataclasses import dataclass

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

    def shard_equity(self, shard_id: str) -> str:
        return f"{self.root}/shards/{self.split}/{shard_id}/equity.f64"

    def shard_failure(self, shard_id: str) -> str:
        return f"{self.root}/shards/{self.split}/{shard_id}/failed.json"

    @property
    def fanin(self) -> str:
        return f"{self.root}/fanin.json"

    @property
    def summary(self) -> str:
        return f"{self.root}/summary.json"

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
