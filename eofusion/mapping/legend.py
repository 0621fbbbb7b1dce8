"""A map legend: class ids, names and colours, shared by the COG colour table, the STAC item and quicklooks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from eofusion.errors import ConfigError

Rgb = tuple[int, int, int]
# Class-id nodata of every class map eofusion writes (uint8): 0 stays a valid class id.
CLASS_NODATA = 255


@dataclass(frozen=True)
class MapClass:
    """One class of a categorical map."""

    value: int
    name: str
    colour: Rgb
    description: str = ""

    @property
    def hex(self) -> str:
        """Colour as ``#rrggbb``."""
        return "#{:02x}{:02x}{:02x}".format(*self.colour)


def parse_colour(colour: str | Iterable[int]) -> Rgb:
    """``#rrggbb`` / ``rrggbb`` / (r, g, b) -> (r, g, b)."""
    if isinstance(colour, str):
        text = colour.lstrip("#")
        if len(text) != 6:
            raise ConfigError(f"Colour {colour!r} is not #rrggbb.")
        return (int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16))
    r, g, b = (int(c) for c in colour)
    return (r, g, b)


@dataclass(frozen=True)
class MapLegend:
    """The classes of a map, in id order; ids are uint8 and never equal :data:`CLASS_NODATA`."""

    classes: tuple[MapClass, ...]

    def __post_init__(self) -> None:
        values = [c.value for c in self.classes]
        if len(set(values)) != len(values):
            raise ConfigError(f"Class ids must be unique; got {values}.")
        bad = [v for v in values if not 0 <= v < CLASS_NODATA]
        if bad:
            raise ConfigError(f"Class ids must be in 0..{CLASS_NODATA - 1} ({CLASS_NODATA} is nodata); got {bad}.")

    @classmethod
    def from_mapping(cls, table: Mapping[int, tuple[str, str | Iterable[int]]]) -> MapLegend:
        """``{id: (name, colour)}`` -> legend."""
        return cls(tuple(MapClass(int(v), name, parse_colour(c)) for v, (name, c) in sorted(table.items())))

    def name(self, value: int) -> str:
        """The name of a class id."""
        for c in self.classes:
            if c.value == value:
                return c.name
        raise KeyError(value)

    def colormap(self) -> dict[int, tuple[int, int, int, int]]:
        """A GDAL colour table (RGBA) with nodata transparent."""
        table = {c.value: (*c.colour, 255) for c in self.classes}
        table[CLASS_NODATA] = (0, 0, 0, 0)
        return table

    def names(self) -> dict[int, str]:
        """id -> name."""
        return {c.value: c.name for c in self.classes}
