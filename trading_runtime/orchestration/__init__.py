"""Orchestration: the steps the CLI (and the Argo pods through it) run, composed from the layers below.

Every CLI module parses its arguments, loads the config, calls one function from here and maps
errors to exit codes; nothing here reads argv or the environment, or writes to stdout.

- ``backtest``: one backtest from its config → stats, equity, trades, manifest, meta, report.html;
- ``compare``: the A/B test of two backtests (configs or results) → compare.json, compare.html;
- ``sweep``: plan → every pending shard (in process or on a local pool) → finalize → report;
- ``finalize``: the fan-in of one experiment (fanin.json, the derived curves, summary.json, provenance.json);
- ``study``: the Optuna generation steps (init, ask, tell, finalize) and the async worker / verify;
- ``search``: the local all-in-one search (the study steps on a pool that lives for the whole search);
- ``pool``: local worker processes (fork, Ctrl-C handling, pending shards).
"""
