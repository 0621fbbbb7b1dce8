"""Physical plausibility per class, the S2 truth contract, and geometric agreement between sensors."""

from __future__ import annotations

from datetime import date

import numpy as np
import rasterio
from affine import Affine
from odc.geo.geobox import GeoBox
from rasterio.warp import Resampling, reproject
from scipy import ndimage

from eofusion.simulate import DemoWorld
from eofusion.simulate.classes import CROP, LC
from eofusion.simulate.products import COLLECTIONS

SUMMER = date(2024, 7, 21)
SPRING = date(2024, 4, 17)
CLOUDY = date(2024, 8, 20)


def _item_dir(world: DemoWorld, collection: str, when: date, orbit: str | None = None) -> str:
    for item in world.stac_items(collection):
        assert item.datetime is not None
        if item.datetime.date() == when and (orbit is None or item.properties["sat:orbit_state"] == orbit):
            return str(next(iter(item.assets.values())).get_absolute_href()).rsplit("/", 1)[0]
    raise AssertionError(f"no {collection} item on {when}")


def _read(path: str) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1)


def _reflectance(world: DemoWorld, band: str, when: date) -> np.ndarray:
    dn = _read(f"{_item_dir(world, COLLECTIONS['s2'], when)}/{band}.tif").astype(np.float64)
    return dn * 1e-4 - 0.1


def _pure(world: DemoWorld, grid: GeoBox, cls: int) -> np.ndarray:
    """Pixels whose whole area (4 x 4 sub-pixels) is of one class."""
    sub = 4
    fine = GeoBox((grid.shape[0] * sub, grid.shape[1] * sub), grid.affine @ Affine.scale(1 / sub), grid.crs)
    labels = world.rasterize_landcover(fine) == cls
    return labels.reshape(grid.shape[0], sub, grid.shape[1], sub).all(axis=(1, 3))


def test_s2_files_encode_the_simulator_truth(world: DemoWorld) -> None:
    for when in (SPRING, CLOUDY):
        for band in ("B04", "B8A", "B01"):
            truth = world.s2_reflectance(band, when)
            stored = _reflectance(world, band, when)
            assert truth.shape == stored.shape
            assert np.abs(stored - truth).max() <= 1e-4


def test_summer_vegetation_ndvi(world: DemoWorld) -> None:
    g = world.grids["s2_10m"]
    red, nir = _reflectance(world, "B04", SUMMER), _reflectance(world, "B08", SUMMER)
    ndvi = (nir - red) / (nir + red)
    crops = world.rasterize_crops(g)
    summer_crops = np.isin(crops, [CROP["maize"], CROP["sunflower"], CROP["soybean"]])
    for name, mask in (
        ("deciduous", _pure(world, g, LC["deciduous"])),
        ("coniferous", _pure(world, g, LC["coniferous"])),
        ("summer crops", summer_crops & _pure(world, g, LC["agricultural land"])),
    ):
        if mask.sum() >= 3:
            assert np.median(ndvi[mask]) > 0.5, name
    assert (_pure(world, g, LC["deciduous"]) | summer_crops).sum() >= 3


def test_water_is_dark_in_nir_and_in_radar(world: DemoWorld) -> None:
    g = world.grids["s2_10m"]
    water = _pure(world, g, LC["water"])
    assert water.sum() >= 5
    assert np.median(_reflectance(world, "B08", SUMMER)[water]) < 0.05
    vv = _read(f"{_item_dir(world, COLLECTIONS['s1'], date(2024, 7, 24), 'ascending')}/vv.tif")
    water_s1 = _pure(world, world.grids["s1"], LC["water"])
    assert 10 * np.log10(np.median(vv[water_s1])) < -15
    assert 10 * np.log10(np.median(vv[~water_s1])) > -15


def test_speckle_has_the_stated_number_of_looks(world: DemoWorld) -> None:
    vv = _read(f"{_item_dir(world, COLLECTIONS['s1'], date(2024, 7, 24), 'ascending')}/vv.tif")
    forest = _pure(world, world.grids["s1"], LC["coniferous"]) | _pure(world, world.grids["s1"], LC["deciduous"])
    v = vv[forest]
    enl = v.mean() ** 2 / v.var()  # equivalent number of looks of a homogeneous area
    assert 0.6 * world.config.s1_looks < enl < 1.3 * world.config.s1_looks


def test_summer_crops_grow_in_vh(world: DemoWorld) -> None:
    g = world.grids["s1"]
    crops = np.isin(world.rasterize_crops(g), [CROP["maize"], CROP["sunflower"], CROP["soybean"]])
    crops &= _pure(world, g, LC["agricultural land"])
    if crops.sum() < 10:
        return
    april = _read(f"{_item_dir(world, COLLECTIONS['s1'], date(2024, 4, 7), 'ascending')}/vh.tif")
    july = _read(f"{_item_dir(world, COLLECTIONS['s1'], date(2024, 7, 24), 'ascending')}/vh.tif")
    assert 10 * np.log10(july[crops].mean() / april[crops].mean()) > 1.5


def test_clouds_are_marked_in_scl(world: DemoWorld) -> None:
    cloudy = _read(f"{_item_dir(world, COLLECTIONS['s2'], CLOUDY)}/SCL.tif")
    clear = _read(f"{_item_dir(world, COLLECTIONS['s2'], SUMMER)}/SCL.tif")
    assert np.isin(clear, [3, 8, 9, 10]).mean() == 0
    assert np.isin(cloudy, [8, 9]).mean() > 0.05
    blue = _reflectance(world, "B02", CLOUDY)
    high = np.kron(cloudy == 9, np.ones((2, 2), dtype=bool))  # 20 m SCL -> 10 m
    assert np.median(blue[high]) > 0.3


def test_buildings_stand_above_the_terrain(world: DemoWorld) -> None:
    d = _item_dir(world, COLLECTIONS["elevation"], world.aerial_date)
    dsm, dtm = _read(f"{d}/dsm.tif"), _read(f"{d}/dtm.tif")
    assert (dsm == -9999).any() and (dsm[dsm != -9999] > 0).all()
    assert np.array_equal(dsm == -9999, dtm == -9999)
    buildings = ndimage.binary_erosion(world.rasterize_landcover(world.grids["dsm"]) == LC["building"])
    height = dsm[buildings] - dtm[buildings]
    assert buildings.sum() > 50 and (height > 2.0).all()


def test_footprints_coincide_across_aerial_dsm_and_truth(world: DemoWorld) -> None:
    """Roofs seen in the aerial image and in the DSM, reprojected to a UTM 1 m grid, sit on the labels."""
    from eofusion.simulate.scene import Material

    feats = world.features
    tile = feats[(feats["class_id"] == LC["building"]) & (feats["material"] == Material.ROOF_TILE)]
    x0, y0, x1, y1 = tile.total_bounds
    target = GeoBox(
        (int(y1 - y0) + 20, int(x1 - x0) + 20),
        Affine(1, 0, np.floor(x0) - 10, 0, -1, np.ceil(y1) + 10),
        world.config.world_crs,
    )

    def warp(path: str, band: int) -> np.ndarray:
        out = np.zeros(target.shape, dtype=np.float32)
        with rasterio.open(path) as src:
            reproject(rasterio.band(src, band), out, dst_transform=target.affine, dst_crs=str(target.crs),
                      resampling=Resampling.average if src.res[0] < 1 else Resampling.bilinear)  # fmt: skip
        return out

    aerial = str(next(iter(world.stac_items(COLLECTIONS["aerial"])[0].assets.values())).get_absolute_href())
    red, green, nir = warp(aerial, 1), warp(aerial, 2), warp(aerial, 4)
    roof_aerial = red > 1.35 * green
    trees = nir > 1.5 * red  # tall vegetation next to a house is not the house
    d = _item_dir(world, COLLECTIONS["elevation"], world.aerial_date)
    ndsm = warp(f"{d}/dsm.tif", 1) - warp(f"{d}/dtm.tif", 1)
    truth = world.rasterize_landcover(target) == LC["building"]
    labels, _ = ndimage.label(truth)
    offsets_aerial, offsets_dsm = [], []
    for k, box in enumerate(ndimage.find_objects(labels), start=1):
        region = tuple(slice(max(s.start - 4, 0), s.stop + 4) for s in box)
        mine = labels[region] == k
        if mine.sum() < 40:
            continue
        grown = ndimage.binary_dilation(mine, iterations=2)  # neighbours can stand 2 m away
        c_truth = np.array(ndimage.center_of_mass(mine))
        seen_aerial = roof_aerial[region] & grown
        # Half the roof height marks the edge (a 50 % covered pixel), like the labels' pixel-centre rule.
        half_height = 0.5 * np.median(ndsm[region][mine])
        seen_dsm = (ndsm[region] > half_height) & ~trees[region] & grown
        if seen_aerial.sum() > 0.5 * mine.sum():
            offsets_aerial.append(np.hypot(*(np.array(ndimage.center_of_mass(seen_aerial)) - c_truth)))
        offsets_dsm.append(np.hypot(*(np.array(ndimage.center_of_mass(seen_dsm)) - c_truth)))
    assert len(offsets_aerial) >= 5 and len(offsets_dsm) >= 5
    dsm_pixel = world.config.dsm_resolution_m  # target pixels are 1 m
    # The DSM is discretised twice (burnt on its Lambert-93 grid, then warped to UTM): a single building
    # can be off by a little more than one pixel, the bulk must be well within one.
    for offsets in (offsets_aerial, offsets_dsm):
        assert np.median(offsets) < 0.5 * dsm_pixel
        assert np.percentile(offsets, 95) < dsm_pixel
        assert max(offsets) < 1.5 * dsm_pixel


def test_crop_calendars_show_in_sentinel2(world: DemoWorld) -> None:
    """Winter cereals are green in April and harvested by late July; summer crops the other way round."""
    g = world.grids["s2_10m"]
    crops = world.rasterize_crops(g) * _pure(world, g, LC["agricultural land"])

    def ndvi(when: date) -> np.ndarray:
        red, nir = _reflectance(world, "B04", when), _reflectance(world, "B08", when)
        return (nir - red) / (nir + red)

    spring, summer = ndvi(SPRING), ndvi(SUMMER)
    winter = np.isin(crops, [CROP["soft wheat"], CROP["winter barley"], CROP["rapeseed"]])
    summer_crops = np.isin(crops, [CROP["maize"], CROP["sunflower"], CROP["soybean"]])
    assert winter.sum() >= 5 and summer_crops.sum() >= 5
    assert np.median(spring[winter]) > np.median(summer[winter]) + 0.3
    assert np.median(summer[summer_crops]) > np.median(spring[summer_crops]) + 0.3


def test_bare_soil_backscatter_follows_soil_moisture(world: DemoWorld) -> None:
    """Early April is wet, late July dry: bare and sparsely covered soil is brighter in VV in spring."""
    g = world.grids["s1"]
    summer_crops = np.isin(world.rasterize_crops(g), [CROP["maize"], CROP["sunflower"], CROP["soybean"]])
    bare_in_april = summer_crops & _pure(world, g, LC["agricultural land"])  # sown in May
    april = _read(f"{_item_dir(world, COLLECTIONS['s1'], date(2024, 4, 7), 'ascending')}/vv.tif")
    assert 10 * np.log10(april[bare_in_april].mean()) > -13.0
