"""catalogs/*.yaml: every bundled source loads; bad keys and values are rejected by name."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from eofusion.catalog import list_catalog_sources, load_catalog_source, open_catalog
from eofusion.catalog.embedded import EmbeddedCatalog
from eofusion.catalog.stac_api import StacApiCatalog
from eofusion.errors import CatalogError, ConfigError

BUNDLED = ("copernicus-dataspace", "demo", "earth-search", "planetary-computer")


def test_bundled_sources_load() -> None:
    assert set(BUNDLED) <= set(list_catalog_sources())
    pc = load_catalog_source("planetary-computer")
    assert pc.kind == "stac-api" and pc.signing == "planetary-computer"
    assert pc.collections_for("s2-l2a") == ["sentinel-2-l2a"]
    assert pc.asset_map("naip") == {"image": ["red", "green", "blue", "nir"]}
    es = load_catalog_source("earth-search")
    assert es.asset_map("sentinel-2-c1-l2a")["red"] == "B04"
    assert set(es.collections_for("s2-l2a")) == {"sentinel-2-c1-l2a", "sentinel-2-l2a"}
    for name in BUNDLED:
        src = load_catalog_source(name)
        assert src.collections and src.path is not None
        for spec in src.collections.values():
            assert spec.product in {"s2-l2a", "s2-l1c", "s1-rtc", "s1-grd", "aerial", "dem", "dsm", "dtm", "landsat-l2"}
    demo = load_catalog_source("demo")
    assert demo.kind == "embedded" and Path(demo.endpoint).is_absolute()


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _valid() -> dict:
    return {
        "name": "mine",
        "kind": "stac-api",
        "endpoint": "http://127.0.0.1:9/",
        "collections": {"s2": {"product": "s2-l2a", "sensor": "sentinel-2", "assets": {"red": "B04"}}},
    }


def test_unknown_key_is_named_with_the_file(tmp_path: Path) -> None:
    data = _valid()
    data["collections"]["s2"]["asset_map"] = {}
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError, match=r"mine\.yaml(.|\n)*collections\.s2\.asset_map: unknown key"):
        load_catalog_source(path)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda d: d["collections"]["s2"].update(sensor="sentinel-9"), "No sensor 'sentinel-9'"),
        (lambda d: d["collections"]["s2"]["assets"].update(red="B99"), r"assets\.red.*no band 'B99'"),
        (lambda d: d.update(kind="ftp"), r"kind"),
        (lambda d: d.update(endpoint="ftp://x"), "must be an http"),
        (lambda d: d.update(signing="aws"), "signing"),
        (lambda d: d.pop("collections"), "collections"),
    ],
)
def test_bad_values_are_rejected(tmp_path: Path, change, match: str) -> None:  # type: ignore[no-untyped-def]
    data = _valid()
    change(data)
    with pytest.raises(ConfigError, match=match):
        load_catalog_source(_write(tmp_path, data))


def test_unknown_name_lists_known(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"No catalog source named 'nowhere'; known: .*earth-search"):
        load_catalog_source("nowhere")


def test_open_catalog_kinds(tmp_path: Path, world_parquet: Path) -> None:
    backend = open_catalog(load_catalog_source(_write(tmp_path, _valid())))
    assert isinstance(backend, StacApiCatalog)
    embedded = _valid() | {"kind": "embedded", "endpoint": str(world_parquet)}
    assert isinstance(open_catalog(_write(tmp_path, embedded)), EmbeddedCatalog)
    with pytest.raises(CatalogError, match="does not exist"):
        open_catalog(tmp_path / "absent.parquet")
    pc = load_catalog_source("planetary-computer")
    try:
        import planetary_computer  # noqa: F401
    except ImportError:
        with pytest.raises(CatalogError, match=r"eofusion\[planetary-computer\]"):
            open_catalog(pc)


def test_public_sources_ship_in_the_wheel(tmp_path: Path) -> None:
    """A wheel install (no repository around it) still knows --catalog planetary-computer and the others."""
    import subprocess
    import sys
    import zipfile

    from eofusion.catalog.sources import BUNDLED_CATALOGS

    repo = Path(__file__).resolve().parents[2]
    command = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        str(repo),
        "-w",
        str(tmp_path),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("eofusion-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {p.name for p in BUNDLED_CATALOGS.glob("*.yaml")}
    assert shipped >= {"planetary-computer.yaml", "earth-search.yaml", "copernicus-dataspace.yaml"}
    assert {f"eofusion/data/catalogs/{name}" for name in shipped} <= names
    assert load_catalog_source("planetary-computer", search_dirs=(BUNDLED_CATALOGS,)).kind == "stac-api"
