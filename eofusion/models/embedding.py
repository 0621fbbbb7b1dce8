"""From each sensor's pixels to tokens on one shared ground grid: cells, spectral embedding, time pooling.

Decision: how sensors of different ground sampling distance share the token grid.
    A token covers the same GROUND square for every sensor (``token_m``, e.g. 40 m), not the same number
    of pixels. Each sensor's image is resampled, by area averaging, to ``q x q`` cells per token
    (``q = patch_px``): a 10 m S2 chip at 40 m tokens with q = 4 passes unchanged; a 1 m DSM averages
    10 x 10 pixels per cell; 0.2 m aerial 50 x 50; 30 m Landsat cells each take the 1-2 pixels they
    overlap. With every sensor on the same token grid, one 2-D position embedding serves all of them,
    co-located tokens can be pooled into one and swapped (mixup), and any GSD works without a
    per-resolution patch size or retraining.
    Why not native patch sizes (a 40 m aerial token = 200 x 200 px)? The patch projection would need
    weights for 40,000 pixels per band and a different shape for every GSD. The price of cells is that
    detail finer than ``token_m / q`` is not seen as a mean value; so each cell also carries the
    standard deviation of the pixels it averages, which keeps sub-cell texture (roof edges, canopy
    gaps, field boundaries) for high-resolution sensors. Users who need a finer map lower ``token_m``
    (cost grows with the number of tokens, 1 / token_m^2).

Spectral embedding (:class:`SpectralPatchEmbed`): band c's cell features x_c (``2 q^2`` values: means
and standard deviations) map to D dims by ``W_c x_c + b_c`` with ``W_c = sum_k a_k(d_c) W_k``: a small
MLP turns the band descriptor d_c into K mixing coefficients over K learned basis projections (a
DOFA-like hypernetwork whose output is low-rank in band space). The token is the mean over the bands
present, computed as one matmul over all bands at once, so it is defined for any non-empty subset and does
not depend on band order. Nothing is indexed by band position or by a table of wavelength ranges.

Time (:class:`TemporalPool`): each date is embedded separately; an L-TAE-like multi-head attention with a
learned query per head and day-of-year encodings in the keys pools the dates of each token, ignoring
dates where the token is less than half valid (clouds). With one date the pool returns that date's
embedding exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from eofusion.errors import ConfigError
from eofusion.models.descriptors import DESCRIPTOR_DIM
from eofusion.models.inputs import SensorInput

# A token whose date is valid on less than this fraction of its ground is ignored for that date.
MIN_VALID_FRACTION = 0.5


@dataclass(frozen=True)
class Cells:
    """A sensor resampled to the token grid.

    Attributes:
        features: ``[N, L, C, 2 q^2]`` per-cell means then standard deviations (N = B * T), or
            ``[N, L, C, q^2]`` means only when the pixels are the cells (standard deviations all zero).
        means: ``[N, L, C, q^2]`` per-cell means (the reconstruction target).
        valid: ``[N, L]`` True where the token is at least half valid.
    """

    features: Tensor
    means: Tensor
    valid: Tensor


def token_grid(inputs: dict[str, SensorInput], token_m: float) -> tuple[int, int]:
    """Token grid ``(h, w)`` shared by all sensors; their footprints must agree within one coarse pixel."""
    if not inputs:
        raise ConfigError("The model needs at least one sensor input.")
    coarsest = max(i.gsd_m for i in inputs.values())
    heights = {k: i.footprint_m for k, i in inputs.items()}
    ref_h, ref_w = next(iter(heights.values()))
    for key, (fh, fw) in heights.items():
        if abs(fh - ref_h) > coarsest + 1e-6 or abs(fw - ref_w) > coarsest + 1e-6:
            raise ConfigError(
                f"Sensor {key!r} covers {fh:.1f} x {fw:.1f} m but another sensor covers {ref_h:.1f} x "
                f"{ref_w:.1f} m: all sensors of a sample must cover the same footprint (crop them alike)."
            )
    h, w = round(ref_h / token_m), round(ref_w / token_m)
    if h < 1 or w < 1:
        raise ConfigError(
            f"The footprint {ref_h:.0f} x {ref_w:.0f} m is smaller than one token ({token_m:.0f} m); "
            "use larger chips or a smaller token_m."
        )
    return h, w


def to_cells(pixels: Tensor, valid: Tensor | None, grid: tuple[int, int], q: int) -> Cells:
    """Resample ``pixels [N, C, H, W]`` to ``q x q`` cells per token by masked area averaging.

    Invalid pixels (``valid`` False or NaN) are left out of the averages; a cell with none keeps 0.
    Standard deviations (texture) are features only where cells average several pixels; when the
    sensor's pixels are the cells (10 m S2, 40 m tokens, q = 4) or coarser, features are the means only,
    and valid pixels of the exact size pass straight through.
    """
    n = pixels.shape[0]
    h, w = grid
    out = (h * q, w * q)

    def tokens(a: Tensor) -> Tensor:  # [N, C', hq, wq] -> [N, h*w, C', q*q]
        k = a.shape[1]
        return a.reshape(n, k, h, q, w, q).permute(0, 2, 4, 1, 3, 5).reshape(n, h * w, k, q * q)

    all_valid = valid is None and bool(torch.isfinite(pixels).all())
    if all_valid and tuple(pixels.shape[-2:]) == out:
        means = tokens(pixels)
        return Cells(features=means, means=means, valid=torch.ones(n, h * w, dtype=torch.bool, device=pixels.device))
    if all_valid:  # no masking needed: skip the validity pass over (possibly 0.2 m) pixels
        x0 = pixels
        frac = torch.ones((n, 1, *out), dtype=pixels.dtype, device=pixels.device)
    else:
        ok = torch.isfinite(pixels).all(dim=1)
        if valid is not None:
            ok = ok & valid.bool()
        x0 = torch.where(ok.unsqueeze(1), pixels, torch.zeros((), dtype=pixels.dtype, device=pixels.device))
        frac = F.adaptive_avg_pool2d(ok.to(pixels.dtype).unsqueeze(1), out)  # [N, 1, hq, wq]
    s1 = F.adaptive_avg_pool2d(x0, out)
    s2 = F.adaptive_avg_pool2d(x0 * x0, out)
    denom = frac.clamp_min(1e-6)
    mean = torch.where(frac > 0, s1 / denom, torch.zeros_like(s1))
    var = torch.where(frac > 0, s2 / denom - mean * mean, torch.zeros_like(s1)).clamp_min(0.0)
    means = tokens(mean)
    if pixels.shape[-2] > out[0] and pixels.shape[-1] > out[1]:
        std = torch.sqrt(var + 1e-6) - 1e-3
        features = torch.cat([means, tokens(std)], dim=-1)
    else:  # a cell holds at most ~one pixel: there is no texture to describe
        features = means
    token_valid = tokens(frac).mean(dim=(-1, -2)) >= MIN_VALID_FRACTION
    return Cells(features=features, means=means, valid=token_valid)


class DescriptorMLP(nn.Module):
    """Band descriptor -> K mixing coefficients over a learned basis."""

    def __init__(self, hidden: int, basis: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(DESCRIPTOR_DIM, hidden)
        self.fc2 = nn.Linear(hidden, basis)
        nn.init.normal_(self.fc2.weight, std=1.0 / math.sqrt(hidden))
        nn.init.zeros_(self.fc2.bias)

    def hidden(self, descriptors: Tensor) -> Tensor:
        """Hidden features ``[C, hidden]`` (the SMARTIES converter solves ``fc2`` on them)."""
        return F.gelu(self.fc1(descriptors))

    def forward(self, descriptors: Tensor) -> Tensor:
        return self.fc2(self.hidden(descriptors))


class SpectralPatchEmbed(nn.Module):
    """Cell features of each band -> one D-dim token, through a projection generated from its descriptor."""

    def __init__(self, in_features: int, dim: int, basis: int, hidden: int) -> None:
        super().__init__()
        self.coef = DescriptorMLP(hidden, basis)
        self.weight = nn.Parameter(torch.randn(basis, dim, in_features) / math.sqrt(in_features * basis))
        self.bias = nn.Parameter(torch.zeros(basis, dim))
        self.scale = 1.0

    def band_projections(self, descriptors: Tensor) -> tuple[Tensor, Tensor]:
        """Per-band weights ``[C, D, F]`` and biases ``[C, D]`` from descriptors ``[C, DESCRIPTOR_DIM]``."""
        a = self.coef(descriptors)  # [C, K]
        return torch.einsum("ck,kdf->cdf", a, self.weight), a @ self.bias

    def forward(self, features: Tensor, descriptors: Tensor) -> Tensor:
        """``features [N, L, C, F]`` -> tokens ``[N, L, D]`` (scaled mean over the C bands).

        ``F`` may be the means-only half of the inputs (see :func:`to_cells`): the std weights are skipped.
        """
        weight, bias = self.band_projections(descriptors.to(features.dtype))
        n, ntok, c, f = features.shape
        weight = weight[..., :f]
        # sum_c W_c x_c as ONE matmul over the flattened (band, feature) axis: no [N, L, C, D] tensor.
        w = weight.permute(0, 2, 1).reshape(c * f, -1)  # [C*F, D]
        out = features.reshape(n * ntok, c * f) @ w
        return (self.scale / c) * (out.reshape(n, ntok, -1) + bias.sum(0))


def fourier(u: Tensor, freqs: int) -> Tensor:
    """``[..., 2 * freqs]`` sin/cos features of ``u`` (period 1 at k = 1)."""
    k = torch.arange(1, freqs + 1, device=u.device, dtype=u.dtype)
    ang = 2 * math.pi * u.unsqueeze(-1) * k
    return torch.cat([torch.sin(ang), torch.cos(ang)], dim=-1)


class DateEncoding(nn.Module):
    """Day of year -> D dims (annual harmonics); zero-initialised so it starts as a no-op."""

    def __init__(self, dim: int, freqs: int = 4) -> None:
        super().__init__()
        self.freqs = freqs
        self.proj = nn.Linear(2 * freqs, dim)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, day_of_year: Tensor) -> Tensor:
        return self.proj(fourier(day_of_year.float() / 365.25, self.freqs))


class GsdEncoding(nn.Module):
    """Ground sampling distance -> D dims, so tokens know the resolution they came from (zero-initialised)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(9, dim)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, gsd_m: float, device: torch.device) -> Tensor:
        u = torch.tensor([math.log10(gsd_m) / 3.0], device=device)
        return self.proj(torch.cat([u, fourier(u, 4)[0]]))


class TemporalPool(nn.Module):
    """Attention pooling over dates per token (L-TAE-like: one learned query per head, channel groups)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm = nn.LayerNorm(dim)
        self.key = nn.Linear(dim, dim)
        self.date = DateEncoding(dim)
        self.query = nn.Parameter(torch.randn(heads, dim // heads) * 0.02)

    def forward(self, x: Tensor, valid: Tensor, day_of_year: Tensor | None) -> tuple[Tensor, Tensor]:
        """``x [B, T, L, D]``, ``valid [B, T, L]`` -> pooled ``[B, L, D]`` and ``present [B, L]``."""
        b, t, ntok, d = x.shape
        present = valid.any(dim=1)
        if t == 1:
            return x[:, 0] * present.unsqueeze(-1).to(x.dtype), present
        keys = self.key(self.norm(x))
        if day_of_year is not None:
            keys = keys + self.date(day_of_year)[:, :, None, :]
        keys = keys.reshape(b, t, ntok, self.heads, d // self.heads)
        scores = (keys * self.query).sum(-1) / math.sqrt(d // self.heads)  # [B, T, L, H]
        scores = scores.masked_fill(~valid.unsqueeze(-1), float("-inf"))
        weights = torch.softmax(scores, dim=1).nan_to_num(0.0)  # all dates invalid -> zeros
        pooled = (weights.unsqueeze(-1) * x.reshape(b, t, ntok, self.heads, d // self.heads)).sum(1)
        return pooled.reshape(b, ntok, d), present


@lru_cache(maxsize=64)
def sincos_2d(dim: int, h: int, w: int) -> Tensor:
    """Fixed 2-D sin-cos position embedding ``[h * w, dim]``, row-major over (row, col).

    The first half of the dimensions encodes the column, the second half the row; each half is
    ``[sin(p * omega), cos(p * omega)]`` with ``omega_i = 10000^(-i / (dim / 4))`` — the MAE convention,
    so SMARTIES/MAE tables can be checked against it.
    """
    quarter = dim // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter)
    rows, cols = torch.meshgrid(
        torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij"
    )

    def encode(p: Tensor) -> Tensor:
        ang = p.reshape(-1, 1) * omega
        return torch.cat([torch.sin(ang), torch.cos(ang)], dim=1)

    return torch.cat([encode(cols), encode(rows)], dim=1).float()
