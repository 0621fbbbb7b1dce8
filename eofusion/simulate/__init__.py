"""The demo world: a seeded scene simulator rendering Sentinel-2, Sentinel-1, aerial and DSM/DTM as COGs
with STAC items, plus the ground truth to score against.

The world is vectors (parcels, woods, water, roads, buildings) and smooth fields (terrain, soil moisture,
clouds, tree crowns) in one projected CRS (the UTM zone of its centre; default: the Lauragais near
Toulouse, EPSG:32631). Each sensor's grid is rasterised from them, window by window, so all sensors agree
geometrically and memory does not grow with the area::

    from eofusion.simulate import WorldConfig, simulate_world, load_world
    world = simulate_world(WorldConfig(seed=0), "demo/world")
    truth = world.rasterize_landcover(world.grids["s2_10m"])      # labels on any grid
    red = world.s2_reflectance("B04", world.s2_dates[0])           # what B04.tif encodes

Output layout (``world.json`` marks a finished world)::

    world.json                       config, digest, eofusion version
    catalog.parquet                  stac-geoparquet of every item (hrefs relative to this folder)
    catalog/catalog.json             static STAC catalog, self-contained, relative hrefs
    catalog/sentinel-2-l2a/<id>/     B01..B12 (uint16, DN = 1e4 * reflectance + 1000), SCL (20 m)
    catalog/sentinel-1-rtc/<id>/     vv.tif, vh.tif (float32 linear gamma0, NaN nodata)
    catalog/aerial-ign/<id>/         image.tif (RGBN uint8, EPSG:2154)
    catalog/elevation/<id>/          dsm.tif, dtm.tif (float32 m, EPSG:2154, nodata -9999)
    catalog/landcover/<id>/          landcover.tif (uint8, EPSG:2154, 0 = nodata)
    catalog/landsat-c2-l2/<id>/      SR_B1..SR_B7 (uint16, DN * 2.75e-5 - 0.2), QA_PIXEL (30 m UTM)  [landsat]
    catalog/aerial-naip/<id>/        image.tif (RGBN uint8, NAIP's band responses, UTM)             [naip]
    truth/features.parquet           all vector features; truth/parcels.parquet crop parcels
    truth/classes.json               the class tables

Land-cover classes (:data:`LANDCOVER_CLASSES`, uint8, FLAIR-1 ids; 0 = nodata/unknown, ignore it)::

    id  name                   colour   covers
     1  building               #c8323c  roofs of houses, farm buildings and sheds
     2  pervious surface       #b4aaa0  gravel yards and unpaved tracks
     3  impervious surface     #505055  roads, car parks, concrete yards
     4  bare soil              #a0785a  earthworks and bare ground outside fields
     5  water                  #1e64c8  lake and stream
     6  coniferous             #145028  evergreen needle-leaf woodland
     7  deciduous              #3ca03c  broad-leaf woodland and riparian trees
     8  brushwood              #8c9b3c  scrub and garrigue
     9  vineyard               #8c3c8c  vine rows on bare inter-rows
    10  herbaceous vegetation  #a0dc78  meadows, verges, field margins and gardens
    11  agricultural land      #f0dc64  annual crop parcels (see the crop table)
    12  plowed land            #d2aa78  parcels left bare and tilled this season
    13  swimming pool          #32c8e6  garden pools

Crop types of the parcels (:data:`CROP_TYPES`; 0 = not a crop parcel)::

     1  soft wheat     winter
     2  winter barley  winter
     3  rapeseed       winter
     4  maize          summer
     5  sunflower      summer
     6  soybean        summer
     7  grassland      perennial
     8  vineyard       perennial

Sensors: Sentinel-2 L2A on the UTM grid (B01-B12 without B10, native 10/20/60 m, uint16 DN with the
baseline >= 04.00 offset, SCL at 20 m; reflectance from per-material spectra through each band's
spectral response from the registry, clouds and shadows on the cloudy dates); Sentinel-1 RTC VV/VH on the
UTM 10 m grid (float32 linear gamma0, ascending and descending, water-cloud model driven by crop growth and
soil moisture, gamma speckle with ``s1_looks`` looks); aerial RGBN uint8 (gamma-encoded) and DSM/DTM
float32 metres in Lambert-93 (EPSG:2154), as IGN serves them. Two sensors held out from training, to
measure generalisation to unseen sensors (``WorldConfig.landsat`` / ``naip``, on by default): Landsat 8/9
OLI surface reflectance (B1-B7 at 30 m on the Sentinel-2 dates and clouds, registry spectral responses)
and an aerial camera with NAIP's band responses (``naip_resolution_m``, UTM, on the aerial date).
"""

from eofusion.simulate.build import WorldBuild, plan_world
from eofusion.simulate.classes import (
    CROP_NODATA,
    CROP_TYPES,
    LANDCOVER_CLASSES,
    LANDCOVER_NODATA,
    CropType,
    LandCoverClass,
    landcover_colormap,
)
from eofusion.simulate.config import WorldConfig
from eofusion.simulate.world import DemoWorld, as_geobox, load_world, simulate_world

__all__ = [
    "CROP_NODATA",
    "CROP_TYPES",
    "LANDCOVER_CLASSES",
    "LANDCOVER_NODATA",
    "CropType",
    "DemoWorld",
    "LandCoverClass",
    "WorldBuild",
    "WorldConfig",
    "as_geobox",
    "landcover_colormap",
    "load_world",
    "plan_world",
    "simulate_world",
]
