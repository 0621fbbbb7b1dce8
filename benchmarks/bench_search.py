"""Embedded catalog search: bbox + datetime over 1k / 10k / 100k synthetic items in a stac-geoparquet file.

Prints, per catalog size: time to open the catalog (reads the id/bbox/time/geometry columns), the median
query time of eofusion's embedded search, and the same query done naively (a Python loop over the item
dicts testing shapely intersection and time overlap) for comparison.

    python benchmarks/bench_search.py [--sizes 1000,10000,100000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import shapely.geometry

from eofusion.catalog import EmbeddedCatalog, make_query, write_geoparquet

START = datetime(2020, 1, 1, tzinfo=UTC)
SPAN_S = 5 * 365 * 86400
QUERY = {"bbox": (11.0, 45.0, 12.5, 46.5), "datetime": "2023-04-01/2023-06-30"}


def synthetic_items(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """Sentinel-2-like items: ~1 degree tiles over Europe, five years of acquisitions."""
    rng = np.random.default_rng(seed)
    lon = rng.uniform(-10, 30, n)
    lat = rng.uniform(35, 60, n)
    seconds = rng.integers(0, SPAN_S, n)
    cloud = rng.uniform(0, 100, n)
    items = []
    for i in range(n):
        w, s, e, nn = float(lon[i]), float(lat[i]), float(lon[i]) + 1.0, float(lat[i]) + 0.9
        when = START + timedelta(seconds=int(seconds[i]))
        items.append(
            {
                "type": "Feature",
                "stac_version": "1.0.0",
                "stac_extensions": [],
                "id": f"S2B_SYN_{i:07d}",
                "collection": "sentinel-2-l2a",
                "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, nn], [w, nn], [w, s]]]},
                "bbox": [w, s, e, nn],
                "properties": {
                    "datetime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "platform": "sentinel-2b",
                    "eo:cloud_cover": round(float(cloud[i]), 2),
                    "proj:epsg": 32633,
                },
                "links": [],
                "assets": {
                    "B04": {"href": f"https://example.invalid/{i}/B04.tif", "type": "image/tiff", "roles": ["data"]}
                },
            }
        )
    return items


def naive_search(items: list[dict[str, Any]]) -> list[str]:
    """The obvious loop: what a script without an index would do."""
    query = make_query(**QUERY)
    area = shapely.box(*query.bbox)  # type: ignore[misc]
    lo, hi = query.interval  # type: ignore[misc]
    hits = []
    for item in items:
        when = datetime.fromisoformat(item["properties"]["datetime"])
        if lo <= when <= hi and shapely.geometry.shape(item["geometry"]).intersects(area):
            hits.append(item["id"])
    return hits


def timed(fn: Any, repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"query: bbox={QUERY['bbox']} datetime={QUERY['datetime']}  (median of {args.repeat} runs)")
    print(
        f"{'items':>8} {'matches':>8} {'write s':>8} {'open s':>8} {'1st q ms':>9} {'query ms':>9} {'naive ms':>9} "
        f"{'speed-up':>9}"
    )
    query = make_query(**QUERY)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            items = synthetic_items(n)
            path = Path(tmp) / f"items_{n}.parquet"
            t0 = time.perf_counter()
            write_geoparquet(items, path)
            write_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            catalog = EmbeddedCatalog.open(path)
            open_s = time.perf_counter() - t0
            first_s, _ = timed(lambda c=catalog: c.search(query), 1)  # includes the lazy read of matched rows
            query_s, found = timed(lambda c=catalog: c.search(query), args.repeat)
            naive_s, expected = timed(lambda it=items: naive_search(it), max(1, args.repeat // 3))
            ids = sorted(i.id for i in found)
            if ids != sorted(expected):
                raise SystemExit(f"embedded search and the naive loop disagree at n={n}")
            rows.append((n, query_s))
            print(
                f"{n:>8} {len(found):>8} {write_s:>8.2f} {open_s:>8.3f} {first_s * 1e3:>9.1f} {query_s * 1e3:>9.2f} "
                f"{naive_s * 1e3:>9.1f} {naive_s / query_s:>8.0f}x"
            )
    if len(rows) > 1:
        (n0, t0_), (n1, t1_) = rows[0], rows[-1]
        print(f"query time grows {t1_ / t0_:.1f}x for {n1 / n0:.0f}x more items")


if __name__ == "__main__":
    main()
