"""Example strategies, loaded by class path (``trading_runtime.strategies.sma_cross:SmaCross``)."""
