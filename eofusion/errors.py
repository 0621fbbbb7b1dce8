"""The exceptions and warnings eofusion raises.

Every error names what was found, what was expected, and the argument, config key or action that fixes it.
Catch :class:`EofusionError` to handle all of them.
"""

from __future__ import annotations


class EofusionError(Exception):
    """Root of every error eofusion raises on purpose."""


class EofusionWarning(UserWarning):
    """Root of every warning eofusion emits (tests turn these into errors)."""


class ConfigError(EofusionError, ValueError):
    """A configuration file or mapping is invalid; the message names the key to fix."""


class UnknownSensorError(EofusionError, KeyError):
    """A sensor name is not in the registry; the message lists the registered sensors."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownBandError(EofusionError, KeyError):
    """A band key does not match a band of the sensor; the message lists the sensor's bands."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class AmbiguousBandError(UnknownBandError):
    """A band key (usually a common name such as ``rededge``) matches several bands of a sensor."""


class SensorRegistrationError(EofusionError, ValueError):
    """A sensor could not be registered (name taken, bad band definition)."""


class GridError(EofusionError, ValueError):
    """A target grid cannot be built as asked (resolutions not nested, bad AOI, unknown tile id)."""


class CatalogError(EofusionError):
    """A STAC search or catalog operation failed; the message says which source and what to change."""


class ItemError(EofusionError, ValueError):
    """A STAC item lacks what eofusion needs (bands, projection, datetime); names the item and field."""


class CubeError(EofusionError):
    """A cube cannot be built, opened or appended to; names the store, group or variable."""


class CubeSchemaError(CubeError, ValueError):
    """A Zarr store does not have the eofusion cube schema; says what is missing or wrong."""


class InputDataError(EofusionError, OSError):
    """An input file is missing, corrupt or not georeferenced; names the file."""


class OutputLocationError(EofusionError, OSError):
    """An output location cannot be written; raised before any work starts."""


class OutputLockedError(OutputLocationError):
    """Another process is writing the same output (a cube store, a job's outputs folder)."""


class CheckpointError(EofusionError, ValueError):
    """A model checkpoint is missing, incompatible or unsafe to load."""


class SkippedInputWarning(EofusionWarning):
    """An input (item, asset, band) was skipped with ``on_error="skip"``; says which and why."""


class InvalidQueryError(CatalogError, ValueError):
    """A search argument (bbox, datetime, geometry, CQL2 filter, collection) is malformed; says how to fix it."""


class TransientInputError(InputDataError, ConnectionError):
    """A remote read failed in a way another attempt may fix (HTTP 5xx/429, timeout, reset, truncated body).

    A ``ConnectionError`` too, so the job runner retries the tile with backoff after the block reader's own
    retries are spent.
    """


class MissingExtraError(EofusionError, ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""
