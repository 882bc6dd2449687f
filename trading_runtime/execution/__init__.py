"""Running backtests: the adapter between runtime configs and trading_framework."""
