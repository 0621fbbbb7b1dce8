"""Location: a local path or an object-store URL, with the few operations outputs need, atomic on both.

Local writes go to a unique temporary name and are renamed (:mod:`eofusion.atomic`); object-store writes are
single PUTs (multipart for large files), which the store makes visible whole or not at all. A remote
"folder" is a key prefix: it exists when some key is under it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from eofusion.atomic import write_bytes_atomic
from eofusion.errors import OutputLocationError
from eofusion.storage.objects import SCHEMES, bucket_store, obstore_module, prefix_store, split_url, translate_errors

_DELETE_BATCH = 1000  # S3's DeleteObjects limit


def is_remote(target: str | os.PathLike[str] | Location) -> bool:
    """True for an object-store URL (``s3://``, ``gs://``, ``az://``...)."""
    if isinstance(target, Location):
        return target.remote
    text = os.fspath(target) if isinstance(target, os.PathLike) else str(target)
    return "://" in text and text.split("://", 1)[0] in SCHEMES


class Location:
    """A file or folder of outputs, local or in an object store."""

    def __init__(self, target: str | os.PathLike[str] | Location) -> None:
        if isinstance(target, Location):
            self.raw: str = target.raw
        elif is_remote(target):
            scheme, bucket, key = split_url(str(target))
            self.raw = f"{scheme}://{bucket}/{key}".rstrip("/")
        else:
            self.raw = os.fspath(target)
        self.remote = is_remote(self.raw)

    # ---------------------------------------------------------------- naming
    def __str__(self) -> str:
        return self.raw

    def __repr__(self) -> str:
        return f"Location({self.raw!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Location) and other.raw == self.raw

    def __hash__(self) -> int:
        return hash(self.raw)

    def __truediv__(self, key: str) -> Location:
        if self.remote:
            return Location(f"{self.raw}/{key.strip('/')}")
        return Location(Path(self.raw) / key)

    @property
    def name(self) -> str:
        """The last part of the path or key."""
        return self.raw.rstrip("/").rsplit("/", 1)[-1] if self.remote else Path(self.raw).name

    @property
    def parent(self) -> Location:
        """The folder (prefix) holding this location."""
        if self.remote:
            return Location(self.raw.rsplit("/", 1)[0])
        return Location(Path(self.raw).parent)

    def with_name(self, name: str) -> Location:
        """A sibling location."""
        return self.parent / name

    @property
    def path(self) -> Path:
        """The local path (a remote location has none)."""
        if self.remote:
            raise OutputLocationError(f"{self.raw} is in an object store, not on this machine's disk.")
        return Path(self.raw)

    def _store_key(self) -> tuple[Any, str]:
        scheme, bucket, key = split_url(self.raw)
        return bucket_store(scheme, bucket), key

    # ---------------------------------------------------------------- reading
    def exists(self) -> bool:
        """A file, a folder, or (remote) an object or a non-empty prefix."""
        if not self.remote:
            return Path(self.raw).exists()
        obstore = obstore_module()
        store, key = self._store_key()
        with translate_errors(self.raw, "read"):
            try:
                obstore.head(store, key)
                return True
            except FileNotFoundError:
                pass
            first: list[Any] = next(iter(obstore.list(store, prefix=key + "/", chunk_size=1)), [])
            return bool(first)

    def read_bytes(self) -> bytes:
        """The whole object. Raises FileNotFoundError when it is absent."""
        if not self.remote:
            return Path(self.raw).read_bytes()
        obstore = obstore_module()
        store, key = self._store_key()
        with translate_errors(self.raw, "read"):
            return bytes(obstore.get(store, key).bytes())

    def read_text(self) -> str:
        """The whole object as UTF-8 text. Raises FileNotFoundError when it is absent."""
        return self.read_bytes().decode()

    def names(self) -> list[str]:
        """Names directly under this folder (prefix), sorted; empty when there is none."""
        if not self.remote:
            path = Path(self.raw)
            return sorted(os.listdir(path)) if path.is_dir() else []
        obstore = obstore_module()
        store, key = self._store_key()
        with translate_errors(self.raw, "list"):
            listing = obstore.list_with_delimiter(store, prefix=key + "/")
        names = [p.rstrip("/").rsplit("/", 1)[-1] for p in listing["common_prefixes"]]
        names += [o["path"].rsplit("/", 1)[-1] for o in listing["objects"]]
        return sorted(set(names))

    def download(self, to: str | os.PathLike[str]) -> Path:
        """Copy to a local file (atomically); a local location is copied too. Returns the local path."""
        target = Path(to)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(handle)
        try:
            if self.remote:
                obstore = obstore_module()
                store, key = self._store_key()
                with translate_errors(self.raw, "download"), open(tmp, "wb") as out:
                    for chunk in obstore.get(store, key):
                        out.write(chunk)
            else:
                shutil.copyfile(self.raw, tmp)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return target

    # ---------------------------------------------------------------- writing
    def mkdir(self) -> None:
        """Create the folder (a no-op in an object store, where prefixes need no creation)."""
        if not self.remote:
            Path(self.raw).mkdir(parents=True, exist_ok=True)

    def write_bytes(self, data: bytes) -> None:
        """Write atomically: the object (file) appears whole or not at all."""
        if not self.remote:
            write_bytes_atomic(self.raw, data)
            return
        obstore = obstore_module()
        store, key = self._store_key()
        with translate_errors(self.raw, "write", writing=True):
            obstore.put(store, key, data)

    def write_text(self, text: str) -> None:
        """Write text atomically (see :meth:`write_bytes`)."""
        self.write_bytes(text.encode())

    def touch(self) -> None:
        """An empty marker, written atomically."""
        self.write_bytes(b"")

    def upload(self, local_file: str | os.PathLike[str]) -> None:
        """Copy a finished local file here: one PUT (multipart when large) or a copy + rename on disk."""
        if not self.remote:
            if Path(local_file).resolve() == Path(self.raw).resolve():
                return
            Location(local_file).download(self.raw)
            return
        obstore = obstore_module()
        store, key = self._store_key()
        with translate_errors(self.raw, "upload to", writing=True), open(local_file, "rb") as source:
            obstore.put(store, key, source)

    def remove(self) -> None:
        """Delete the file or folder (remote: the object and every key under the prefix); absent is fine."""
        if not self.remote:
            path = Path(self.raw)
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
            return
        obstore = obstore_module()
        store, key = self._store_key()
        with translate_errors(self.raw, "delete"):
            keys = [key] if self._is_object(store, key) else []
            for batch in obstore.list(store, prefix=key + "/"):
                keys.extend(meta["path"] for meta in batch)
            for start in range(0, len(keys), _DELETE_BATCH):
                obstore.delete(store, keys[start : start + _DELETE_BATCH])

    @staticmethod
    def _is_object(store: Any, key: str) -> bool:
        try:
            obstore_module().head(store, key)
            return True
        except FileNotFoundError:
            return False

    def check_writable(self, what: str) -> None:
        """Fail early, naming the fix, when outputs cannot be written here (a missing folder, a bucket we cannot
        reach or write)."""
        if not self.remote:
            parent = Path(self.raw).parent
            if not parent.exists() or not os.access(parent, os.W_OK):
                raise OutputLocationError(f"Cannot write {what} at {self.raw}: {parent} is missing or not writable.")
            return
        probe = self / f".eofusion-write-check-{os.getpid()}"
        probe.write_bytes(b"")
        probe.remove()

    # ---------------------------------------------------------------- zarr
    def zarr_store(self, *, read_only: bool = False) -> Any:
        """What zarr and xarray open: the path itself, or zarr's ObjectStore over this prefix."""
        if not self.remote:
            return self.raw
        import zarr

        return zarr.storage.ObjectStore(prefix_store(self.raw), read_only=read_only)
