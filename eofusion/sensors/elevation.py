"""Elevation layers: DSM, DTM and nDSM in metres — non-spectral bands with a kind of their own."""

from __future__ import annotations

from eofusion.sensors.model import Band, BandKind, Sensor

ELEVATION_NODATA = -9999.0


def _height_band(name: str, description: str, mean: float, std: float, res: float) -> Band:
    return Band(
        name=name,
        kind=BandKind.ELEVATION,
        resolution_m=res,
        dtype="float32",
        units="m",
        aliases=(name.upper(),),
        nodata=ELEVATION_NODATA,
        norm_mean=mean,
        norm_std=std,
        description=description,
    )


ELEVATION = Sensor(
    name="elevation",
    family="elevation",
    bands=(
        _height_band("dsm", "digital surface model: terrain + buildings + canopy, metres", 200.0, 150.0, 1.0),
        _height_band("dtm", "digital terrain model: bare earth, metres", 195.0, 150.0, 1.0),
        _height_band("ndsm", "normalised DSM: height above terrain (DSM - DTM), metres", 3.0, 6.0, 1.0),
    ),
    instrument="lidar-or-stereo",
    description="Elevation layers at ~1 m (lidar or stereo photogrammetry)",
)

COPERNICUS_DEM = Sensor(
    name="copernicus-dem",
    family="elevation",
    bands=(
        Band(
            name="dem",
            kind=BandKind.ELEVATION,
            resolution_m=30.0,
            dtype="float32",
            units="m",
            aliases=("data", "elevation", "DEM"),
            nodata=ELEVATION_NODATA,
            norm_mean=200.0,
            norm_std=150.0,
            description="Copernicus DEM GLO-30 (a surface model), metres",
        ),
    ),
    platforms=("tandem-x",),
    description="Copernicus DEM GLO-30",
)
