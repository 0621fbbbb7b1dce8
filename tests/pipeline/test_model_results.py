"""A trained model's record: read back as written, and only by the run (spec, revision, checkpoint) it belongs to."""

from __future__ import annotations

from pathlib import Path

from eofusion.pipeline.model_results import (
    ModelResult,
    RunIdentity,
    forget_records,
    read_record,
    record_path,
    write_record,
)
from eofusion.training.metrics import SegmentationScores


def _result(name: str) -> ModelResult:
    scores = SegmentationScores(
        overall_accuracy=0.9,
        miou=0.7,
        macro_f1=0.8,
        iou={0: 0.6, 3: 0.8},
        f1={0: 0.75, 3: 0.85},
        support={0: 10, 3: 30},
        confusion=[[8, 0, 0, 2], [0, 0, 0, 0], [0, 0, 0, 0], [3, 0, 0, 27]],
    )
    return ModelResult(name, scores, [2.0, 1.5, 1.2], 12.5, parcels={"OA": 70.0})


def test_a_record_reads_back_for_its_own_run_only(tmp_path: Path) -> None:
    checkpoint = tmp_path / "model.safetensors"
    checkpoint.write_bytes(b"weights of the trained model")
    run = RunIdentity("abc123", 2)
    result = _result("eofusion")
    write_record(tmp_path, result, run, checkpoint)
    assert read_record(tmp_path, "eofusion", run, checkpoint) == result  # class ids stay ints through JSON
    assert read_record(tmp_path, "eofusion", RunIdentity("other", 2), checkpoint) is None  # another spec
    assert read_record(tmp_path, "eofusion", RunIdentity("abc123", 3), checkpoint) is None  # another revision
    assert read_record(tmp_path, "unet", run, tmp_path / "baseline-unet.safetensors") is None  # never trained

    copied = tmp_path / "copy" / "model.safetensors"  # the run folder moved: the weights are what count
    copied.parent.mkdir()
    copied.write_bytes(checkpoint.read_bytes())
    assert read_record(tmp_path, "eofusion", run, copied) == result
    checkpoint.write_bytes(b"weights another run wrote to the same path")
    assert read_record(tmp_path, "eofusion", run, checkpoint) is None  # its scores are not this checkpoint's
    checkpoint.unlink()
    assert read_record(tmp_path, "eofusion", run, checkpoint) is None


def test_forgotten_and_malformed_records_are_none(tmp_path: Path) -> None:
    run = RunIdentity("abc123", 2)
    path = write_record(tmp_path, _result("unet"), run, None)
    path.write_text('{"spec_hash": "abc123", "training_revision": 2}')  # an older or cut layout
    assert read_record(tmp_path, "unet", run, None) is None
    write_record(tmp_path, _result("unet"), run, None)
    forget_records(tmp_path)
    assert read_record(tmp_path, "unet", run, None) is None


def test_a_model_without_checkpoint_is_recorded_under_a_file_name(tmp_path: Path) -> None:
    run = RunIdentity("abc123", 2)
    result = _result("random forest")
    path = write_record(tmp_path, result, run, None)
    assert path == record_path(tmp_path, "random forest") and " " not in path.name
    assert read_record(tmp_path, "random forest", run, None) == result
    path.write_text("{not json")  # a record cut short is no record
    assert read_record(tmp_path, "random forest", run, None) is None
