"""Problem-report settings: limits for filing and photos, map tiles, page sizes."""

from django.conf import settings

from opencity import images
from opencity.env import env_int

TITLE_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 5000
ADDRESS_MAX_LENGTH = 300
MAX_PHOTOS = 5
PHOTO_MAX_BYTES = env_int("PROBLEMS_PHOTO_MAX_MB", 10, min_value=1) * 1024 * 1024
# Pillow refuses images above this many pixels (a "zip bomb" of pixels decompresses to
# gigabytes); phone cameras stay far below it.
PHOTO_MAX_PIXELS = images.DEFAULT_MAX_PIXELS
# JPEG, PNG, WebP and HEIC/HEIF (opencity.images).
PHOTO_FORMATS = images.PHOTO_FORMATS
PUBLIC_IMAGE_MAX_SIDE = 1600
THUMBNAIL_SIDE = 320

DEFAULT_ANSWER_WORKING_DAYS = 10
# Reports of the same category within this distance are offered as duplicates while filing.
DUPLICATE_RADIUS_M = 100
# Four weeks after "done" the reporter is asked whether it is fixed.
FIXED_CHECK_DAYS = 28

REPORTS_PER_PAGE = 20
# The list page counts matching reports up to this number, then says "more than".
LIST_COUNT_CAP = 10_000
# The map is computed by tiles (a view covers 2 × 2 to 3 × 3): a tile with up to this many
# reports gives single points, a busier one a grid of MAP_TILE_CELLS × MAP_TILE_CELLS clusters.
MAP_MAX_POINTS = 400
MAP_TILE_CELLS = 16


def map_tile_url() -> str:
    return settings.MAP_TILE_URL
