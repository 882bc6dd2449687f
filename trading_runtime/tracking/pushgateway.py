"""Push metrics to a Prometheus Pushgateway: a plain HTTP PUT of the text exposition format.

``PUT {url}/metrics/job/trading_runtime/<label>/<value>/…`` replaces the metrics of that group
(one group per experiment and shard, or per experiment and step). Label values are URL-quoted; a
value containing ``/`` (or empty) uses the Pushgateway's ``<label>@base64/<urlsafe base64>`` form.
A failed push is a logged warning, never an error of the run that pushes.
"""

from __future__ import annotations

import base64
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from trading_runtime.redaction import redact

log = logging.getLogger(__name__)

JOB = "trading_runtime"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TIMEOUT_SECONDS = 5.0  # a push must never hold up a pod for long


@dataclass(frozen=True)
class Sample:
    """One gauge sample; samples sharing a ``name`` are written under one HELP/TYPE header."""

    name: str
    value: float
    help: str
    labels: tuple[tuple[str, str], ...] = field(default=())


def _value(v: float) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v))


def _label_value(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def exposition(samples: Sequence[Sample]) -> bytes:
    """Prometheus text format 0.0.4, metrics in the order given, a trailing newline."""
    lines: list[str] = []
    seen: set[str] = set()
    for s in samples:
        if s.name not in seen:
            seen.add(s.name)
            lines += [f"# HELP {s.name} {s.help}", f"# TYPE {s.name} gauge"]
        labels = ",".join(f'{k}="{_label_value(v)}"' for k, v in s.labels)
        lines.append(f"{s.name}{{{labels}}} {_value(s.value)}" if labels else f"{s.name} {_value(s.value)}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def pushgateway_path(grouping: Sequence[tuple[str, str]]) -> str:
    """``/metrics/job/trading_runtime/<label>/<value>…`` for the grouping labels, in the order given."""
    parts = [f"/metrics/job/{JOB}"]
    for label, value in grouping:
        if value == "" or "/" in value:
            encoded = base64.urlsafe_b64encode(value.encode("utf-8")).decode("ascii")
            parts.append(f"/{label}@base64/{encoded or '='}")
        else:
            parts.append(f"/{label}/{quote(value, safe='')}")
    return "".join(parts)


def push_metrics(url: str, grouping: Sequence[tuple[str, str]], samples: Sequence[Sample],
                 timeout: float = TIMEOUT_SECONDS) -> bool:
    """PUT the samples to the group; True when the gateway accepted them, False (warning logged) otherwise."""
    target = url.rstrip("/") + pushgateway_path(grouping)
    shown = redact(target)
    import urllib.request  # here, not at import: http.client and ssl are not loaded by steps that never push

    try:
        # Built inside the try: a malformed URL (no scheme, bad port, control characters) is a warning too.
        request = urllib.request.Request(target, data=exposition(samples), method="PUT",
                                         headers={"Content-Type": CONTENT_TYPE})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = int(response.status)
    except Exception as e:  # an integration never fails the step that pushes
        log.warning("pushgateway: push to %s failed: %s", shown, redact(f"{type(e).__name__}: {e}"))
        return False
    if status >= 300:
        log.warning("pushgateway: push to %s answered HTTP %d", shown, status)
        return False
    log.debug("pushgateway: pushed %d samples to %s", len(samples), shown)
    return True
