"""The ``trading-runtime`` command: one subcommand module per step."""

from trading_runtime.execution.numba_start import lighten_numba_import

# Before any CLI module imports numba (through the framework): numba's import skips SciPy's version check,
# and PyYAML when there is no .numba_config.yaml to read (see lighten_numba_import; ~0.02 s a process).
lighten_numba_import()
