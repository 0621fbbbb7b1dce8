"""Smooth continuous fields of the world, evaluated at any coordinates of the world CRS.

Every field is a pure function of (x, y) and the seed — no stored grid — so any sensor grid, any window
and any resolution sees the same terrain, soil moisture, clouds and tree crowns. That is what keeps the
sensors geometrically consistent and lets rendering proceed window by window.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

_P1 = np.uint64(0x9E3779B97F4A7C15)
_P2 = np.uint64(0xC2B2AE3D27D4EB4F)
_P3 = np.uint64(0x165667B19E3779F9)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def hash_uniform(ix: npt.NDArray[np.int64], iy: npt.NDArray[np.int64], key: int) -> FloatArray:
    """A uniform [0, 1) number per integer lattice point and key (splitmix64-style mixing)."""
    with np.errstate(over="ignore"):
        h = ix.astype(np.int64).view(np.uint64) * _P1
        h ^= iy.astype(np.int64).view(np.uint64) * _P2
        h ^= np.uint64(key & 0xFFFFFFFFFFFFFFFF) * _P3
        h ^= h >> np.uint64(30)
        h *= _M1
        h ^= h >> np.uint64(27)
        h *= _M2
        h ^= h >> np.uint64(31)
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def field_key(seed: int, name: str) -> int:
    """A stable integer key for one named field of one seed (independent of Python's hash salt)."""
    k = seed * 1_000_003
    for ch in name:
        k = (k * 131 + ord(ch)) % (1 << 61)
    return k


def value_noise(x: FloatArray, y: FloatArray, scale: float, key: int) -> FloatArray:
    """Smooth lattice noise in [-1, 1] with features of size ``scale`` (metres)."""
    gx, gy = x / scale, y / scale
    fx, fy = np.floor(gx), np.floor(gy)
    ix, iy = fx.astype(np.int64), fy.astype(np.int64)
    tx, ty = gx - fx, gy - fy
    tx = tx * tx * (3 - 2 * tx)
    ty = ty * ty * (3 - 2 * ty)
    v00 = hash_uniform(ix, iy, key)
    v10 = hash_uniform(ix + 1, iy, key)
    v01 = hash_uniform(ix, iy + 1, key)
    v11 = hash_uniform(ix + 1, iy + 1, key)
    top = v00 + (v10 - v00) * tx
    bottom = v01 + (v11 - v01) * tx
    return 2.0 * (top + (bottom - top) * ty) - 1.0


def fbm(x: FloatArray, y: FloatArray, scale: float, key: int, *, octaves: int = 4, gain: float = 0.5) -> FloatArray:
    """Fractal sum of :func:`value_noise` octaves, normalised to about [-1, 1]."""
    total = np.zeros(np.broadcast(x, y).shape)
    amp, norm = 1.0, 0.0
    for o in range(octaves):
        total += amp * value_noise(x, y, scale / 2**o, key + 7919 * o)
        norm += amp
        amp *= gain
    return total / norm


def terrain(x: FloatArray, y: FloatArray, seed: int) -> FloatArray:
    """Bare-earth elevation in metres: gentle Lauragais hills (about 170-230 m)."""
    hills = fbm(x, y, 900.0, field_key(seed, "terrain"), octaves=4)
    return 200.0 + 35.0 * hills


def moisture_anomaly(x: FloatArray, y: FloatArray, seed: int) -> FloatArray:
    """Spatial soil-moisture anomaly in m3/m3 (about +-0.05), wetter in hollows."""
    return 0.04 * fbm(x, y, 350.0, field_key(seed, "moisture"), octaves=3)


def texture(x: FloatArray, y: FloatArray, seed: int, scale: float, name: str) -> FloatArray:
    """Fine multiplicative texture in [-1, 1] (within-field variability, canopy heterogeneity)."""
    return fbm(x, y, scale, field_key(seed, name), octaves=3)


def cloud_optical(x: FloatArray, y: FloatArray, seed: int, day: int, threshold: float) -> FloatArray:
    """Cloud fraction in [0, 1] for one date: thresholded fractal noise with soft edges."""
    n = fbm(x, y, 700.0, field_key(seed, f"cloud{day}"), octaves=5, gain=0.55)
    return np.clip((n - threshold) / 0.18, 0.0, 1.0)


def crowns(
    x: FloatArray, y: FloatArray, seed: int, *, spacing: float, height: tuple[float, float], conical: bool
) -> FloatArray:
    """Canopy surface height (m above ground) of trees on a jittered lattice; 0 between crowns.

    Each lattice cell holds one tree, centred in the middle 60 % of its cell, with a crown radius of at
    most 0.7 cell: a point can only be reached by the trees of its own cell and of the neighbours on its
    nearer side in x and y, so 2 x 2 cells are checked, exactly. Conifers are cones, broad-leaves
    half-ellipsoids; a point sees the highest crown.
    """
    key = field_key(seed, "crowns-conical" if conical else "crowns-round")
    gx, gy = x / spacing, y / spacing
    cx0, cy0 = np.floor(gx).astype(np.int64), np.floor(gy).astype(np.int64)
    sx = np.where(gx - cx0 < 0.5, -1, 1)
    sy = np.where(gy - cy0 < 0.5, -1, 1)
    out = np.zeros(np.broadcast(x, y).shape)
    h_lo, h_hi = height
    for di in (0, 1):
        for dj in (0, 1):
            ix, iy = cx0 + di * sx, cy0 + dj * sy
            # One 53-bit hash per tree, split into four 13-bit uniforms (position, radius, height).
            bits = (hash_uniform(ix, iy, key) * float(1 << 52)).astype(np.int64)
            u, v, w, z = (((bits >> (13 * i)) & 0x1FFF) / 8192.0 for i in range(4))
            tx = (ix + 0.2 + 0.6 * u) * spacing
            ty = (iy + 0.2 + 0.6 * v) * spacing
            radius = spacing * (0.45 + 0.25 * w)
            top = h_lo + (h_hi - h_lo) * z
            d = np.hypot(x - tx, y - ty) / radius
            inside = d < 1.0
            if conical:
                depth = 0.7 * top
                h = top - depth * d
            else:
                depth = 0.45 * top
                h = top - depth * (1.0 - np.sqrt(np.clip(1.0 - d * d, 0.0, 1.0)))
            out = np.where(inside, np.maximum(out, h), out)
    return out


def sampled(
    fn: Callable[[FloatArray, FloatArray], FloatArray], x: FloatArray, y: FloatArray, stride: int
) -> FloatArray:
    """``fn(x, y)`` evaluated every ``stride`` pixels of a 2-D grid and bilinearly interpolated between.

    Smooth fields (terrain, moisture, broad texture) vary over tens of metres: evaluating them at every
    0.2 m pixel would cost far more than it changes.
    """
    rows, cols = x.shape
    if stride <= 1 or rows < 2 or cols < 2:
        return fn(x, y)
    rl = np.unique(np.append(np.arange(0, rows, stride), rows - 1))
    cl = np.unique(np.append(np.arange(0, cols, stride), cols - 1))
    values = fn(x[np.ix_(rl, cl)], y[np.ix_(rl, cl)]).astype(np.float32)  # smooth: float32 is plenty
    return lattice_interp(values, rl, cl, rows, cols)


def lattice_interp(
    v: npt.NDArray[np.floating], rl: npt.NDArray[np.int64], cl: npt.NDArray[np.int64], rows: int, cols: int
) -> FloatArray:
    """Values at lattice rows ``rl`` x columns ``cl`` -> every pixel of a rows x cols grid, bilinearly.

    Separable: first along columns on the few lattice rows, then along rows (two full-size passes).
    """
    ci = np.clip(np.searchsorted(cl, np.arange(cols), side="right") - 1, 0, len(cl) - 2)
    tc = (np.arange(cols) - cl[ci]) / (cl[ci + 1] - cl[ci])
    across = v[:, ci] * (1 - tc) + v[:, ci + 1] * tc  # [len(rl), cols]
    ri = np.clip(np.searchsorted(rl, np.arange(rows), side="right") - 1, 0, len(rl) - 2)
    tr = ((np.arange(rows) - rl[ri]) / (rl[ri + 1] - rl[ri]))[:, None]
    lower = across[ri]
    return lower + (across[ri + 1] - lower) * tr


def stride_for(feature_m: float, res_m: float) -> int:
    """Sampling stride (pixels) that keeps ~8 samples across the finest feature of a smooth field."""
    return max(1, int(feature_m / 8.0 / res_m))
