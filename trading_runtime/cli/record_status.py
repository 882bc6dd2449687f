"""Record a workflow's final status in the store: workflows/<workflow>/status.json (an Argo exit handler).

Metadata, not a result: it carries the time it was written and is never golden-checked.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trading_runtime.errors import InputError
from trading_runtime.golden.canonical import canonical_bytes
from trading_runtime.store import open_store, write_complete
from trading_runtime.store.base import validate_key

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", required=True, help="store URI")
    parser.add_argument("--workflow", required=True, help="workflow name (Argo: {{workflow.name}})")
    parser.add_argument("--status", required=True, help="final status (Argo: {{workflow.status}})")
    parser.add_argument("--detail", action="append", default=[], metavar="KEY=VALUE",
                        help="extra field to record (repeatable), e.g. config=…, duration_seconds=…")


def status_key(workflow: str) -> str:
    """Key of a workflow's status record; one line naming the problem for a name that is not a key segment."""
    key = f"workflows/{workflow}/status.json"
    if "/" in workflow:
        raise InputError(f"record-status: --workflow {workflow!r}: expected a name without '/'")
    try:
        return validate_key(key)
    except ValueError as e:
        raise InputError(f"record-status: --workflow {workflow!r}: {e}") from None


def status_document(workflow: str, status: str, details: list[str], now: datetime) -> dict[str, Any]:
    doc: dict[str, Any] = {"workflow": workflow, "status": status,
                           "recorded_at": now.isoformat(timespec="seconds")}
    extra: dict[str, str] = {}
    for item in details:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"record-status: --detail {item!r}: expected KEY=VALUE")
        extra[key] = value
    if extra:
        doc["details"] = extra
    return doc


def run(args: argparse.Namespace) -> int:
    key = status_key(args.workflow)
    doc = status_document(args.workflow, args.status, args.detail, datetime.now(tz=UTC))
    store = open_store(args.store, Path.cwd())
    write_complete(store, key, canonical_bytes(doc))
    log.info("workflow %s: %s recorded at %s", args.workflow, args.status, key)
    sys.stdout.write(f"{store.uri.rstrip('/')}/{key}\n")
    return 0
