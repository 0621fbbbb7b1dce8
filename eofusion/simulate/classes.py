"""The demo world's class tables: FLAIR-like land cover and LPIS-like crop types.

Land-cover ids follow the FLAIR-1 nomenclature's numbering (IGN) for the classes the world contains, so a
model or a table written for FLAIR reads them the same way. Id 0 means nodata / unknown (outside the
world); it is the raster's nodata value and must be ignored when scoring. Colours are this project's
choice (RGB hex), close to the usual map conventions (red-brown roofs, blue water, greens for vegetation).

Crop ids are a small LPIS-like table for the crop-type task; 0 means "not a crop parcel".
"""

from __future__ import annotations

from dataclasses import dataclass

LANDCOVER_NODATA = 0
CROP_NODATA = 0


@dataclass(frozen=True)
class LandCoverClass:
    """One land-cover class: raster value, name, display colour (``#rrggbb``) and what it covers."""

    id: int
    name: str
    colour: str
    description: str

    @property
    def rgb(self) -> tuple[int, int, int]:
        """The colour as an (r, g, b) tuple of 0-255 ints."""
        h = self.colour.lstrip("#")
        return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


@dataclass(frozen=True)
class CropType:
    """One crop type of the parcels table."""

    id: int
    name: str
    colour: str
    season: str  # "winter" (sown in autumn) or "summer" (sown in spring) or "perennial"


LANDCOVER_CLASSES: tuple[LandCoverClass, ...] = (
    LandCoverClass(1, "building", "#c8323c", "roofs of houses, farm buildings and sheds"),
    LandCoverClass(2, "pervious surface", "#b4aaa0", "gravel yards and unpaved tracks"),
    LandCoverClass(3, "impervious surface", "#505055", "roads, car parks, concrete yards"),
    LandCoverClass(4, "bare soil", "#a0785a", "earthworks and bare ground outside fields"),
    LandCoverClass(5, "water", "#1e64c8", "lake and stream"),
    LandCoverClass(6, "coniferous", "#145028", "evergreen needle-leaf woodland"),
    LandCoverClass(7, "deciduous", "#3ca03c", "broad-leaf woodland and riparian trees"),
    LandCoverClass(8, "brushwood", "#8c9b3c", "scrub and garrigue"),
    LandCoverClass(9, "vineyard", "#8c3c8c", "vine rows on bare inter-rows"),
    LandCoverClass(10, "herbaceous vegetation", "#a0dc78", "meadows, verges, field margins and gardens"),
    LandCoverClass(11, "agricultural land", "#f0dc64", "annual crop parcels (see the crop table)"),
    LandCoverClass(12, "plowed land", "#d2aa78", "parcels left bare and tilled this season"),
    LandCoverClass(13, "swimming pool", "#32c8e6", "garden pools"),
)

CROP_TYPES: tuple[CropType, ...] = (
    CropType(1, "soft wheat", "#e6c83c", "winter"),
    CropType(2, "winter barley", "#c8a03c", "winter"),
    CropType(3, "rapeseed", "#f0f03c", "winter"),
    CropType(4, "maize", "#3cb43c", "summer"),
    CropType(5, "sunflower", "#f0a014", "summer"),
    CropType(6, "soybean", "#78c878", "summer"),
    CropType(7, "grassland", "#a0dc78", "perennial"),
    CropType(8, "vineyard", "#8c3c8c", "perennial"),
)

# Land-cover ids by name, for code that reads better with names than numbers.
LC = {c.name: c.id for c in LANDCOVER_CLASSES}
CROP = {c.name: c.id for c in CROP_TYPES}


def landcover_colormap() -> dict[int, tuple[int, int, int, int]]:
    """A GDAL colour table (value -> RGBA) for the land-cover COG; 0 (nodata) is transparent."""
    cmap = {LANDCOVER_NODATA: (0, 0, 0, 0)}
    cmap.update({c.id: (*c.rgb, 255) for c in LANDCOVER_CLASSES})
    return cmap
