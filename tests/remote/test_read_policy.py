"""What counts as a transient read failure, the GDAL settings for cloud reads, and re-signing of hrefs."""

from __future__ import annotations

import pytest

from eofusion.storage import cloud_read_options, is_transient_message
from eofusion.storage.signed_urls import is_planetary_computer_blob, resigned
from eofusion.storage.transient import is_denied_message


@pytest.mark.parametrize(
    "message",
    [
        "HTTP response code: 503",
        "HTTP error code: 502 - http://x/a.tif. Retrying again in 1.0 secs",
        "HTTP response code: 429",
        "Timeout was reached",
        "Connection reset by peer",
        "transfer closed with 1234 bytes remaining to read",
        "Empty reply from server",
    ],
)
def test_network_failures_are_transient(message: str) -> None:
    assert is_transient_message(message)
    assert not is_denied_message(message)


@pytest.mark.parametrize(
    "message",
    [
        "HTTP response code: 403",
        "HTTP response code: 404",
        "'x.tif' not recognized as being in a supported file format",
        "TIFFReadEncodedTile() failed",
    ],
)
def test_refusals_and_corrupt_files_are_not_transient(message: str) -> None:
    assert not is_transient_message(message)


def test_a_403_is_a_refusal() -> None:
    assert is_denied_message("HTTP response code: 403") and not is_denied_message("HTTP response code: 404")


def test_cloud_read_options_derive_gdal_s3_settings_and_leave_the_users_alone() -> None:
    options = cloud_read_options({"AWS_ENDPOINT_URL": "http://127.0.0.1:9000"})
    assert options["AWS_S3_ENDPOINT"] == "127.0.0.1:9000"
    assert options["AWS_HTTPS"] == "NO" and options["AWS_VIRTUAL_HOSTING"] == "FALSE"
    assert "GDAL_DISABLE_READDIR_ON_OPEN" not in options  # only while a remote file opens (local sidecars count)
    https = cloud_read_options({"AWS_ENDPOINT_URL": "https://s3.example.org"})
    assert https["AWS_S3_ENDPOINT"] == "s3.example.org" and "AWS_HTTPS" not in https
    users = cloud_read_options({"GDAL_HTTP_MAX_RETRY": "9", "AWS_S3_ENDPOINT": "mine:1"})
    assert "GDAL_HTTP_MAX_RETRY" not in users and "AWS_S3_ENDPOINT" not in users  # the user's own values win
    assert "AWS_S3_ENDPOINT" not in cloud_read_options({})  # plain AWS: GDAL's defaults


def test_only_planetary_computer_blobs_are_re_signed() -> None:
    signed = "https://sentinel2l2a01.blob.core.windows.net/sentinel2-l2/a/B04.tif?st=2024&se=2024&sig=x"
    assert is_planetary_computer_blob(signed)
    assert not is_planetary_computer_blob("https://earth-search.aws.element84.com/a/B04.tif")
    assert resigned("https://example.org/a.tif") is None
    try:
        import planetary_computer  # noqa: F401
    except ImportError:
        assert resigned(signed) is None  # without the extra: no new signature (and a warning naming the extra)
