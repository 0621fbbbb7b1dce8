"""STAC search, item normalisation and catalogs: the only code that talks HTTP."""

from eofusion.catalog.items import BandAsset, NormalizedItem

__all__ = ["BandAsset", "NormalizedItem"]
