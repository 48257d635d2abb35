"""Photos of public-budget projects: the shared pipeline of `opencity.images` (Pillow checks
with the decompression-bomb guard, EXIF and GPS stripped, HEIC published as JPEG, originals
in private storage) with this service's limits."""

from __future__ import annotations

from opencity import images

MAX_PHOTOS = 5
PHOTO_MAX_BYTES = 10 * 1024 * 1024


def limits() -> images.PhotoLimits:
    return images.PhotoLimits(max_bytes=PHOTO_MAX_BYTES)
