"""numba's one-time start-up in a runtime process, without two optional integrations it probes for.

The first call of any compiled kernel initialises numba's CPU target and typing context, which
import, among their registries:

* ``numba.np.arraymath``, which probes for SciPy's BLAS (``import scipy.linalg.cython_blas``: it
  imports ``scipy.linalg`` and, through SciPy's array-API layer, ``numpy.f2py``; 0.2–0.3 s). The
  probe only chooses how ``np.correlate``/``np.convolve`` of floats compute inner products inside
  compiled code (BLAS ``dot``, or a plain loop);
* ``numba.core.typing.cffi_utils``, which builds a ``cffi.FFI()`` (it imports ``pycparser``;
  ~0.1 s) to let compiled code call CFFI functions.

No kernel of the framework or of the example strategies uses either. ``start_numba`` imports these
two modules once, each with its probe failing, so every runtime process takes the same path (the
BLAS-free loop: one summation order whatever the machine's BLAS). The block lasts only for that
import: SciPy and cffi stay importable afterwards. Figures: bench/README.md ("cold start").
"""

from __future__ import annotations

import importlib
import sys

# numba module imported by start_numba → the imports that fail while it loads (a dotted import
# imports its parents first, so the parent package is blocked too)
_WITHOUT = {
    "numba.np.arraymath": ("scipy.linalg", "scipy.linalg.cython_blas"),
    "numba.core.typing.cffi_utils": ("cffi",),
}


def start_numba() -> None:
    """Import numba's registries that probe for SciPy's BLAS and cffi, with the probes failing (once)."""
    for module, blocked in _WITHOUT.items():
        if module in sys.modules:
            continue
        saved = {name: sys.modules[name] for name in blocked if name in sys.modules}
        for name in blocked:
            sys.modules[name] = None  # type: ignore[assignment]  # `import` of a None entry raises ImportError
        try:
            importlib.import_module(module)
        finally:
            for name in blocked:
                del sys.modules[name]
            sys.modules.update(saved)
