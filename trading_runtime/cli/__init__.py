"""The ``trading-runtime`` command: one subcommand module per step."""
