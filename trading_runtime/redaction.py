"""Credentials never reach a log line or an error message: URL userinfo is masked wherever it appears.

``http://admin:SECRET@host:9091`` becomes ``http://admin:***@host:9091``; a user name alone
(``https://TOKEN@host``, often a token) becomes ``https://***@host``. Redacting twice changes nothing.
Used by the CLI's log formatters and error output, and by the integrations that name their endpoint
(AWS_ENDPOINT_URL, PROMETHEUS_PUSHGATEWAY_URL, MLFLOW_TRACKING_URI) in warnings.
"""

from __future__ import annotations

import re

__all__ = ["redact"]

# scheme://userinfo@ — userinfo is anything up to the first '@' without '/', whitespace or quotes.
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)([^/?#@\s\"'<>]+)@")


def _mask(match: re.Match[str]) -> str:
    user, colon, _ = match.group(2).partition(":")
    return f"{match.group(1)}{user}:***@" if colon else f"{match.group(1)}***@"


def redact(text: str) -> str:
    """``text`` with the password (or the lone user name) of every URL in it replaced by ``***``."""
    return _USERINFO.sub(_mask, text)
