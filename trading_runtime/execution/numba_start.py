"""numba's one-time start-up in a runtime process: cached kernels loaded without the compiler's registries,
and two optional integrations that numba probes for left out.

**Loading a cached kernel.** The first call of a compiled kernel whose machine code is in numba's on-disk
cache (``cache=True``) "refreshes" the CPU target first (``numba.core.caching.Cache.load_overload``):
it imports and installs every typing and lowering registry numba has (``numba.np.arraymath``,
``numba.np.linalg``, ``numba.typed``, ``numba.np.random``, ``numba.experimental``, ... some hundred
modules, and thousands of implementations registered), 0.15–0.35 s on this machine, because a *compile*
needs them. A cached kernel does not: its machine code is complete; it needs only numba's runtime (NRT:
the memory management functions its code calls, whose symbols ``rtsys.initialize`` registers). So
``start_numba`` makes a cache load initialise only the NRT. A cache miss still compiles through numba's
compiler, which refreshes the registries itself (``numba.core.compiler.compile_extra``), so what is
compiled and how is unchanged; only what a cached load imports is.

**SciPy's BLAS and cffi.** When the registries are loaded (a compile), numba imports, among them:

* ``numba.np.arraymath``, which probes for SciPy's BLAS (``import scipy.linalg.cython_blas``: it
  imports ``scipy.linalg`` and, through SciPy's array-API layer, ``numpy.f2py``; 0.2–0.3 s). The
  probe only chooses how ``np.correlate``/``np.convolve`` of floats compute inner products inside
  compiled code (BLAS ``dot``, or a plain loop);
* ``numba.core.typing.cffi_utils``, which builds a ``cffi.FFI()`` (it imports ``pycparser``;
  ~0.1 s) to let compiled code call CFFI functions.

No kernel of the framework or of the example strategies uses either. ``start_numba`` makes these
two modules, whenever they are imported, load with their probe failing, so every runtime process takes
the same path (the BLAS-free loop: one summation order whatever the machine's BLAS). The block lasts
only for that import: SciPy and cffi stay importable. Figures: bench/README.md ("cold start").
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

# numba module → the imports that fail while it loads (a dotted import imports its parents first, so
# the parent package is blocked too); lighten_numba_import adds numba's own import's
_WITHOUT: dict[str, tuple[str, ...]] = {
    "numba.np.arraymath": ("scipy.linalg", "scipy.linalg.cython_blas"),
    "numba.core.typing.cffi_utils": ("cffi",),
}
_state = {"started": False}

NUMBA_CONFIG_FILE = ".numba_config.yaml"  # numba.core.config._config_fname: read (with PyYAML) from the cwd


class _Blocked(importlib.abc.Loader):
    """Executes the real loader's module with ``blocked`` unimportable (restored afterwards)."""

    def __init__(self, loader: importlib.abc.Loader, blocked: tuple[str, ...]) -> None:
        self._loader = loader
        self._blocked = blocked

    def __getattr__(self, name: str) -> Any:  # get_source, get_filename, ...: the real loader's
        return getattr(self._loader, name)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        saved = {name: sys.modules[name] for name in self._blocked if name in sys.modules}
        for name in self._blocked:
            sys.modules[name] = None  # type: ignore[assignment]  # `import` of a None entry raises ImportError
        try:
            self._loader.exec_module(module)
        finally:
            for name in self._blocked:
                del sys.modules[name]
            sys.modules.update(saved)


class _ProbeBlocker(importlib.abc.MetaPathFinder):
    """Finds the modules of ``_WITHOUT`` through the other finders and wraps their loader."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        blocked = _WITHOUT.get(fullname)
        if blocked is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec: importlib.machinery.ModuleSpec | None = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _Blocked(spec.loader, blocked)  # type: ignore[arg-type]
                return spec
        return None


def _load_overload(self: Any, sig: Any, target_context: Any) -> Any:
    """``Cache.load_overload`` initialising only numba's runtime (NRT), not every registry (see above)."""
    from numba.core.runtime.nrt import rtsys

    rtsys.initialize(target_context)
    with self._guard_against_spurious_io_errors():
        return self._load_overload(sig, target_context)


def lighten_numba_import() -> None:
    """Before numba is first imported (a CLI process): numba's own import skips two modules it does not need
    here. Nothing once numba is imported (in-process callers, tests).

    * ``import scipy`` in ``numba/__init__.py`` only checks SciPy's version (>= 1.0; the locked one is);
      ~0.01 s. SciPy stays importable; numba's compiled code never needs its top-level package.
    * ``import yaml`` in ``numba.core.config`` (~0.01 s) serves only to read a ``.numba_config.yaml`` in the
      working directory: blocked only when there is no such file, so numba's settings are the same.
    """
    if "numba" in sys.modules:
        return
    _WITHOUT["numba"] = ("scipy",)
    if not os.path.exists(NUMBA_CONFIG_FILE):
        _WITHOUT["numba.core.config"] = ("yaml",)
    _install_blocker()


def _install_blocker() -> None:
    if not any(isinstance(finder, _ProbeBlocker) for finder in sys.meta_path):
        sys.meta_path.insert(0, _ProbeBlocker())


def start_numba() -> None:
    """Cached kernels load without numba's registries; SciPy's BLAS and cffi are never probed (once)."""
    if _state["started"]:
        return
    from numba.core import caching

    caching.Cache.load_overload = _load_overload  # type: ignore[method-assign]
    _install_blocker()
    # already imported (by a compile before this call): their probes ran; nothing to block any more
    _state["started"] = True
