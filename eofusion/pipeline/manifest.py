"""The run manifest: one JSON file that says, for every tile, done / failed / skipped, with timings and outputs.

It is rewritten atomically after every tile, so a scheduler (or a person) can read it at any time, and a
killed run leaves a manifest that is true up to the last finished tile.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from eofusion.storage import Location


class TileStatus(StrEnum):
    """What happened to a tile in this run."""

    DONE = "done"  # computed in this run
    SKIPPED = "skipped"  # already finished by an earlier run with the same configuration
    FAILED = "failed"


@dataclass
class TileRecord:
    """One tile's entry."""

    tile_id: str
    status: TileStatus
    seconds: float = 0.0
    attempts: int = 0
    outputs: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass
class RunManifest:
    """The state of a run; written to ``<outputs.dir>/run-manifest.json``."""

    job: str
    config_hash: str
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    finished: str | None = None
    tiles: dict[str, TileRecord] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)  # checkpoint and what it was trained on

    def record(self, tile: TileRecord) -> None:
        """Add or replace a tile's entry."""
        self.tiles[tile.tile_id] = tile

    def ids(self, status: TileStatus) -> list[str]:
        """Tile ids with a status, sorted."""
        return sorted(t.tile_id for t in self.tiles.values() if t.status is status)

    @property
    def ok(self) -> bool:
        """True when no tile failed."""
        return not self.ids(TileStatus.FAILED)

    def summary(self) -> dict[str, Any]:
        """Counts and lists, for logs and ``--json``."""
        return {
            "job": self.job,
            "config_hash": self.config_hash,
            "done": self.ids(TileStatus.DONE),
            "skipped": self.ids(TileStatus.SKIPPED),
            "failed": self.ids(TileStatus.FAILED),
            "outputs": self.outputs,
            "model": self.model,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        data["summary"] = {k: len(v) if isinstance(v, list) else v for k, v in self.summary().items()}
        return data

    def write(self, path: str | Path | Location) -> Location:
        """Write atomically (temporary name then rename; one PUT in an object store)."""
        target = Location(path)
        target.write_text(json.dumps(self.to_dict(), indent=2, default=str))
        return target
