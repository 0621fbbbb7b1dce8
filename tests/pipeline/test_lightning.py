"""The Lightning path: a user's own Trainer fits eofusion's model on the demo cube's chips; torchgeo-style batches."""

from __future__ import annotations

from pathlib import Path

import kornia.augmentation as K
import lightning as L
import pytest
import torch
from pipeline_fixtures import write_train_spec

from eofusion.pipeline.lightning_data import lightning_from_spec
from eofusion.training.lightning import image_of, with_image


@pytest.mark.slow
def test_a_lightning_trainer_fits_eofusion_model_on_the_cube(tmp_path: Path, small_world, small_cube: Path) -> None:  # type: ignore[no-untyped-def]
    torch.set_num_threads(1)
    # Labels at the aerial's 1 m: image (aerial) and mask on one grid, as torchgeo transforms want.
    labels = {
        "raster": str(small_world.root / "catalog" / "landcover" / "*" / "landcover.tif"),
        "classes_file": str(small_world.root / "truth" / "classes.json"),
        "classes_key": "landcover",
        "resolution_m": 1,
    }
    small = {"chips": {"size_m": 160, "train_count": 16}, "finetune": {"steps": 4, "batch_size": 4}}
    spec = write_train_spec(tmp_path / "train.yaml", small_world, small_cube, labels=labels, **small)
    datamodule, task = lightning_from_spec(spec)
    before = {n: p.detach().clone() for n, p in task.model.named_parameters()}
    trainer = L.Trainer(
        max_steps=4, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=2, num_sanity_val_steps=0,
        val_check_interval=4, default_root_dir=tmp_path,
    )  # fmt: skip
    trainer.fit(task, datamodule)
    assert trainer.global_step == 4
    moved = [n for n, p in task.model.named_parameters() if not torch.equal(p, before[n])]
    assert len(moved) > len(before) // 2
    metrics = trainer.callback_metrics
    assert torch.isfinite(metrics["train_loss"]) and 0 <= float(metrics["val_mIoU"]) <= 1

    batch = next(iter(datamodule.train_dataloader()))
    assert set(batch) == {"inputs", "image", "mask"}
    aerial = batch["inputs"]["aerial"]
    assert torch.equal(batch["image"], image_of(batch["inputs"], "aerial"))  # the finest sensor by default
    assert batch["image"].shape[1] == aerial.pixels.shape[1] * aerial.pixels.shape[2]
    # A kornia / torchgeo-style transform on image + mask, written back into the sensor's input.
    flip = K.AugmentationSequential(K.RandomHorizontalFlip(p=1.0), data_keys=["image", "mask"])
    image, mask = flip(batch["image"], batch["mask"][:, None].float())
    flipped = with_image(batch["inputs"], "aerial", image)
    assert torch.equal(flipped["aerial"].pixels, aerial.pixels.flip(-1))
    assert torch.equal(mask[:, 0].long(), batch["mask"].flip(-1))
    assert flipped["s2"] is batch["inputs"]["s2"]
