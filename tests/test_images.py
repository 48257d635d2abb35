"""The shared photo pipeline (opencity/images.py): what every service's uploads go through."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from PIL import Image

from opencity import images
from tests.photo_files import GPS_TAG, heic_bytes, image_bytes, upload

LIMITS = images.PhotoLimits(max_bytes=10 * 1024 * 1024, public_side=200, thumbnail_side=50)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_common_formats_are_accepted(fmt):
    assert images.check_upload(upload(f"p.{fmt.lower()}", image_bytes(fmt)), LIMITS) == (64, 48)


def test_a_real_heic_photo_is_accepted_and_published_as_jpeg_without_camera_data():
    data = heic_bytes((300, 200), gps=True)
    original = Image.open(io.BytesIO(data))
    assert original.format == "HEIF" and original.getexif().get(GPS_TAG), "the file has GPS"
    photo = upload("IMG_0001.HEIC", data, "image/heic")
    assert images.check_upload(photo, LIMITS) == (300, 200)
    assert photo.tell() == 0, "the upload is left at its start for storing"
    public, thumb, width, height = images.make_public_versions(io.BytesIO(data), LIMITS)
    assert (width, height) == (300, 200)
    for data_out, side in ((public, 200), (thumb, 50)):
        out = Image.open(io.BytesIO(data_out))
        assert out.format == "JPEG"
        assert max(out.size) == side
        assert not out.getexif() and "exif" not in out.info and "icc_profile" not in out.info
        assert b"PhoneMaker" not in data_out


def test_jpeg_gps_is_stripped_and_orientation_applied():
    image = Image.new("RGB", (80, 40), "red")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° when shown
    exif[GPS_TAG] = {1: "N", 2: (50.0, 44.0, 50.0)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    public, _thumb, width, height = images.make_public_versions(io.BytesIO(out.getvalue()), LIMITS)
    assert (width, height) == (40, 80)
    assert not Image.open(io.BytesIO(public)).getexif()


def test_a_heic_pixel_bomb_is_refused_by_the_guard():
    data = heic_bytes((400, 300))
    small = images.PhotoLimits(max_bytes=LIMITS.max_bytes, max_pixels=100_000)
    with pytest.raises(ValidationError) as refused:
        images.check_upload(upload("bomb.heic", data, "image/heic"), small)
    assert refused.value.code == "bomb"
    with pytest.raises(images.UnreadableImage):
        images.make_public_versions(io.BytesIO(data), small)


def test_a_png_pixel_bomb_is_refused():
    bomb = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(bomb, format="PNG")
    with pytest.raises(ValidationError) as refused:
        images.check_upload(upload("bomb.png", bomb.getvalue(), "image/png"), LIMITS)
    assert refused.value.code == "bomb"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"%PDF-1.4 not a photo", "not_image"),
        (heic_bytes()[:200], "not_image"),  # a HEIC header cut short
        (image_bytes("GIF"), "format"),  # a real image in a format we do not publish
    ],
)
def test_files_that_are_not_acceptable_photos_are_refused(data, code):
    with pytest.raises(ValidationError) as refused:
        images.check_upload(upload("x.jpg", data), LIMITS)
    assert refused.value.code == code


def test_a_file_over_the_size_limit_is_refused_before_decoding():
    tiny = images.PhotoLimits(max_bytes=100)
    with pytest.raises(ValidationError) as refused:
        images.check_upload(upload("big.heic", heic_bytes(), "image/heic"), tiny)
    assert refused.value.code == "too_big"


def test_the_photos_field_limits_the_number_and_checks_each(settings):
    field = images.PhotosField(max_photos=2, limits=lambda: LIMITS)
    good = [upload("a.heic", heic_bytes(), "image/heic"), upload("b.jpg", image_bytes())]
    assert field.clean(good) == good
    with pytest.raises(ValidationError) as refused:
        field.clean([*good, upload("c.jpg", image_bytes())])
    assert refused.value.code == "too_many"
    with pytest.raises(ValidationError):
        field.clean([upload("d.jpg", b"not an image")])
    assert "image/heic" in field.widget.attrs["accept"]


def test_the_core_does_not_import_a_service():
    import ast
    from pathlib import Path

    tree = ast.parse(Path(images.__file__).read_text())
    imported = {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    } | {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert not imported & {"problems", "initiatives", "petitions", "academy", "members"}
