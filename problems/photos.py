"""Problem-report photos: the shared pipeline of `opencity.images` with this service's
limits (`problems.conf`, read at each call so settings and tests can change them).

`check_upload` runs in the request; `make_public_versions` (through
`services.photo_process`) in a Celery task. See opencity/images.py for what each step
guarantees: Pillow validation with the decompression-bomb guard, EXIF and GPS stripped
before anything is public, HEIC published as JPEG, originals in private storage.
"""

from __future__ import annotations

from django.core.files.uploadedfile import UploadedFile

from opencity import images
from opencity.images import UnreadableImage
from problems import conf

__all__ = ["UnreadableImage", "check_upload", "limits", "make_public_versions"]


def limits() -> images.PhotoLimits:
    return images.PhotoLimits(
        max_bytes=conf.PHOTO_MAX_BYTES,
        max_pixels=conf.PHOTO_MAX_PIXELS,
        formats=conf.PHOTO_FORMATS,
        public_side=conf.PUBLIC_IMAGE_MAX_SIDE,
        thumbnail_side=conf.THUMBNAIL_SIDE,
    )


def check_upload(upload: UploadedFile) -> tuple[int, int]:
    """Raise ValidationError (translated) unless `upload` is an acceptable photo.
    Returns (width, height)."""
    return images.check_upload(upload, limits())


def make_public_versions(fp) -> tuple[bytes, bytes, int, int]:
    """(public JPEG, thumbnail JPEG, width, height) without any metadata."""
    return images.make_public_versions(fp, limits())
