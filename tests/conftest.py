"""Shared test set-up: paths to ../shared data, and the CI rule for optional resources."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# Nothing in the test suite may wait on a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def require_or_skip(available: bool, reason: str) -> None:
    """Skip when a resource is missing on a developer's machine; fail in CI, where it must be there."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{reason} (required in CI)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, beside the repository (read-only)."""
    require_or_skip(SHARED_DATA.is_dir(), f"{SHARED_DATA} is not there")
    return SHARED_DATA
