"""A CLI process's start-up: the garbage collector paused while the command's modules are imported.

Importing the libraries a command needs (numpy, numba with llvmlite, pydantic building the config models,
pyarrow) allocates hundreds of thousands of objects that all stay alive; each allocation burst triggers
the cyclic collector, whose older generations walk everything imported so far again and find nothing to
free. Paused for the imports, that is ~0.03 s of CPU per process measured here (importing ``cli.main`` and
building ``run-shard``'s parser: median 0.458 → 0.425 s, 8 fresh processes each). Objects are still freed
by reference counting meanwhile; the collector resumes (as it was) when the imports are done.

**Resuming without a walk.** The collector counts allocations while it is off; re-enabled, its next
allocation starts a young collection over everything the imports left alive (all of it was allocated while
no collection ran, so all of it is "young"): one walk of every imported object, ~0.03 s in ``run-shard``'s
start-up on this machine, found to be ``cli.main``'s import's largest own cost (``-X importtime``,
``cProfile``: in ``collection_paused``'s exit). The pause therefore hands what the body allocated to the
oldest generation directly (``gc.freeze()`` then ``gc.unfreeze()``: two list splices, no walk), where it
still is collected by full collections as before; it is walked next at the process's first full
collection, which a CLI process avoids altogether (``main`` freezes the imported objects). Only when
nothing was frozen before (``gc.get_freeze_count() == 0``: unfreezing would release someone else's frozen
objects). When objects were frozen before (a CLI process after ``main`` froze its imports: ``run-shard`` and
``sweep`` import numba's side only once their data read has started, in a second pause), what the body
allocated is frozen with them (``gc.freeze()``: no walk, and none later), as the imports before it were.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collection_paused() -> Iterator[None]:
    """The cyclic garbage collector off for the ``with`` body, then back as it was (also on error); what the
    body allocated is handed to the oldest generation, or frozen when objects were frozen before, without a
    walk (see above)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        else:
            gc.freeze()
        if enabled:
            gc.enable()
