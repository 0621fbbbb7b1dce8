"""Location on a real S3-compatible server (moto) and on disk: the same operations, the same results."""

from __future__ import annotations

from pathlib import Path

import pytest

from eofusion.errors import MissingExtraError, OutputLocationError
from eofusion.storage import Location, is_remote


def test_urls_and_paths_are_told_apart() -> None:
    assert is_remote("s3://bucket/a") and is_remote("gs://b/x") and is_remote("az://c/y")
    assert not is_remote("/tmp/a") and not is_remote("relative/s3:/x") and not is_remote("https://host/a.tif")
    assert str(Location("s3://bucket/a/") / "b" / "c.json") == "s3://bucket/a/b/c.json"
    assert Location("s3://bucket/a/b.tif").name == "b.tif"
    assert str(Location("s3://bucket/a/b.tif").parent) == "s3://bucket/a"
    with pytest.raises(OutputLocationError, match="not an object-store URL"):
        Location("s3:///no-bucket")


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_the_same_operations_on_disk_and_in_a_bucket(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if kind == "s3":
        s3 = request.getfixturevalue("s3_env")
        s3.create_bucket(f"ops-{tmp_path.name[-20:].lower().replace('_', '-')}")
        root = Location(f"s3://ops-{tmp_path.name[-20:].lower().replace('_', '-')}/job")
    else:
        root = Location(tmp_path / "job")
    record = root / "tiles" / "t1" / "done.json"
    assert not record.exists() and not root.exists()
    with pytest.raises(FileNotFoundError):
        record.read_text()
    record.write_text('{"ok": true}')
    assert record.exists() and root.exists() and (root / "tiles").exists()
    assert record.read_text() == '{"ok": true}'
    assert root.names() == ["tiles"] and (root / "tiles").names() == ["t1"]

    source = tmp_path / "map.tif"
    source.write_bytes(b"x" * 100_000)
    (root / "tiles" / "t1" / "map.tif").upload(source)
    back = (root / "tiles" / "t1" / "map.tif").download(tmp_path / "copy" / "map.tif")
    assert back.read_bytes() == source.read_bytes()
    assert (root / "tiles" / "t1").names() == ["done.json", "map.tif"]

    (root / "tiles" / "t1").remove()
    assert not record.exists() and (root / "tiles").names() == []
    root.check_writable("the test outputs")


def test_a_missing_bucket_is_named_with_the_fix(s3_env) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(OutputLocationError, match="bucket does not exist"):
        Location("s3://no-such-bucket/x/done.json").write_text("{}")
    with pytest.raises(OutputLocationError, match="bucket does not exist"):
        Location("s3://no-such-bucket/x").check_writable("the cube")


def test_an_unreachable_endpoint_names_the_credentials_and_endpoint(s3_env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from eofusion.storage import objects

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    objects.bucket_store.cache_clear()
    monkeypatch.setenv("AWS_MAX_RETRIES", "0")
    try:
        with pytest.raises(OutputLocationError, match="AWS_ENDPOINT_URL"):
            Location("s3://somewhere/x.json").read_text()
    finally:
        objects.bucket_store.cache_clear()


def test_without_obstore_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from eofusion.storage import objects

    monkeypatch.setitem(sys.modules, "obstore", None)  # what an install without the cloud extra sees
    objects.bucket_store.cache_clear()
    try:
        with pytest.raises(MissingExtraError, match=r"eofusion\[cloud\]"):
            Location("s3://bucket/x.json").exists()
    finally:
        objects.bucket_store.cache_clear()
