"""Cube test fixtures. The factories live in cubefactory.py so test modules can import its helpers too;
under ``--import-mode=importlib`` that needs this directory on sys.path."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from cubefactory import s2_scene

__all__ = ["s2_scene"]
