"""A training spec as Lightning objects: the spec's chips as a DataModule, its model as a LandcoverTask.

For torchgeo / Lightning users who drive training with their own ``Trainer``::

    datamodule, task = lightning_from_spec("pipelines/demo-train.yaml")
    lightning.Trainer(max_steps=300, callbacks=[...], logger=...).fit(task, datamodule)

The chips, labels, class weights and model are exactly those ``eofusion train`` would use for the spec.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from eofusion.pipeline.tasks import task_of
from eofusion.pipeline.train_spec import TrainSpec, load_train_spec
from eofusion.pipeline.training_data import prepare_data
from eofusion.pipeline.training_run import finetune_config
from eofusion.training.distributed import Compute
from eofusion.training.finetune import class_weights
from eofusion.training.lightning import ChipDataModule, LandcoverTask

logger = logging.getLogger(__name__)


def lightning_from_spec(
    spec: TrainSpec | str | os.PathLike[str], *, num_workers: int = 0, image_sensor: str | None = None
) -> tuple[ChipDataModule, LandcoverTask]:
    """The spec's labelled chips (train / held-out) and its model with eofusion's objective, for a Trainer."""
    spec = spec if isinstance(spec, TrainSpec) else load_train_spec(Path(spec))
    data = prepare_data(spec, lambda stage, message: logger.info("%s: %s", stage, message))
    datamodule = ChipDataModule(
        data.train, data.test, batch_size=spec.finetune.batch_size, num_workers=num_workers, image_sensor=image_sensor
    )
    model = task_of(spec).build_model(spec, data, lambda *_: None, Compute.cpu())
    weights = class_weights(data.labels.values, len(data.classes.ids))
    config = finetune_config(spec, spec.finetune.sensor_dropout, "example")
    return datamodule, LandcoverTask(model, len(data.classes.ids), config, weights)
