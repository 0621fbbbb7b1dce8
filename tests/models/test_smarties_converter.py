"""SMARTIES -> eofusion conversion, checked against a reference forward pass in SMARTIES' own layout."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch
from timm.models.vision_transformer import Block
from torch import nn

from eofusion.errors import CheckpointError
from eofusion.models import SensorInput, model_config
from eofusion.models.smarties import SMARTIES_RANGES, convert_smarties_state_dict
from eofusion.sensors import get_sensor

D, DEPTH, HEADS, DD, P = 64, 2, 4, 32, 4


def mae_sincos(dim: int, side: int) -> np.ndarray:
    """MAE's table, written independently: meshgrid(w, h), first half from grid[0], cls row of zeros."""
    gw, gh = np.meshgrid(np.arange(side, dtype=float), np.arange(side, dtype=float))

    def one(d: int, pos: np.ndarray) -> np.ndarray:
        omega = 1.0 / 10000 ** (np.arange(d // 2) / (d / 2.0))
        out = np.einsum("m,d->md", pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    table = np.concatenate([one(dim // 2, gw), one(dim // 2, gh)], axis=1)
    return np.concatenate([np.zeros((1, dim)), table])[None]


def blocks(dim: int, depth: int, heads: int) -> nn.ModuleList:
    norm = partial(nn.LayerNorm, eps=1e-6)
    return nn.ModuleList(Block(dim, heads, 4.0, qkv_bias=True, norm_layer=norm) for _ in range(depth))


def smarties_state(side: int = 2) -> dict[str, torch.Tensor]:
    torch.manual_seed(42)
    enc, dec = blocks(D, DEPTH, HEADS), blocks(DD, 1, 4)
    state = {f"blocks.{k}": v for k, v in enc.state_dict().items()}
    state |= {f"decoder_blocks.{k}": v for k, v in dec.state_dict().items()}
    state |= {"norm.weight": torch.rand(D) + 0.5, "norm.bias": torch.randn(D) * 0.1}
    state |= {"cls_token": torch.randn(1, 1, D) * 0.02, "mask_token": torch.randn(1, 1, DD) * 0.02}
    state |= {"pos_embed": torch.from_numpy(mae_sincos(D, side)).float()}
    state |= {"decoder_pos_embed": torch.from_numpy(mae_sincos(DD, side)).float()}
    state |= {"decoder_embed.weight": torch.randn(DD, D) * 0.1, "decoder_embed.bias": torch.zeros(DD)}
    state |= {"decoder_norm.weight": torch.ones(DD), "decoder_norm.bias": torch.zeros(DD)}
    for r in range(len(SMARTIES_RANGES)):
        state[f"spectrum_projection.spectrum_embeds.{r}.proj.weight"] = torch.randn(D, P * P) * 0.2
        state[f"spectrum_projection.spectrum_embeds.{r}.proj.bias"] = torch.randn(D) * 0.1
        state[f"decoder_preds.{r}.weight"] = torch.randn(P * P, DD) * 0.1
        state[f"decoder_preds.{r}.bias"] = torch.randn(P * P) * 0.1
    return state


def smarties_forward(state: dict, x: torch.Tensor, ranges: list[int]) -> torch.Tensor:
    """SMARTIES' forward_features (patch tokens) re-implemented on its own keys."""
    b, c, hh, ww = x.shape
    h, w = hh // P, ww // P
    patches = x.reshape(b, c, h, P, w, P).permute(0, 2, 4, 1, 3, 5).reshape(b, h * w, c, P * P)
    per_band = torch.stack(
        [
            patches[:, :, i] @ state[f"spectrum_projection.spectrum_embeds.{r}.proj.weight"].T
            + state[f"spectrum_projection.spectrum_embeds.{r}.proj.bias"]
            for i, r in enumerate(ranges)
        ],
        dim=2,
    )
    tokens = torch.cat([state["cls_token"].expand(b, -1, -1), 12 * per_band.mean(2)], dim=1)
    tokens = tokens + state["pos_embed"]
    enc = blocks(D, DEPTH, HEADS)
    enc.load_state_dict({k[len("blocks.") :]: v for k, v in state.items() if k.startswith("blocks.")})
    for blk in enc:
        tokens = blk(tokens)
    norm = nn.LayerNorm(D, eps=1e-6)
    norm.load_state_dict({"weight": state["norm.weight"], "bias": state["norm.bias"]})
    return norm(tokens)[:, 1:]


def target_config():
    return model_config(
        "tiny", embed_dim=D, depth=DEPTH, num_heads=HEADS, decoder_dim=DD, decoder_depth=1, decoder_heads=4,
        patch_px=P, token_m=10.0 * P, spectral_basis=20, descriptor_hidden=32, cls_token=True, token_scale=12.0,
    )  # fmt: skip


def test_converted_encoder_reproduces_smarties_features() -> None:
    state = smarties_state()
    model, report = convert_smarties_state_dict(state, target_config())
    model.eval()
    assert report.coefficient_residual < 1e-4
    assert report.pos_embed_max_diff < 1e-5
    assert "encoder.blocks.0.attn.qkv.weight" in report.loaded and not report.skipped
    s2, s1 = get_sensor("sentinel-2a"), get_sensor("sentinel-1")
    # S2 B02, B04, B8A (ranges 1, 6, 11) at 10 m: one token per 4 x 4 patch
    bands, ranges = s2.select(["B02", "B04", "B8A"]), [1, 6, 11]
    x = torch.randn(2, 3, 2 * P, 2 * P)
    ours = model.forward_features({"s2": SensorInput(x[:, None], bands, 10.0, "sentinel-2a")})
    ref = smarties_forward(state, x, ranges)
    torch.testing.assert_close(ours.flatten(2).transpose(1, 2), ref, atol=1e-4, rtol=1e-4)
    # SAR: VV/VH ranges 15, 16
    xs = torch.randn(1, 2, 2 * P, 2 * P)
    ours = model.forward_features({"s1": SensorInput(xs[:, None], s1.bands[:2], 10.0, "sentinel-1")})
    torch.testing.assert_close(
        ours.flatten(2).transpose(1, 2), smarties_forward(state, xs, [15, 16]), atol=1e-4, rtol=1e-4
    )


def test_converted_model_still_takes_unseen_bands() -> None:
    model, _ = convert_smarties_state_dict(smarties_state(), target_config())
    l8 = get_sensor("landsat-8")
    out = model.eval().forward_features(
        {"l8": SensorInput(torch.randn(1, 1, 3, 4, 4), l8.select(["B2", "B3", "B4"]), 30.0, "landsat-8")}
    )
    assert torch.isfinite(out).all()


def test_non_smarties_state_is_refused() -> None:
    with pytest.raises(CheckpointError, match="not a SMARTIES"):
        convert_smarties_state_dict({"patch_embed.proj.weight": torch.zeros(1)})


def test_checkpoint_file_conversion_round_trip(tmp_path) -> None:
    from eofusion.training import convert_smarties_checkpoint, load_checkpoint, load_model

    state = smarties_state()
    torch.save({"model": state, "epoch": 3}, tmp_path / "smarties.pth")  # MAE-style wrapper
    path, report = convert_smarties_checkpoint(tmp_path / "smarties.pth", tmp_path / "out.safetensors", target_config())
    in_memory, _ = convert_smarties_state_dict(state, target_config())
    x = {
        "s2": SensorInput(
            torch.randn(1, 1, 2, 2 * P, 2 * P), get_sensor("sentinel-2a").select(["B03", "B11"]), 10.0, "sentinel-2a"
        )
    }
    torch.testing.assert_close(load_model(path).eval().forward_features(x), in_memory.eval().forward_features(x))
    extra = load_checkpoint(path).metadata["extra"]
    assert extra["coefficient_residual"] == report.coefficient_residual < 1e-4
    # without a config, the architecture is inferred from the keys (D = 64 here, so not a preset)
    _, inferred = convert_smarties_checkpoint(tmp_path / "smarties.pth", tmp_path / "inferred.safetensors")
    assert load_checkpoint(tmp_path / "inferred.safetensors").config.embed_dim == D and inferred.loaded
