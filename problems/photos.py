"""Photo checks and processing with Pillow.

`check_upload` runs in the request: it reads only the header and verifies the file's
structure (cheap), refusing non-images, unknown formats, files over the size limit and
decompression bombs. `make_public_versions` runs in a Celery task: it decodes the image,
applies the EXIF orientation and re-encodes it without any metadata (EXIF, GPS, XMP, ICC
comments), so nothing the camera recorded reaches the public.
"""

from __future__ import annotations

import io
import warnings

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from problems import conf


class UnreadableImage(Exception):
    """The stored original cannot be decoded (truncated or corrupt)."""


def _open_guarded(fp) -> Image.Image:
    """Image.open with the decompression-bomb guard turned into an error at our limit."""
    Image.MAX_IMAGE_PIXELS = conf.PHOTO_MAX_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return Image.open(fp)


def check_upload(upload: UploadedFile) -> tuple[int, int]:
    """Raise ValidationError (translated) unless `upload` is an acceptable photo.
    Returns (width, height)."""
    name = upload.name or ""
    if upload.size > conf.PHOTO_MAX_BYTES:
        raise ValidationError(
            _("“%(name)s” is larger than %(mb)d MB.")
            % {"name": name, "mb": conf.PHOTO_MAX_BYTES // (1024 * 1024)},
            code="too_big",
        )
    try:
        upload.seek(0)
        image = _open_guarded(upload)
        image_format = image.format
        width, height = image.size
        if width * height > conf.PHOTO_MAX_PIXELS:
            raise Image.DecompressionBombError("too many pixels")
        image.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValidationError(
            _("“%(name)s” has too many pixels to be a photo.") % {"name": name},
            code="bomb",
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValidationError(
            _("“%(name)s” is not a photo we can read (JPEG, PNG or WebP).") % {"name": name},
            code="not_image",
        ) from exc
    finally:
        upload.seek(0)
    if image_format not in conf.PHOTO_FORMATS:
        raise ValidationError(
            _("“%(name)s” is not a photo we can read (JPEG, PNG or WebP).") % {"name": name},
            code="format",
        )
    return width, height


def _encode(image: Image.Image, max_side: int) -> bytes:
    copy = image.copy()
    copy.thumbnail((max_side, max_side))
    out = io.BytesIO()
    # A fresh JPEG with no exif/icc/comment arguments carries no metadata at all.
    copy.save(out, format="JPEG", quality=85, optimize=True)
    return out.getvalue()


def make_public_versions(fp) -> tuple[bytes, bytes, int, int]:
    """(public JPEG, thumbnail JPEG, width, height) without any metadata."""
    try:
        image = _open_guarded(fp)
        image.load()
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise UnreadableImage(str(exc)) from exc
    image = ImageOps.exif_transpose(image)
    if image.mode not in ("RGB", "L"):
        background = Image.new("RGB", image.size, "white")
        rgba = image.convert("RGBA")
        background.paste(rgba, mask=rgba.getchannel("A"))
        image = background
    # Rebuild the pixels into a new image so no info dict (EXIF, XMP, text chunks) survives.
    clean = Image.new(image.mode, image.size)
    clean.paste(image)
    public = _encode(clean, conf.PUBLIC_IMAGE_MAX_SIDE)
    thumb = _encode(clean, conf.THUMBNAIL_SIDE)
    return public, thumb, clean.width, clean.height
