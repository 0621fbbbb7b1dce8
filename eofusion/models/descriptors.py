"""Band descriptors: a fixed-length vector per band, computed from the band's physics, never its position.

Every band of every sensor in the registry (and every user-registered one) gets a descriptor, so the model
embeds bands it never saw in training (Landsat OLI) by where they sit in the spectrum, not by a name table.

Layout (``DESCRIPTOR_DIM`` = 96 float32 values):

==========  ============================================================================================
``0:4``     kind one-hot: optical reflectance, thermal (brightness temperature), SAR backscatter, elevation
``4:68``    spectral response mass on 64 log-spaced wavelength bins, 350-2600 nm (sums to 1 for optical
            bands; the measured SRF when the registry has one, else the Gaussian from centre and FWHM)
``68:70``   log-centre wavelength scaled so 350 nm -> 0 and 2600 nm -> 1 (thermal lands near 1.7);
            relative bandwidth FWHM / centre
``70:82``   Fourier features sin/cos(2 pi k u), k = 1..6, of that log-centre u: a smooth code that lets
            the model interpolate between wavelengths it has seen
``82:86``   SAR polarisation one-hot: VV, VH, HH, HV
``86``      SAR log10(frequency in GHz) (C band 5.405 GHz -> 0.73)
``87:91``   elevation layer: surface (dsm, dem), terrain (dtm), normalised height (ndsm), other height
``91:96``   reserved (zeros)
==========  ============================================================================================

Binning the response by mass (integrated over each bin) rather than sampling it at bin centres keeps
narrow bands (15 nm red-edge) visible on a grid whose bins are ~3 % of the wavelength wide.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import torch

from eofusion.errors import UnknownBandError, UnknownSensorError
from eofusion.sensors import Band, BandKind, Sensor, SpectralResponse, get_sensor, spectral_response

DESCRIPTOR_DIM = 96
SRF_BINS = 64
SRF_MIN_NM, SRF_MAX_NM = 350.0, 2600.0
FOURIER_FREQS = 6

_KIND_SLOT = {
    BandKind.REFLECTANCE: 0,
    BandKind.BRIGHTNESS_TEMPERATURE: 1,
    BandKind.BACKSCATTER: 2,
    BandKind.ELEVATION: 3,
}
_POLARISATIONS = ("VV", "VH", "HH", "HV")
_ELEVATION_SLOTS = {"dsm": 0, "dem": 0, "dtm": 1, "ndsm": 2}
_SRF_OFF, _CENTRE_OFF, _FOURIER_OFF, _POL_OFF, _FREQ_OFF, _ELEV_OFF = 4, 68, 70, 82, 86, 87
# Fine grid on which a response is integrated into the coarse bins.
_FINE = np.geomspace(SRF_MIN_NM, SRF_MAX_NM, SRF_BINS * 32 + 1)
_EDGES = np.geomspace(SRF_MIN_NM, SRF_MAX_NM, SRF_BINS + 1)


def log_centre(centre_nm: float) -> float:
    """Wavelength -> position on the descriptor's log axis (350 nm -> 0, 2600 nm -> 1)."""
    return math.log(centre_nm / SRF_MIN_NM) / math.log(SRF_MAX_NM / SRF_MIN_NM)


def srf_bins(response: SpectralResponse) -> npt.NDArray[np.float64]:
    """A response curve's mass on the descriptor's 64 log-spaced bins (zeros if outside 350-2600 nm)."""
    values = response.resample(_FINE)
    widths = np.diff(_FINE)
    mass = 0.5 * (values[1:] + values[:-1]) * widths  # trapezoid per fine interval
    bins = np.add.reduceat(mass, np.arange(0, len(mass), 32))[:SRF_BINS]
    total = bins.sum()
    return bins / total if total > 0 else np.zeros(SRF_BINS)


def _resolve_sensor(sensor: Sensor | str | None, band: Band) -> Sensor | None:
    """The sensor whose measured SRF applies to ``band``, if the registry knows it and it owns the band."""
    if sensor is None:
        return None
    if isinstance(sensor, str):
        try:
            sensor = get_sensor(sensor)
        except UnknownSensorError:
            return None  # an ad-hoc sensor name: fall back to the Gaussian from centre and FWHM
    try:
        return sensor if sensor.band(band.name) == band else None
    except UnknownBandError:
        return None


@lru_cache(maxsize=1024)
def _descriptor(band: Band, sensor_name: str | None) -> tuple[float, ...]:
    vec = np.zeros(DESCRIPTOR_DIM, dtype=np.float64)
    if band.kind not in _KIND_SLOT:
        raise UnknownBandError(
            f"Band {band.name!r} is a {band.kind.value} layer; the model takes reflectance, thermal, SAR "
            "and elevation bands only. Drop it from the model's input (use it as a mask or label instead)."
        )
    vec[_KIND_SLOT[band.kind]] = 1.0
    if band.is_spectral and band.centre_nm is not None and band.bandwidth_nm is not None:
        sensor = _resolve_sensor(sensor_name, band)
        response = spectral_response(sensor, band) if sensor is not None else None
        if response is None:
            response = SpectralResponse.gaussian(band.centre_nm, band.bandwidth_nm, max(band.bandwidth_nm / 50, 0.5))
        vec[_SRF_OFF : _SRF_OFF + SRF_BINS] = srf_bins(response)
        u = log_centre(band.centre_nm)
        vec[_CENTRE_OFF] = u
        vec[_CENTRE_OFF + 1] = band.bandwidth_nm / band.centre_nm
        k = np.arange(1, FOURIER_FREQS + 1)
        vec[_FOURIER_OFF : _FOURIER_OFF + 2 * FOURIER_FREQS] = np.concatenate(
            [np.sin(2 * np.pi * k * u), np.cos(2 * np.pi * k * u)]
        )
    if band.kind is BandKind.BACKSCATTER:
        pol = (band.polarisation or "").upper()
        if pol in _POLARISATIONS:
            vec[_POL_OFF + _POLARISATIONS.index(pol)] = 1.0
        vec[_FREQ_OFF] = math.log10(band.frequency_ghz or 1.0)
    if band.kind is BandKind.ELEVATION:
        vec[_ELEV_OFF + _ELEVATION_SLOTS.get(band.name.lower(), 3)] = 1.0
    return tuple(float(v) for v in vec)


def band_descriptor(band: Band, sensor: Sensor | str | None = None) -> npt.NDArray[np.float32]:
    """The descriptor of one band (see the module docstring for the layout).

    Args:
        band: The band, from the registry or user-defined.
        sensor: Its sensor (object or registry name) so a measured SRF is used where the registry has
            one; without it (or for an unknown sensor) the Gaussian from centre and FWHM is used.

    Raises:
        UnknownBandError: The band is a mask or class layer, which the model does not take as input.
    """
    name = sensor.name if isinstance(sensor, Sensor) else sensor
    return np.asarray(_descriptor(band, name), dtype=np.float32)


def band_descriptors(bands: Sequence[Band], sensor: Sensor | str | None = None) -> torch.Tensor:
    """Descriptors of several bands as a float32 tensor ``[C, DESCRIPTOR_DIM]``, in the order given."""
    name = sensor.name if isinstance(sensor, Sensor) else sensor
    return _stacked(tuple(bands), name).clone()


@lru_cache(maxsize=256)
def _stacked(bands: tuple[Band, ...], sensor_name: str | None) -> torch.Tensor:
    # Models ask for the same band sets at every forward pass: build each stack once.
    return torch.from_numpy(np.stack([band_descriptor(b, sensor_name) for b in bands]))
