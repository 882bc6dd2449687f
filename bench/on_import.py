"""For the phase scripts' timers: import as the command does, and wrap a module's attribute as soon as the
module has been imported (the command's own code decides when its modules are imported; the timer does not
import them earlier)."""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import sys
from collections.abc import Callable
from typing import Any


def start_up_pause() -> contextlib.AbstractContextManager[None]:
    """What ``main()`` wraps the subcommand's imports in (the garbage collector paused), in a tree that has
    it; nothing in an older tree, whose command imports without it."""
    try:
        from trading_runtime.cli.startup import collection_paused
    except ImportError:
        return contextlib.nullcontext()
    return collection_paused()


class _AfterImport(importlib.abc.MetaPathFinder):
    """Wraps ``module.attr`` with ``wrap`` right after ``module`` has been executed."""

    def __init__(self, module: str, attr: str, wrap: Callable[[Any], Any]) -> None:
        self.module, self.attr, self.wrap = module, attr, wrap

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != self.module:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        assert spec is not None and spec.loader is not None
        loader, attr, wrap = spec.loader, self.attr, self.wrap

        class Loader(importlib.abc.Loader):
            def create_module(self, spec: Any) -> Any:
                return loader.create_module(spec)

            def exec_module(self, module: Any) -> None:
                loader.exec_module(module)
                setattr(module, attr, wrap(getattr(module, attr)))

        spec.loader = Loader()
        return spec


def wrap_on_import(module: str, attr: str, wrap: Callable[[Any], Any]) -> None:
    """``module.attr = wrap(module.attr)`` now if ``module`` is imported, else as soon as it is."""
    if module in sys.modules:
        setattr(sys.modules[module], attr, wrap(getattr(sys.modules[module], attr)))
    else:
        sys.meta_path.insert(0, _AfterImport(module, attr, wrap))
