"""The demo world's configuration: one frozen value that fully determines every file the simulator writes."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, fields
from datetime import date, timedelta
from typing import Any

from eofusion.errors import ConfigError

# Coarsest Sentinel-2 resolution: the world's bounds snap to it so the 10/20/60 m grids nest exactly.
S2_SNAP_M = 60.0


def _season(start: str, offsets: tuple[int, ...]) -> tuple[date, ...]:
    first = date.fromisoformat(start)
    return tuple(first + timedelta(days=d) for d in offsets)


# Sentinel-2A/2B alternate every 5 days over one relative orbit; offsets are multiples of 5 days.
DEFAULT_S2_DATES = _season("2024-03-18", (0, 40, 70, 95, 125, 170))
DEFAULT_S2_CLOUDY = (DEFAULT_S2_DATES[2], DEFAULT_S2_DATES[5])
# Sentinel-1A alone (S1B failed in Dec 2021): a 12-day repeat per relative orbit.
DEFAULT_S1_ASCENDING = _season("2024-03-20", (0, 48, 96, 144))
DEFAULT_S1_DESCENDING = _season("2024-04-13", (0, 48, 96, 144))


@dataclass(frozen=True)
class WorldConfig:
    """Everything that defines a demo world; the same config (and seed) always gives identical files.

    Attributes:
        seed: Random seed for the scene layout, clouds, speckle and sensor noise.
        size_m: Side of the square world in metres (snapped up to a multiple of 60 m).
        centre_lonlat: Centre of the world (longitude, latitude); the default lies in the Lauragais,
            south-east of Toulouse (farmland, woods, a village).
        crs: Projected CRS of the world and of the Sentinel grids; None picks the UTM zone of the centre.
        s2_dates: Sentinel-2 L2A acquisition dates.
        s2_cloudy_dates: The subset of ``s2_dates`` with clouds and cloud shadows.
        s2_cloud_cover: Target cloud fraction on a cloudy date (0-1).
        s1_ascending_dates / s1_descending_dates: Sentinel-1 passes (VV+VH each).
        s1_resolution_m: Pixel spacing of the Sentinel-1 RTC grid.
        s1_looks: Equivalent number of looks of the speckle (IW GRDH: ~4.4).
        aerial_date: Date of the aerial survey (and of the land-cover truth).
        aerial_resolution_m: Aerial RGB+NIR pixel size (IGN BD ORTHO: 0.2 m).
        aerial_size_m: Side of the aerial/DSM coverage, centred in the world; None covers the world.
        dsm_resolution_m: DSM/DTM pixel size.
        landcover_resolution_m: Pixel size of the land-cover truth COG (on the aerial CRS); None = aerial's.
        landsat: Also render Landsat 8/9 OLI surface reflectance (30 m, on the Sentinel-2 dates): a sensor
            the model never sees in training, to measure generalisation.
        naip: Also render a second aerial camera with NAIP's band responses (UTM, on the aerial date).
        naip_resolution_m: Pixel size of the NAIP-like aerial image (NAIP: 0.6 m).
        s2_subpixels: Sub-samples per 10 m pixel side when mixing classes into Sentinel pixels.
        window_px: Side of the render windows (memory per window is bounded by it, not by the world).
    """

    seed: int = 0
    size_m: float = 1920.0
    centre_lonlat: tuple[float, float] = (1.72, 43.40)
    crs: str | None = None
    s2_dates: tuple[date, ...] = DEFAULT_S2_DATES
    s2_cloudy_dates: tuple[date, ...] = DEFAULT_S2_CLOUDY
    s2_cloud_cover: float = 0.25
    s1_ascending_dates: tuple[date, ...] = DEFAULT_S1_ASCENDING
    s1_descending_dates: tuple[date, ...] = DEFAULT_S1_DESCENDING
    s1_resolution_m: float = 10.0
    s1_looks: float = 4.4
    aerial_date: date = date(2024, 6, 12)
    aerial_resolution_m: float = 0.5
    aerial_size_m: float | None = None
    dsm_resolution_m: float = 1.0
    landcover_resolution_m: float | None = None
    landsat: bool = True
    naip: bool = True
    naip_resolution_m: float = 0.6
    s2_subpixels: int = 4
    window_px: int = 1024

    def __post_init__(self) -> None:
        self._check_place()
        self._check_dates()
        self._check_resolutions()

    @staticmethod
    def _bad(key: str, why: str) -> ConfigError:
        return ConfigError(f"WorldConfig.{key}: {why}")

    def _check_place(self) -> None:
        bad = self._bad
        if not 240 <= self.size_m <= 100_000:
            raise bad("size_m", f"{self.size_m} m is outside 240..100000 m; pick a size in that range.")
        lon, lat = self.centre_lonlat
        if not (-180 <= lon <= 180 and -80 <= lat <= 84):
            raise bad("centre_lonlat", f"({lon}, {lat}) is not a UTM-covered longitude/latitude.")
        if self.aerial_size_m is not None and not 50 <= self.aerial_size_m <= self.world_size_m:
            raise bad("aerial_size_m", f"must be 50..{self.world_size_m} m (the world's side) or None.")

    def _check_dates(self) -> None:
        bad = self._bad
        if not self.s2_dates and not (self.s1_ascending_dates or self.s1_descending_dates):
            raise bad("s2_dates", "no Sentinel-2 nor Sentinel-1 dates; give at least one date.")
        extra = sorted(set(self.s2_cloudy_dates) - set(self.s2_dates))
        if extra:
            raise bad("s2_cloudy_dates", f"{[d.isoformat() for d in extra]} are not in s2_dates.")
        for key in ("s2_dates", "s1_ascending_dates", "s1_descending_dates"):
            values = getattr(self, key)
            if len(set(values)) != len(values) or any(d.year != self.year for d in values):
                raise bad(key, f"dates must be distinct and within one season ({self.year}).")
        if not 0 <= self.s2_cloud_cover <= 0.9:
            raise bad("s2_cloud_cover", f"{self.s2_cloud_cover} is outside 0..0.9.")

    def _check_resolutions(self) -> None:
        bad = self._bad
        for key in ("aerial_resolution_m", "dsm_resolution_m", "s1_resolution_m"):
            if getattr(self, key) <= 0:
                raise bad(key, "must be positive.")
        if not 0.05 <= self.aerial_resolution_m <= 10 or not 0.1 <= self.dsm_resolution_m <= 30:
            raise bad("aerial_resolution_m", "aerial must be 0.05..10 m and DSM 0.1..30 m.")
        if not 0.05 <= self.naip_resolution_m <= 10:
            raise bad("naip_resolution_m", f"{self.naip_resolution_m} m is outside 0.05..10 m.")
        if self.landcover_resolution_m is not None and self.landcover_resolution_m <= 0:
            raise bad("landcover_resolution_m", "must be positive (or None for the aerial resolution).")
        if self.s1_looks < 1:
            raise bad("s1_looks", "the equivalent number of looks is at least 1.")
        if self.s2_subpixels < 1 or self.window_px < 256:
            raise bad("s2_subpixels", "s2_subpixels must be >= 1 and window_px >= 256.")
        if abs(S2_SNAP_M / self.s1_resolution_m - round(S2_SNAP_M / self.s1_resolution_m)) > 1e-9:
            raise bad(
                "s1_resolution_m", f"{self.s1_resolution_m} m must divide 60 m (e.g. 10 or 20) to tile the world."
            )

    # ------------------------------------------------------------------ derived values
    @property
    def year(self) -> int:
        """The season's year (of the aerial survey)."""
        return self.aerial_date.year

    @property
    def world_size_m(self) -> float:
        """``size_m`` snapped up to a multiple of 60 m (so every Sentinel-2 grid nests)."""
        return math.ceil(self.size_m / S2_SNAP_M) * S2_SNAP_M

    @property
    def world_crs(self) -> str:
        """``EPSG:326xx`` (or 327xx south) of the centre's UTM zone, unless ``crs`` is given."""
        if self.crs:
            return self.crs
        lon, lat = self.centre_lonlat
        zone = int((lon + 180) // 6) + 1
        return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"

    @property
    def s1_acquisitions(self) -> tuple[tuple[date, str], ...]:
        """(date, orbit state) of every Sentinel-1 pass, in time order."""
        passes = [(d, "ascending") for d in self.s1_ascending_dates]
        passes += [(d, "descending") for d in self.s1_descending_dates]
        return tuple(sorted(passes))

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (dates as ISO strings); :meth:`from_dict` reverses it."""
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if isinstance(value, date):
                out[key] = value.isoformat()
            elif isinstance(value, tuple):
                out[key] = [v.isoformat() if isinstance(v, date) else v for v in value]
            else:
                out[key] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorldConfig:
        """A config from :meth:`to_dict` output; unknown keys are rejected with their names."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"Unknown WorldConfig key(s) {unknown}; known keys: {sorted(known)}.")
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key.endswith("dates"):
                kwargs[key] = tuple(date.fromisoformat(v) for v in value)
            elif key == "aerial_date":
                kwargs[key] = date.fromisoformat(value)
            elif key == "centre_lonlat":
                kwargs[key] = (float(value[0]), float(value[1]))
            else:
                kwargs[key] = value
        return cls(**kwargs)

    def digest(self) -> str:
        """A short hash of the config: equal configs (same seed) give equal worlds."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]
