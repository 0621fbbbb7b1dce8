"""Standardisation of surface reflectance by wavelength, shared by every calibrated optical sensor.

Decision: a reflectance band is standardised from WHERE it sits in the spectrum, not from which sensor it
belongs to. Land-surface reflectance statistics are a property of the wavelength (vegetation is dark in the
red and bright in the near infrared whatever the satellite), so Sentinel-2's B04 and Landsat's B4 (both
red) must enter the model on the same scale: with per-sensor constants, the same ground reached a
spectrum-aware model 0.4-0.5 sigma apart and a sensor it never saw (Landsat in place of Sentinel-2) lost
90 % of its accuracy. The statistics are typical mid-latitude land-surface L2A reflectances (means and
standard deviations over land, clouds excluded), at Sentinel-2's band centres; between them they are
interpolated linearly, and beyond them held at the end values. Uncalibrated cameras (8-bit aerial DN
scaled to 0..1) are not reflectance in this sense and keep their own constants.
"""

from __future__ import annotations

import numpy as np

# centre (nm): (mean, std) of surface reflectance. The dip at 1374 nm is the water-vapour absorption band
# (Sentinel-2 B10, cirrus): the ground is barely seen there.
_SURFACE_REFLECTANCE: dict[float, tuple[float, float]] = {
    443.0: (0.13, 0.09), 492.0: (0.12, 0.09), 560.0: (0.11, 0.08), 665.0: (0.11, 0.09), 704.0: (0.14, 0.09),
    740.0: (0.21, 0.09), 783.0: (0.24, 0.10), 833.0: (0.25, 0.10), 865.0: (0.26, 0.10), 945.0: (0.26, 0.10),
    1374.0: (0.02, 0.02), 1612.0: (0.20, 0.10), 2194.0: (0.14, 0.09),
}  # fmt: skip
_CENTRES = np.array(list(_SURFACE_REFLECTANCE))
_MEANS = np.array([m for m, _ in _SURFACE_REFLECTANCE.values()])
_STDS = np.array([s for _, s in _SURFACE_REFLECTANCE.values()])


def reflectance_norm(centre_nm: float) -> tuple[float, float]:
    """``(mean, std)`` that standardise surface reflectance at ``centre_nm`` (see the module docstring)."""
    mean = float(np.interp(centre_nm, _CENTRES, _MEANS))
    std = float(np.interp(centre_nm, _CENTRES, _STDS))
    return round(mean, 4), round(std, 4)
