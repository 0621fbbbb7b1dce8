from __future__ import annotations

import re

import eofusion.simulate as sim
from eofusion.simulate import CROP_TYPES, LANDCOVER_CLASSES, LANDCOVER_NODATA, landcover_colormap


def test_class_tables_are_consistent_and_documented() -> None:
    ids = [c.id for c in LANDCOVER_CLASSES]
    assert len(set(ids)) == len(ids) and LANDCOVER_NODATA not in ids and max(ids) < 256
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c.colour) for c in LANDCOVER_CLASSES)
    assert landcover_colormap()[LANDCOVER_NODATA][3] == 0
    doc = sim.__doc__ or ""
    for c in LANDCOVER_CLASSES:
        assert re.search(rf"\b{c.id}\s+{c.name}\s+{c.colour}", doc), c.name
    assert len({c.id for c in CROP_TYPES}) == len(CROP_TYPES)
