"""Reading config files at the edge: YAML that must hold a mapping, and pydantic errors that name the key.

Sensor definitions, catalog sources and job specs all go through these two helpers, so every config error
reads the same way: the file, the key path, what is wrong. :func:`short_hash` is the one fingerprint of a
configuration (model configs, job and training specs) stored with outputs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from eofusion.errors import ConfigError


def validation_message(err: ValidationError, header: str) -> str:
    """``header:`` then one ``  key.path: problem`` line per error (unknown keys said plainly)."""
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = "unknown key (not allowed)" if e["type"] == "extra_forbidden" else e["msg"]
        lines.append(f"  {loc}: {msg}")
    return f"{header}:\n" + "\n".join(lines)


def read_yaml_mapping(path: str | Path, what: str, holds: str, missing_hint: str = "") -> dict[str, Any]:
    """Read a YAML file that must hold a mapping.

    Args:
        path: The file.
        what: How to call it in errors ("Job spec", "Sensor file"...).
        holds: What the mapping should contain, for the error when it is not a mapping.
        missing_hint: Appended to the error when the file does not exist.

    Raises:
        ConfigError: Missing file, invalid YAML, or not a mapping.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist{'; ' + missing_hint if missing_hint else ''}.") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{what} {path} is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path} must hold a mapping with {holds}.")
    return data


def short_hash(payload: Any) -> str:
    """16 hex digits of the SHA-256 of ``payload`` as canonical JSON (sorted keys)."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]
