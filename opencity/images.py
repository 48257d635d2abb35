"""Photos residents upload (problem reports, public-budget projects), checked and published
with Pillow. Shared by the services; it imports none of them.

- `check_upload` runs in the request: it reads only the header and verifies the file's
  structure (cheap), refusing non-images, unknown formats, files over the size limit and
  decompression bombs (a few kilobytes that decode to gigabytes of pixels).
- The original is kept as uploaded in private storage (the model's `original` field).
- `process_photo`, run by a Celery task, decodes the original, applies the EXIF orientation
  and re-encodes a public image and a thumbnail as fresh JPEGs without any metadata (EXIF,
  GPS, XMP, ICC, comments), so nothing the camera recorded reaches the public. HEIC/HEIF
  photos (iPhones and many Android phones) are decoded by pillow-heif and published as JPEG
  like the others.

A photo model used with these functions has the fields `original` (private storage),
`image`, `thumbnail`, `width`, `height` and `processed_at` (null until processed).
"""

from __future__ import annotations

import io
import logging
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, ngettext_lazy
from PIL import Image, ImageOps, UnidentifiedImageError

try:  # libheif through a maintained wheel; without it HEIC is refused as an unknown format.
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - pillow-heif is a pinned dependency
    HEIF_SUPPORTED = False

logger = logging.getLogger(__name__)

# Pillow's names of the formats we accept ("HEIF" covers .heic and .heif files).
PHOTO_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP") + (("HEIF",) if HEIF_SUPPORTED else ())
# The file input's `accept`: phones offer their camera and gallery for these.
ACCEPT = "image/jpeg,image/png,image/webp" + (
    ",image/heic,image/heif,.heic,.heif" if HEIF_SUPPORTED else ""
)
# Phone cameras stay far below this; a "zip bomb" of pixels does not.
DEFAULT_MAX_PIXELS = 50_000_000


@dataclass(frozen=True)
class PhotoLimits:
    max_bytes: int
    max_pixels: int = DEFAULT_MAX_PIXELS
    formats: tuple[str, ...] = PHOTO_FORMATS
    public_side: int = 1600
    thumbnail_side: int = 320


def photos_help_text(max_photos: int, max_bytes: int):
    """The upload field's help, lazily translated."""
    return ngettext_lazy(
        "Up to %(n)d photo, JPEG, PNG, WebP or HEIC, at most %(mb)d MB. Camera data "
        "(including the GPS position) is removed before anything is published.",
        "Up to %(n)d photos, JPEG, PNG, WebP or HEIC, at most %(mb)d MB each. Camera data "
        "(including the GPS position) is removed before anything is published.",
        "n",
    ) % {"n": max_photos, "mb": max_bytes // (1024 * 1024)}


class UnreadableImage(Exception):
    """The stored original cannot be decoded (truncated or corrupt)."""


def _not_readable(name: str, code: str) -> ValidationError:
    return ValidationError(
        _("“%(name)s” is not a photo we can read (JPEG, PNG, WebP or HEIC).") % {"name": name},
        code=code,
    )


def _open_guarded(fp, max_pixels: int) -> Image.Image:
    """Image.open with the decompression-bomb guard turned into an error at our limit."""
    Image.MAX_IMAGE_PIXELS = max_pixels
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return Image.open(fp)


def check_upload(upload: UploadedFile, limits: PhotoLimits) -> tuple[int, int]:
    """Raise ValidationError (translated) unless `upload` is an acceptable photo.
    Returns (width, height). Leaves the file at its start."""
    name = upload.name or ""
    if upload.size > limits.max_bytes:
        raise ValidationError(
            _("“%(name)s” is larger than %(mb)d MB.")
            % {"name": name, "mb": limits.max_bytes // (1024 * 1024)},
            code="too_big",
        )
    try:
        upload.seek(0)
        image = _open_guarded(upload, limits.max_pixels)
        image_format = image.format
        width, height = image.size
        if width * height > limits.max_pixels:
            raise Image.DecompressionBombError("too many pixels")
        image.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValidationError(
            _("“%(name)s” has too many pixels to be a photo.") % {"name": name},
            code="bomb",
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, RuntimeError) as exc:
        raise _not_readable(name, "not_image") from exc
    finally:
        upload.seek(0)
    if image_format not in limits.formats:
        raise _not_readable(name, "format")
    return width, height


def _encode(image: Image.Image, max_side: int) -> bytes:
    copy = image.copy()
    copy.thumbnail((max_side, max_side))
    out = io.BytesIO()
    # A fresh JPEG with no exif/icc/comment arguments carries no metadata at all.
    copy.save(out, format="JPEG", quality=85, optimize=True)
    return out.getvalue()


def make_public_versions(fp, limits: PhotoLimits) -> tuple[bytes, bytes, int, int]:
    """(public JPEG, thumbnail JPEG, width, height) without any metadata, whatever the
    original's format (HEIC included)."""
    try:
        image = _open_guarded(fp, limits.max_pixels)
        image.load()
    except (
        OSError,
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        RuntimeError,
    ) as exc:
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
    public = _encode(clean, limits.public_side)
    thumb = _encode(clean, limits.thumbnail_side)
    return public, thumb, clean.width, clean.height


def store_original(photo: models.Model, upload: UploadedFile) -> None:
    """Put the upload, under a random name (the uploader's may carry personal data), into
    the photo's private `original` field. The caller saves the row."""
    upload.seek(0)
    photo.original.save(uuid.uuid4().hex, upload, save=False)


def process_photo(model: type[models.Model], photo_id: int, limits: PhotoLimits) -> bool:
    """Make the metadata-free public image and thumbnail of one photo. Idempotent: a photo
    already processed is left alone; concurrent runs keep one result (claimed with a
    conditional UPDATE; the loser deletes its files). True when this run published it."""
    photo = model.objects.filter(pk=photo_id, processed_at__isnull=True).first()
    if photo is None:
        return False
    with photo.original.open("rb") as fp:
        try:
            public, thumb, width, height = make_public_versions(fp, limits)
        except (UnreadableImage, SyntaxError, ValueError) as exc:
            # A file that passed the header check but cannot be decoded (truncated, corrupt)
            # is never shown; marking it processed stops the sweep from retrying it forever.
            logger.warning(
                "%s %s cannot be decoded: %s", model._meta.label, photo_id, type(exc).__name__
            )
            model.objects.filter(pk=photo_id, processed_at__isnull=True).update(
                processed_at=timezone.now()
            )
            return False
    name = uuid.uuid4().hex
    image = ContentFile(public, name=f"{name}.jpg")
    thumbnail = ContentFile(thumb, name=f"{name}.jpg")
    photo.image.save(image.name, image, save=False)
    photo.thumbnail.save(thumbnail.name, thumbnail, save=False)
    claimed = model.objects.filter(pk=photo_id, processed_at__isnull=True).update(
        image=photo.image.name,
        thumbnail=photo.thumbnail.name,
        width=width,
        height=height,
        processed_at=timezone.now(),
    )
    if not claimed:
        photo.image.storage.delete(photo.image.name)
        photo.thumbnail.storage.delete(photo.thumbnail.name)
    return bool(claimed)


def pending_photo_ids(
    model: type[models.Model], older_than: timedelta = timedelta(minutes=5), limit: int = 500
) -> list[int]:
    """Photos whose processing task a broker outage lost (for a periodic sweep)."""
    cutoff = timezone.now() - older_than
    return list(
        model.objects.filter(processed_at__isnull=True, created_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:limit]
    )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Several photos in one file input, each checked with `check_upload`. `limits` is a
    callable so a service's settings are read at validation time."""

    widget = MultipleFileInput

    def __init__(self, *, max_photos: int, limits: Callable[[], PhotoLimits], **kwargs):
        self.max_photos = max_photos
        self.limits = limits
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ACCEPT}))
        super().__init__(**kwargs)

    def clean(self, data, initial=None) -> list[UploadedFile]:
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        files = [f for f in files if f]
        if len(files) > self.max_photos:
            raise ValidationError(
                ngettext(
                    "Attach at most %(n)d photo.", "Attach at most %(n)d photos.", self.max_photos
                )
                % {"n": self.max_photos},
                code="too_many",
            )
        errors = []
        limits = self.limits()
        for upload in files:
            try:
                check_upload(upload, limits)
            except ValidationError as exc:
                errors.extend(exc.messages)
        if errors:
            raise ValidationError(errors)
        return files
