"""When a user's raster was acquired: a sidecar file, the TIFF tags, a date in its name, or the user's fallback."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from eofusion.catalog.fields import parse_time
from eofusion.errors import InputDataError

SIDECAR_TIME = "acquired.txt"  # one RFC 3339 line next to the files of one acquisition
_DATE_TIME = re.compile(r"(?<!\d)((?:19|20)\d{6})T(\d{6})(?!\d)")
_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})(\d{2})(\d{2})(?!\d)")


def file_acquisition_time(path: Path, tags: dict[str, str], fallback: datetime | None = None) -> datetime:
    """The file's own time (sidecar, TIFF tags, name); ``fallback`` (``--datetime``) only when it has none."""
    sidecar = path.parent / SIDECAR_TIME
    if sidecar.exists():
        text = sidecar.read_text().strip()
        try:
            parsed = parse_time(text)
        except ValueError:
            raise InputDataError(f"{sidecar} does not hold an RFC 3339 time (got {text[:40]!r}).") from None
        if parsed is not None:
            return parsed
    for key in ("ACQUISITIONDATETIME", "acquisition_time", "DATETIME_ACQUIRED"):
        if tags.get(key):
            return parse_time(tags[key].replace(":", "-", 2) if tags[key][4:5] == ":" else tags[key])  # type: ignore[return-value]
    for part in (path.stem, *reversed(path.parent.parts[-2:])):
        found = _DATE_TIME.search(part)
        if found:
            return datetime.strptime(found[1] + found[2], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        date = _DATE.search(part)
        if date:
            try:
                return datetime(int(date[1]), int(date[2]), int(date[3]), tzinfo=UTC)
            except ValueError:
                continue
    if fallback is not None:
        return fallback
    raise InputDataError(
        f"{path}: no acquisition time in its name, TIFF tags or an {SIDECAR_TIME} next to it; "
        "pass --datetime (acquired=...)."
    )
