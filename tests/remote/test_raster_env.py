"""GeoTIFFs read from a bucket through eofusion's rasterio environment: credentialed, one session per process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from eofusion.storage import cloud_read_options, open_raster, raster_env


def test_a_geotiff_in_a_bucket_reads_as_on_disk_with_one_aws_session(
    s3_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    for key, value in cloud_read_options().items():  # GDAL's names for the server's endpoint (AWS_S3_ENDPOINT...)
        monkeypatch.setenv(key, value)
    values = np.arange(64 * 64, dtype="uint16").reshape(64, 64)
    local = tmp_path / "band.tif"
    profile = {"driver": "GTiff", "width": 64, "height": 64, "count": 1, "dtype": "uint16", "crs": "EPSG:32631"}
    with rasterio.open(local, "w", transform=from_origin(400000, 4800000, 10, 10), **profile) as out:
        out.write(values, 1)
    s3_env.create_bucket("rasters")
    s3_env.client().upload_file(str(local), "rasters", "band.tif")

    href = "s3://rasters/band.tif"
    first, second = raster_env(href).session, raster_env(href).session
    assert first is second and first.credentials["aws_access_key_id"] == "testing"  # built once, from the env
    assert raster_env(str(local)).session is not first  # a local file gets no AWS session
    with raster_env(href), open_raster(href) as src:
        assert src.crs == "EPSG:32631" and np.array_equal(src.read(1), values)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "rotated")  # other credentials: another session
    assert raster_env(href).session is not first
