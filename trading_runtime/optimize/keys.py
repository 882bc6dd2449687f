"""The store's key layout of a study (one place, so every step agrees).

```
optimize/<study_id>/study.json                the study manifest (init)
optimize/<study_id>/storage/journal.v2.log    the Optuna journal's base (or storage/study.sqlite3)
optimize/<study_id>/storage/journal/g<gggg>.{asked,told}.v2.log   its generations (optimize/storage.py)
optimize/<study_id>/results/<name>.json       finalize's documents
experiments/<study_id>.g<gggg>/plan.v2.json   generation g's plan, sealed: run-shard reads it unchanged
experiments/<study_id>.best/plan.json         the best trial re-evaluated by finalize
```
Every object above is written with a completion marker (``write_complete``), except the journal's objects and
the generations' plans: each is one sealed put (``store/sealed.py``: its last line the sha256 of its lines),
which ``read_complete`` reads when the key has no marker (a generation plan an earlier version wrote as
``plan.json`` with its marker is read, and rewritten, in that form). The storage key (``storage("journal")``)
names the base as earlier versions wrote it (``journal.log``, with a marker).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GENERATION_WIDTH", "MAX_GENERATIONS", "StudyKeys", "generation_label"]

GENERATION_WIDTH = 4
MAX_GENERATIONS = 10**GENERATION_WIDTH


def generation_label(g: int) -> str:
    """``3`` → ``0003``: generations sort as text and their ids never change width."""
    return f"{g:0{GENERATION_WIDTH}d}"


@dataclass(frozen=True)
class StudyKeys:
    study_id: str

    @property
    def root(self) -> str:
        return f"optimize/{self.study_id}"

    @property
    def manifest(self) -> str:
        return f"{self.root}/study.json"

    def storage(self, storage_format: str) -> str:
        return f"{self.root}/storage/journal.log" if storage_format == "journal" else \
            f"{self.root}/storage/study.sqlite3"

    @property
    def results(self) -> str:
        return f"{self.root}/results"

    def result(self, name: str) -> str:
        return f"{self.results}/{name}"

    def generation_experiment(self, g: int) -> str:
        return f"{self.study_id}.g{generation_label(g)}"

    @property
    def best_experiment(self) -> str:
        return f"{self.study_id}.best"
