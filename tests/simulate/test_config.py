from __future__ import annotations

from datetime import date

import pytest

from eofusion.errors import ConfigError
from eofusion.simulate import WorldConfig


def test_defaults_snap_to_60m_and_pick_the_utm_zone() -> None:
    cfg = WorldConfig(size_m=1000)
    assert cfg.world_size_m == 1020
    assert cfg.world_crs == "EPSG:32631"
    assert WorldConfig(centre_lonlat=(7.5, 45.0)).world_crs == "EPSG:32632"


def test_round_trip_and_digest() -> None:
    cfg = WorldConfig(seed=3, aerial_resolution_m=0.2, aerial_size_m=300.0)
    again = WorldConfig.from_dict(cfg.to_dict())
    assert again == cfg
    assert again.digest() == cfg.digest()
    assert WorldConfig(seed=4).digest() != WorldConfig(seed=3).digest()


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"size_m": 10}, "size_m"),
        ({"s2_cloudy_dates": (date(2024, 1, 2),)}, "s2_cloudy_dates"),
        ({"aerial_resolution_m": 0}, "aerial_resolution_m"),
        ({"s1_looks": 0.5}, "s1_looks"),
        ({"s2_dates": (date(2023, 5, 1),), "s2_cloudy_dates": ()}, "s2_dates"),
    ],
)
def test_bad_values_name_the_key(kwargs: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        WorldConfig(**kwargs)


def test_unknown_keys_are_rejected() -> None:
    with pytest.raises(ConfigError, match="colour"):
        WorldConfig.from_dict({"seed": 1, "colour": "red"})
