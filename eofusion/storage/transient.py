"""Which remote read failures are worth another attempt.

GDAL reports network failures as text (curl's message or the HTTP status); these patterns pick out the
ones that a retry can fix: server overload (429, 5xx), timeouts, dropped or reset connections and bodies
cut short. A 403/404 or a corrupt file is not transient: retrying cannot fix it.
"""

from __future__ import annotations

import re

_TRANSIENT = re.compile(
    r"HTTP (?:response|error) code:? *(?:429|5\d\d)"
    r"|\b(?:429|50[0234]) (?:Too Many|Internal|Bad Gateway|Service Unavailable|Gateway Time)"
    r"|timed? ?out|Timeout was reached|Operation too slow"
    r"|Connection (?:reset|refused|was reset)|Couldn't connect|Failed to connect|Empty reply"
    r"|transfer closed with|Recv failure|Send failure|partial file|Partial file"
    r"|SSL_read|Connection died|unexpected EOF",
    re.IGNORECASE,
)
_DENIED = re.compile(r"HTTP (?:response|error) code:? *40[13]|Access Denied|AuthorizationFailure", re.IGNORECASE)


def is_transient_message(message: str) -> bool:
    """True when a read error's text says the network or the server failed, not the file."""
    return bool(_TRANSIENT.search(message))


def is_denied_message(message: str) -> bool:
    """True when a read error's text says access was refused (credentials, an expired signature)."""
    return bool(_DENIED.search(message))
