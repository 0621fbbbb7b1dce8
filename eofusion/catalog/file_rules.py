"""What a user's raster file is: its sensor and band order, from the user's rules or a delivery's product name.

Evidence for one file, strongest first (nothing is guessed: a multi-band file whose band order none of these
gives is refused, with the fix in the message):

1. The user's rules, first match wins: ``--sensor '*_IRC_*=aerial-ign'``, ``--bands '*_IRC_*=nir,red,green'``,
   a rules YAML (``--rules``), then the rule without a pattern (``--sensor aerial-ign``, ``--bands ...``).
2. A product name real deliveries use: IGN orthophotos ``IRC`` (NIR, red, green) and ``RVB`` (red, green,
   blue), IGN elevation ``MNS`` (surface model) and ``MNT`` / ``RGEALTI`` (terrain model), NAIP quarter
   quads (red, green, blue, NIR).
3. The file's own band descriptions, or for a one-band file a band token in its name (``..._B04.tif``,
   ``T31TEJ_20240601T103631_B02_10m.tif``, ``..._VV.tif``), read by :mod:`eofusion.catalog.build`.

A rules YAML maps file-name globs to a sensor and/or a band order::

    "*_IRC_*": {sensor: aerial-ign, bands: [nir, red, green]}
    "*_MNS_*": {sensor: elevation, bands: [dsm]}
    "S2*": {sensor: sentinel-2b}
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from eofusion.errors import ConfigError, InputDataError

# One token of a file or folder name (between _ - . and spaces), matched case-insensitively.
_SEPARATORS = r"[_\-. /]"
# Tokens that give a pixel size, not a band: 10m, 0M50, 50CM, 20M.
_RESOLUTION_TOKEN = re.compile(r"^\d+(?:[.,]\d+)?C?M\d*$", re.IGNORECASE)


@dataclass(frozen=True)
class FileRule:
    """A user's statement about the files whose name matches ``pattern`` (None: every file)."""

    pattern: str | None = None
    sensor: str | None = None
    bands: tuple[str, ...] | None = None

    def matches(self, path: Path) -> bool:
        """Whether the glob matches the file name (or, with a ``/`` in it, the whole path)."""
        if self.pattern is None:
            return True
        target = path.as_posix() if "/" in self.pattern else path.name
        return fnmatchcase(target, self.pattern) or fnmatchcase(target.lower(), self.pattern.lower())


@dataclass(frozen=True)
class ProductName:
    """A delivery whose name tells its sensor and band order."""

    label: str
    token: re.Pattern[str]
    sensor: str
    bands: tuple[str, ...]
    truncate: bool = False  # the order's first bands describe a file with fewer (NAIP 3-band RGB years)


def _token(*words: str) -> re.Pattern[str]:
    alternatives = "|".join(words)
    return re.compile(rf"(?:^|{_SEPARATORS})(?:{alternatives})(?:$|{_SEPARATORS})", re.IGNORECASE)


PRODUCT_NAMES: tuple[ProductName, ...] = (
    ProductName("IGN orthophoto IRC (infrared colour)", _token("IRC"), "aerial-ign", ("nir", "red", "green")),
    ProductName("IGN orthophoto RVB (natural colour)", _token("RVB"), "aerial-ign", ("red", "green", "blue")),
    ProductName("IGN surface model (MNS)", _token("MNS"), "elevation", ("dsm",)),
    ProductName("IGN terrain model (MNT, RGE ALTI)", _token("MNT", "RGEALTI"), "elevation", ("dtm",)),
    ProductName("NAIP quarter quad", re.compile(r"NAIP|(?:^|/)m_\d{7}_", re.IGNORECASE), "naip",
                ("red", "green", "blue", "nir"), truncate=True),
)  # fmt: skip


@dataclass(frozen=True)
class FileIdentity:
    """What the rules and product names say about one file (None: they say nothing)."""

    sensor: str | None
    bands: tuple[str, ...] | None
    source: str  # "rule '*_IRC_*'", "product name: IGN orthophoto IRC", ...

    def band_order(self, path: Path, count: int) -> tuple[str, ...] | None:
        """The band names of a ``count``-band file, checked against the stated order's length."""
        if self.bands is None:
            return None
        if len(self.bands) == count:
            return self.bands
        raise InputDataError(
            f"{path} has {count} band(s) but the {self.source} gives {len(self.bands)} "
            f"({', '.join(self.bands)}); give the file's band order with --bands (e.g. --bands "
            f"'{path.name}={','.join(self.bands[:count]) or 'b1'}') or a rule that matches it."
        )


@dataclass(frozen=True)
class FileRules:
    """The user's rules, in order, plus the product names eofusion knows."""

    rules: tuple[FileRule, ...] = ()

    def identify(self, path: Path, count: int) -> FileIdentity:
        """Sensor and band order of a file with ``count`` bands (each from the first source that gives it)."""
        sensor, bands, sources = None, None, []
        for rule in self.rules:
            if not rule.matches(path):
                continue
            label = f"rule '{rule.pattern}'" if rule.pattern else "--sensor/--bands"
            if sensor is None and rule.sensor:
                sensor = rule.sensor
                sources.append(label)
            if bands is None and rule.bands:
                bands = rule.bands
                sources.append(label)
        product = product_of(path)
        if product is not None:
            if sensor is None:
                sensor = product.sensor
            if bands is None and (sensor == product.sensor):
                bands = product.bands[:count] if product.truncate and count < len(product.bands) else product.bands
                sources.append(f"product name ({product.label})")
        return FileIdentity(sensor, bands, " and ".join(dict.fromkeys(sources)) or "file name")


def product_of(path: Path) -> ProductName | None:
    """The known delivery a file's name (or its folder's) belongs to, if any."""
    text = f"{path.parent.name}/{path.stem}"
    for product in PRODUCT_NAMES:
        if product.token.search(text):
            return product
    return None


def band_tokens(path: Path) -> list[str]:
    """Candidate band names in a file name, last token first; pixel-size tokens (``10m``, ``0M50``) left out."""
    tokens = [t for t in re.split(r"[_\-. ]+", path.stem) if t and not _RESOLUTION_TOKEN.match(t)]
    return [*reversed(tokens), path.stem]


def parse_rule_options(sensors: Iterable[str], bands: Iterable[str]) -> tuple[FileRule, ...]:
    """``--sensor`` / ``--bands`` values (``NAME``, ``GLOB=NAME``; ``a,b,c``, ``GLOB=a,b,c``) -> rules.

    Rules with a pattern come first, in the order given; the pattern-free ones apply to every other file.
    """
    patterned: list[FileRule] = []
    default_sensor, default_bands = None, None
    for value in sensors:
        pattern, name = _split(value, "--sensor")
        if pattern is None:
            default_sensor = name
        else:
            patterned.append(FileRule(pattern, sensor=name))
    for value in bands:
        pattern, names = _split(value, "--bands")
        order = _band_list(names, "--bands")
        if pattern is None:
            default_bands = order
        else:
            patterned.append(FileRule(pattern, bands=order))
    default = [FileRule(None, default_sensor, default_bands)] if default_sensor or default_bands else []
    return (*patterned, *default)


def rules_from_mapping(data: Mapping[str, Any], source: str) -> tuple[FileRule, ...]:
    """A rules YAML's mapping (glob -> {sensor, bands}) -> rules, in the file's order."""
    rules = []
    for pattern, spec in data.items():
        if not isinstance(spec, Mapping) or not set(spec) <= {"sensor", "bands"} or not spec:
            raise ConfigError(
                f"{source}: rule {pattern!r} must map to sensor and/or bands, e.g. "
                '"*_IRC_*": {sensor: aerial-ign, bands: [nir, red, green]}.'
            )
        bands = spec.get("bands")
        order = _band_list(bands if isinstance(bands, str) else ",".join(map(str, bands)), source) if bands else None
        rules.append(FileRule(str(pattern), sensor=spec.get("sensor"), bands=order))
    return tuple(rules)


def _split(value: str, option: str) -> tuple[str | None, str]:
    pattern, sep, rest = value.rpartition("=")
    if not sep:
        return None, value.strip()
    if not pattern.strip() or not rest.strip():
        raise ConfigError(f"{option} {value!r}: write GLOB=VALUE (e.g. '*_IRC_*=aerial-ign') or just VALUE.")
    return pattern.strip(), rest.strip()


def _band_list(names: str, where: str) -> tuple[str, ...]:
    order = tuple(n.strip() for n in names.split(",") if n.strip())
    if not order:
        raise ConfigError(f"{where}: give the band order as comma-separated names, e.g. nir,red,green.")
    return order


def describe_products(products: Sequence[ProductName] = PRODUCT_NAMES) -> str:
    """One line per known product name (for ``--help`` and error messages)."""
    return "; ".join(f"{p.label}: {p.sensor} {','.join(p.bands)}" for p in products)
