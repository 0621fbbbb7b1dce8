"""`eofusion catalog inspect | build | search | sources` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eofusion.cli import main


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.real_data
def test_inspect_json_and_table(stac_items_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    item = (
        stac_items_dir / "planetary-computer/sentinel-2-l2a/S2B_MSIL2A_20220612T182919_R027_T24XWR_20220613T123251.json"
    )
    code, out, _ = _run(capsys, "catalog", "inspect", str(item), "--json")
    assert code == 0
    data = json.loads(out)
    b04 = next(b for b in data["bands"] if b["band"] == "B04")
    assert (b04["scale"], b04["offset"], b04["crs"], b04["resolution"], b04["centre_nm"]) == (
        1e-4, pytest.approx(-0.1), "EPSG:32624", 10.0, 664.9,
    )  # fmt: skip
    assert data["sensor"] == "sentinel-2b" and data["notes"]
    code, out, _ = _run(capsys, "catalog", "inspect", str(item))
    assert code == 0 and "B04" in out and "EPSG:32624" in out and "note:" in out


@pytest.mark.real_data
def test_inspect_collection_and_grd_fail_clearly(stac_items_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "catalog", "inspect", str(stac_items_dir / "earth-search/_api/landing.json"))
    assert code == 1 and "landing page" in err
    grd = stac_items_dir / "planetary-computer/sentinel-1-grd/items-page_limit1.json"
    code, out, err = _run(capsys, "catalog", "inspect", str(grd))
    assert code == 1 and "radar geometry" in out and "could be normalised" in err


@pytest.mark.real_data
def test_build_then_search(real_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "ben"
    code, out, err = _run(
        capsys, "catalog", "build", str(real_data_dir / "bigearthnet_s1s2"), "--out", str(out_dir), "--json"
    )
    assert code == 0, err
    summary = json.loads(out)
    assert len(summary["items"]) == 12 and Path(summary["geoparquet"]).exists()
    code, out, _ = _run(
        capsys, "catalog", "search", "--catalog", summary["geoparquet"], "--datetime", "2017-06-13", "--json"
    )
    assert code == 0
    ids = [f["id"] for f in json.loads(out)["features"]]
    assert ids == ["S1A_IW_GRDH_1SDV_20170613T165043_33UUP_87_48", "S2A_MSIL2A_20170613T101031_87_48"]
    code, _, err = _run(capsys, "catalog", "build", str(real_data_dir / "bigearthnet_s1s2"), "--out", str(out_dir))
    assert code == 1 and "not empty" in err


def test_build_reports_skips(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.tif").write_text("not a raster")
    code, _, err = _run(capsys, "catalog", "build", str(tmp_path), "--out", str(tmp_path / "out"))
    assert code == 1 and "notes.tif cannot be read as a raster" in err and "--allow-skips" in err
    assert not (tmp_path / "out").exists()  # nothing written while a file is unaccounted for
    code, _, err = _run(capsys, "catalog", "build", str(tmp_path), "--on-error", "raise", "--out", str(tmp_path / "o"))
    assert code == 1 and "notes.tif" in err


def test_search_table_json_and_bad_input(
    world_parquet: Path, world: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "catalog", "search", "--catalog", str(world_parquet), "--collections", "sentinel-2-l2a",
                        "--filter", "eo:cloud_cover < 30", "--max-items", "3")  # fmt: skip
    assert code == 0 and "sentinel-2-l2a" in out and "item(s)" in out
    code, out, _ = _run(
        capsys, "catalog", "search", "--catalog", str(world_parquet), "--bbox", "14.35,46.12,14.39,46.15", "--json"
    )
    assert code == 0 and 0 < len(json.loads(out)["features"]) < len(world)
    code, _, err = _run(capsys, "catalog", "search", "--catalog", str(world_parquet), "--bbox", "14,46,13")
    assert code == 1 and "four finite numbers" in err
    code, _, err = _run(capsys, "catalog", "search", "--catalog", str(world_parquet), "--datetime", "soon")
    assert code == 1 and "RFC 3339" in err
    code, _, err = _run(capsys, "catalog", "search", "--catalog", str(world_parquet), "--collections", "nope")
    assert code == 1 and "not in catalog" in err
    code, _, err = _run(capsys, "catalog", "search", "--catalog", str(world_parquet), "--datetime", "1990")
    assert code == 0 and "No items match" in err


def test_sources(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "catalog", "sources", "--json")
    assert code == 0 and {"planetary-computer", "earth-search", "copernicus-dataspace", "demo"} <= {
        s["name"] for s in json.loads(out)
    }


@pytest.mark.real_data
def test_inspect_url(stac_items_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(stac_items_dir)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/planetary-computer/sentinel-1-rtc/items-list-4_2024-04.json"
        code, out, _ = _run(capsys, "catalog", "inspect", url, "--json")
    finally:
        server.shutdown()
        server.server_close()
    assert code == 0
    data = json.loads(out)
    assert len(data) == 4 and all(d["sensor"] == "sentinel-1" for d in data)
    assert {b["band"] for b in data[0]["bands"]} == {"VV", "VH"}


def test_search_api_failure_is_bounded(capsys: pytest.CaptureFixture[str]) -> None:
    from catalog_server import FailingServer

    with FailingServer(503) as server:
        code, _, err = _run(capsys, "catalog", "search", "--catalog", server.url, "--retries", "1", "--timeout", "2")
    assert code == 1 and "after up to 1 retries" in err and len(server.requests) == 2
