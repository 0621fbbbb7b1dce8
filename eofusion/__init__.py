"""eofusion: multi-sensor Earth-observation fusion."""

__version__ = "0.1.0"
