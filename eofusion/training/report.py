"""Result tables of training and evaluation runs, as CSV and Markdown side by side (written atomically)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eofusion.atomic import write_text_atomic


def _write_text(path: Path, text: str) -> None:
    write_text_atomic(path, text)


def write_table(rows: Sequence[Mapping[str, Any]], stem: str | Path, keys: Sequence[str]) -> tuple[Path, Path]:
    """``stem.csv`` and ``stem.md`` with the columns ``keys`` (missing values left empty)."""
    stem = Path(stem)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(keys), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    csv_path, md_path = stem.with_suffix(".csv"), stem.with_suffix(".md")
    _write_text(csv_path, buffer.getvalue())
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r.get(k, "")) for k in keys) + " |" for r in rows]
    _write_text(md_path, "\n".join(lines) + "\n")
    return csv_path, md_path


def write_json(data: Any, path: str | Path) -> Path:
    """A JSON document, atomically."""
    path = Path(path)
    _write_text(path, json.dumps(data, indent=2, default=str))
    return path
