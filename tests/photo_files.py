"""Real image files for photo tests: JPEG/PNG/WebP with Pillow, HEIC with pillow-heif's
encoder (libheif), each optionally carrying camera EXIF with a GPS position."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from opencity import images  # registers the HEIF opener and encoder

GPS_TAG = 0x8825


def camera_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[GPS_TAG] = {1: "N", 2: (50.0, 44.0, 50.0), 3: "E", 4: (25.0, 19.0, 31.0)}
    return exif.tobytes()


def image_bytes(fmt: str = "JPEG", size=(64, 48), *, gps: bool = False) -> bytes:
    image = Image.new("RGB", size, (30, 120, 200))
    out = io.BytesIO()
    kwargs = {"exif": camera_exif()} if gps else {}
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


def heic_bytes(size=(64, 48), *, gps: bool = False) -> bytes:
    assert images.HEIF_SUPPORTED
    data = image_bytes("HEIF", size, gps=gps)
    # A real HEIC file: an ISO-BMFF "ftyp" box with a HEVC brand.
    assert data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1")
    return data


def upload(name: str, data: bytes, content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


@pytest.fixture
def media_dirs(settings, tmp_path):
    """Uploaded photos go to a temporary folder per test (public and private)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    from opencity.cities import conf

    original = conf.PRIVATE_FILES_ROOT
    conf.PRIVATE_FILES_ROOT = tmp_path / "private"
    yield tmp_path
    conf.PRIVATE_FILES_ROOT = original
