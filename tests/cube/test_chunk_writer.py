"""eofusion's direct chunk writer (ChunkFiles.write) against zarr's own writes: the same files, byte for byte."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr
from zarr.codecs import BloscCodec

from eofusion.cube.chunks import ChunkFiles
from eofusion.errors import ConfigError

SHAPE = (2, 3, 600, 520)  # edge chunks on both axes (600 = 2 x 256 + 88, 520 = 2 x 256 + 8)


def _array(root: Path, dtype: str, fill: float | int) -> zarr.Array:
    return zarr.create_array(
        store=str(root), name="s2/data", shape=SHAPE, chunks=(1, 3, 256, 256), dtype=dtype, fill_value=fill,
        compressors=(BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"),), zarr_format=3,
    )  # fmt: skip


def _files(root: Path) -> dict[str, bytes]:
    base = root / "s2" / "data" / "c"
    return {str(p.relative_to(base)): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(("dtype", "fill"), [("float32", float("nan")), ("uint16", 0)])
def test_direct_writes_are_zarrs_files_byte_for_byte(tmp_path: Path, dtype: str, fill: float) -> None:
    rng = np.random.default_rng(0)
    data = rng.uniform(1, 5000, SHAPE).astype(dtype)
    data[0, :, :256, 256:512] = fill  # one chunk of no data only: neither writer stores it
    data[1, 1, 300:, :] = fill  # partly empty chunks are stored
    by_zarr, direct = tmp_path / "zarr.zarr", tmp_path / "direct.zarr"
    _array(by_zarr, dtype, fill)[:] = data
    files = ChunkFiles.of(str(direct), "s2", _array(direct, dtype, fill))
    assert files is not None and files.compress is not None
    for t in range(SHAPE[0]):  # as a build writes it: one Dask block (here 512 px, edges shorter) at a time
        for r in range(0, SHAPE[2], 512):
            for c in range(0, SHAPE[3], 512):
                files.write(t, r, c, data[t : t + 1, :, r : r + 512, c : c + 512])
    want, got = _files(by_zarr), _files(direct)
    assert "0/0/0/1" not in want and len(want) == 2 * 3 * 3 - 1
    assert got.keys() == want.keys() and got == want
    read_back = zarr.open_array(str(direct), path="s2/data", mode="r")[:]
    np.testing.assert_array_equal(read_back, data)
    assert not list(direct.rglob("*.partial"))  # temporary names were all renamed

    # A chunk rewritten as no data only is removed, as zarr does (its readers then see the fill value).
    files.write(1, 0, 0, np.full((1, 3, 256, 256), fill, dtype=dtype))
    assert "1/0/0/0" not in _files(direct)


def test_regions_that_are_not_whole_chunks_are_refused(tmp_path: Path) -> None:
    files = ChunkFiles.of(str(tmp_path / "c.zarr"), "s2", _array(tmp_path / "c.zarr", "float32", float("nan")))
    assert files is not None
    with pytest.raises(ConfigError, match="not whole chunks"):
        files.write(0, 128, 0, np.zeros((1, 3, 256, 256), dtype="float32"))
    with pytest.raises(ConfigError, match="not whole chunks"):
        files.write(0, 0, 0, np.zeros((1, 2, 256, 256), dtype="float32"))  # a band subset
