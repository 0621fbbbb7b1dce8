"""Load a published SMARTIES ViT-B/L checkpoint (Sumbul et al., 2025) into eofusion's model.

SMARTIES' layout (``models_smarties.py`` of the SMARTIES repository, MAE-style keys): ``cls_token``,
``pos_embed`` (fixed sin-cos, with a zero row for the class token), ``blocks.{i}.*`` (timm ``Block``),
``norm.*``, ``spectrum_projection.spectrum_embeds.{r}.proj.{weight,bias}`` (one ``Linear(p*p -> D)`` per
spectral range r = 0..16), ``decoder_embed.*``, ``mask_token``, ``decoder_pos_embed``,
``decoder_blocks.{i}.*``, ``decoder_norm.*``, ``decoder_preds.{r}.{weight,bias}`` (one ``Linear(512 -> p*p)``
per range). Tokens are ``12 x mean`` of the per-band projections.

What :func:`convert_smarties_state_dict` loads, exactly:
- encoder ``blocks``, ``norm``, ``cls_token`` (the converted config keeps a class token, ``cls_token=True``,
  because the blocks were trained with one) — copied;
- ``decoder_embed``, ``mask_token``, ``decoder_blocks``, ``decoder_norm`` — copied;
- ``pos_embed``/``decoder_pos_embed`` — not copied: eofusion computes the same fixed sin-cos table for any
  grid; the converter checks the checkpoint's table equals it and reports the largest difference;
- the 17 per-range patch projections -> the K >= 17 basis projections of the spectral embedding (range r
  becomes basis r, acting on the cell MEANS; the cell-std inputs get zero weights), and the descriptor
  MLP's last layer is solved (least squares) so that the descriptor of the band each range was trained on
  yields the one-hot mix selecting basis r. The same for ``decoder_preds`` -> the decoder's basis head.
  The ranges' bands: S2 B01-B12 without B10 (Sentinel-2A measured SRFs), the fMoW RGB camera's
  red/green/blue (Gaussian over SMARTIES' [min, max] range) and S1 VV/VH.
- ``token_scale = 12`` and ``patch_px = p`` (16), ``token_m = 10 * p`` (a token = one 160 m S2 patch).

Consequence: for single-date inputs of bands SMARTIES was trained on, at 10 m with one token per 16 x 16
patch, ``forward_features`` reproduces SMARTIES' patch-token features to float precision (tested).
What cannot be carried over exactly: bands outside the 17 ranges get coefficients interpolated by the
solved MLP (SMARTIES instead mixes fixed projections by wavelength distance); the GSD and date encodings
and the temporal attention are eofusion's own (zero-initialised encodings are no-ops; the temporal pool is
the identity for one date and untrained for series); other GSDs enter via cells, which SMARTIES never saw.
Fine-tune after converting for time series, aerial or DSM inputs.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from eofusion.errors import CheckpointError
from eofusion.models.config import ModelConfig, model_config
from eofusion.models.descriptors import band_descriptor
from eofusion.models.embedding import DescriptorMLP, sincos_2d
from eofusion.models.mae import SpectralMAE
from eofusion.sensors import Band, BandKind, get_sensor

log = logging.getLogger(__name__)

# SMARTIES projection index -> (range name, sensor, band) or (range name, None, (min_nm, max_nm)) for RGB.
SMARTIES_RANGES: tuple[tuple[str, str | None, str | tuple[float, float]], ...] = (
    ("aerosol", "sentinel-2a", "B01"),
    ("blue_1", "sentinel-2a", "B02"),
    ("blue_3", None, (430.0, 545.0)),
    ("green_1", None, (466.0, 620.0)),
    ("green_2", "sentinel-2a", "B03"),
    ("red_1", None, (590.0, 710.0)),
    ("red_2", "sentinel-2a", "B04"),
    ("red_edge_1", "sentinel-2a", "B05"),
    ("red_edge_2", "sentinel-2a", "B06"),
    ("near_infrared_1", "sentinel-2a", "B08"),
    ("near_infrared_2", "sentinel-2a", "B07"),
    ("near_infrared_3", "sentinel-2a", "B8A"),
    ("short_wave_infrared_1", "sentinel-2a", "B09"),
    ("short_wave_infrared_3", "sentinel-2a", "B11"),
    ("short_wave_infrared_4", "sentinel-2a", "B12"),
    ("microwave_1", "sentinel-1", "VV"),
    ("microwave_2", "sentinel-1", "VH"),
)
_RGB_NAMES = {"blue_3": "blue", "green_1": "green", "red_1": "red"}


@dataclass(frozen=True)
class ConversionReport:
    """What the converter did.

    Attributes:
        loaded: eofusion parameter names filled from the checkpoint.
        skipped: Checkpoint keys not used (with the reason in ``notes``).
        pos_embed_max_diff: Largest |difference| between the checkpoint's sin-cos table and eofusion's.
        coefficient_residual: Largest error of the solved one-hot mixing at the 17 ranges (0 = exact).
        notes: Human-readable remarks.
    """

    loaded: tuple[str, ...]
    skipped: tuple[str, ...]
    pos_embed_max_diff: float
    coefficient_residual: float
    notes: tuple[str, ...]


def smarties_range_bands() -> list[tuple[Band, str | None]]:
    """The band each SMARTIES range was trained on, with its sensor (None for the RGB camera)."""
    out: list[tuple[Band, str | None]] = []
    for name, sensor, band in SMARTIES_RANGES:
        if isinstance(band, str):
            out.append((get_sensor(sensor or "").band(band), sensor))
        else:
            lo, hi = band
            rgb = Band(
                name=_RGB_NAMES[name], kind=BandKind.REFLECTANCE, resolution_m=1.0, dtype="uint8", units="1",
                common_name=_RGB_NAMES[name], centre_nm=(lo + hi) / 2, bandwidth_nm=hi - lo,
                description=f"fMoW RGB camera {name} (SMARTIES range {lo:.0f}-{hi:.0f} nm)",
            )  # fmt: skip
            out.append((rgb, None))
    return out


def _solve_one_hot(mlp: DescriptorMLP, descriptors: Tensor, basis: int) -> float:
    """Set ``mlp.fc2`` so descriptor r maps to one-hot r (least squares); returns the max residual."""
    with torch.no_grad():
        hidden = mlp.hidden(descriptors).double()  # [R, H]
        design = torch.cat([hidden, torch.ones(len(hidden), 1, dtype=torch.float64)], dim=1)
        target = torch.zeros(len(hidden), basis, dtype=torch.float64)
        target[torch.arange(len(hidden)), torch.arange(len(hidden))] = 1.0
        solution = torch.linalg.lstsq(design, target, driver="gelsd").solution  # [H+1, K]
        mlp.fc2.weight.copy_(solution[:-1].T.float())
        mlp.fc2.bias.copy_(solution[-1].float())
        return float((mlp(descriptors).double() - target).abs().max())


def _infer_config(state: Mapping[str, Tensor]) -> ModelConfig:
    proj = state["spectrum_projection.spectrum_embeds.0.proj.weight"]
    dim, pixels = proj.shape
    p = round(math.sqrt(pixels))
    depth = 1 + max(int(m.group(1)) for k in state if (m := re.match(r"blocks\.(\d+)\.", k)))
    dec_depth = 1 + max(int(m.group(1)) for k in state if (m := re.match(r"decoder_blocks\.(\d+)\.", k)))
    preset = {768: "base", 1024: "large"}.get(dim, "base")
    heads = {768: 12, 1024: 16, 1280: 16}.get(dim, max(1, dim // 64))
    return replace(
        model_config(preset),
        name=f"smarties-{preset}",
        embed_dim=dim, depth=depth, num_heads=heads, temporal_heads=heads,
        decoder_dim=state["decoder_embed.weight"].shape[0], decoder_depth=dec_depth, decoder_heads=16,
        patch_px=p, token_m=10.0 * p, spectral_basis=max(32, len(SMARTIES_RANGES)),
        descriptor_hidden=max(256, 2 * len(SMARTIES_RANGES)), cls_token=True, token_scale=12.0,
    )  # fmt: skip


def convert_smarties_state_dict(
    state: Mapping[str, Tensor], config: ModelConfig | None = None, seed: int = 0
) -> tuple[SpectralMAE, ConversionReport]:
    """Build a :class:`SpectralMAE` holding a SMARTIES checkpoint's weights (see the module docstring).

    Args:
        state: The SMARTIES state dict (read it with ``eofusion.training.read_state_dict``).
        config: Target config; default: inferred from the checkpoint (ViT-B or ViT-L, p = 16).
        seed: Seed of the parts SMARTIES does not have.

    Raises:
        CheckpointError: The state dict is not in SMARTIES' layout or does not fit ``config``.
    """
    if "spectrum_projection.spectrum_embeds.0.proj.weight" not in state:
        raise CheckpointError(
            "This state dict has no 'spectrum_projection.spectrum_embeds.0.proj.weight': it is not a SMARTIES "
            "checkpoint (expected MAE-style keys with per-range spectrum projections)."
        )
    config = config or _infer_config(state)
    torch.manual_seed(seed)
    model = SpectralMAE(config)
    ours = model.state_dict()
    loaded: list[str] = []
    direct = {
        "cls_token": "encoder.cls_token",
        "mask_token": "mask_token",
    }
    prefixes = {
        "blocks.": "encoder.blocks.",
        "norm.": "encoder.norm.",
        "decoder_embed.": "decoder_embed.",
        "decoder_blocks.": "decoder_blocks.",
        "decoder_norm.": "decoder_norm.",
    }
    new_state = dict(ours)
    skipped: list[str] = []
    for key, value in state.items():
        target = direct.get(key)
        if target is None:
            target = next((t + key[len(s) :] for s, t in prefixes.items() if key.startswith(s)), None)
        if target is None:
            if not key.startswith(("spectrum_projection.", "decoder_preds.", "pos_embed", "decoder_pos_embed")):
                skipped.append(key)
            continue
        if target not in ours or ours[target].shape != value.shape:
            raise CheckpointError(
                f"SMARTIES key {key!r} {tuple(value.shape)} does not fit eofusion's {target!r} "
                f"{tuple(ours[target].shape) if target in ours else 'missing'}; pass a matching config."
            )
        new_state[target] = value.to(ours[target].dtype)
        loaded.append(target)
    model.load_state_dict(new_state)

    q2 = config.patch_px**2
    ranges = len(SMARTIES_RANGES)
    descriptors = torch.stack([torch.from_numpy(band_descriptor(b, s)) for b, s in smarties_range_bands()])
    embed, head = model.encoder.patch_embed, model.head
    with torch.no_grad():
        embed.weight.zero_()
        embed.bias.zero_()
        head.weight.zero_()
        head.bias.zero_()
        for r in range(ranges):
            w = state[f"spectrum_projection.spectrum_embeds.{r}.proj.weight"]
            embed.weight[r, :, :q2] = w
            embed.bias[r] = state[f"spectrum_projection.spectrum_embeds.{r}.proj.bias"]
            head.weight[r] = state[f"decoder_preds.{r}.weight"]
            head.bias[r] = state[f"decoder_preds.{r}.bias"]
    residual = max(
        _solve_one_hot(embed.coef, descriptors, config.spectral_basis),
        _solve_one_hot(head.coef, descriptors, config.spectral_basis),
    )
    loaded += ["encoder.patch_embed.weight", "encoder.patch_embed.bias", "head.weight", "head.bias"]

    diffs = []
    for key, dim in (("pos_embed", config.embed_dim), ("decoder_pos_embed", config.decoder_dim)):
        if key in state:
            table = state[key].reshape(-1, dim)[1:]
            side = round(math.sqrt(table.shape[0]))
            diffs.append(float((table.float() - sincos_2d(dim, side, side)).abs().max()))
    pos_diff = max(diffs) if diffs else 0.0
    notes = [
        f"patch projections of {ranges} ranges -> spectral basis (one-hot residual {residual:.2e})",
        "cell-std weights, GSD/date encodings zero; temporal pooling identity for one date",
    ]
    if pos_diff > 1e-4:
        notes.append(f"checkpoint position table differs from eofusion's sin-cos by {pos_diff:.2e}")
        log.warning("SMARTIES position embedding differs from eofusion's by %.2e", pos_diff)
    return model, ConversionReport(tuple(loaded), tuple(skipped), pos_diff, residual, tuple(notes))
