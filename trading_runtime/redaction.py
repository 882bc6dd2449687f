"""Credentials never reach a log line or an error message: URL userinfo is masked wherever it appears.

``http://admin:SECRET@host:9091`` becomes ``http://***@host:9091`` (user and password both: a token
passed as the user name is a secret too). Used by the CLI's log formatters and error output, and by
the integrations that name their endpoint (AWS_ENDPOINT_URL, PROMETHEUS_PUSHGATEWAY_URL,
MLFLOW_TRACKING_URI) in warnings.
"""

from __future__ import annotations

import re

__all__ = ["redact"]

# scheme://userinfo@ — userinfo is anything up to the first '@' without '/', whitespace or quotes.
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/?#@\s\"'<>]+@")


def redact(text: str) -> str:
    """``text`` with the userinfo of every URL in it replaced by ``***``."""
    return _USERINFO.sub(r"\1***@", text)
