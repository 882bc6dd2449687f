"""``python -m trading_runtime``."""

from trading_runtime.cli.main import main

raise SystemExit(main())
