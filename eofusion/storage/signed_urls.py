"""Fresh signatures for signed asset URLs that expired during a long build (Planetary Computer SAS tokens).

Items are signed once, at search time; a token lives about an hour, a national cube build longer. When a read
is refused (HTTP 403) and the href is a Planetary Computer blob, the reader asks here for a freshly signed
href (the ``planetary-computer`` extra) and retries with it. Other providers' hrefs are not re-signed.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

PC_BLOB_SUFFIX = ".blob.core.windows.net"


def is_planetary_computer_blob(href: str) -> bool:
    """An Azure blob URL as Planetary Computer signs them (``<account>.blob.core.windows.net``)."""
    host = urlsplit(href).hostname or ""
    return host.endswith(PC_BLOB_SUFFIX)


def resigned(href: str) -> str | None:
    """A freshly signed href for an expired Planetary Computer URL, or None when it cannot be re-signed."""
    if not is_planetary_computer_blob(href):
        return None
    try:
        import planetary_computer
    except ImportError:
        log.warning("%s was refused and cannot be re-signed: pip install 'eofusion[planetary-computer]'", href)
        return None
    unsigned = href.split("?", 1)[0]
    fresh = str(planetary_computer.sign(unsigned))
    return fresh if fresh != href else None
