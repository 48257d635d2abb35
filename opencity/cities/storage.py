"""Private file storage: files outside MEDIA_ROOT, read back only through views that check
who may see them (council decisions of membership applications, certificate PDFs)."""

from __future__ import annotations

import os

from django.core.files.storage import FileSystemStorage
from django.utils.deconstruct import deconstructible


@deconstructible
class PrivateStorage(FileSystemStorage):
    """Files outside MEDIA_ROOT, read back only through permission-checking views."""

    def __init__(self):
        super().__init__(base_url="/private-files-are-not-served/")

    @property
    def base_location(self):
        # Read at use, so that tests (and settings) can move the folder.
        from opencity.cities import conf

        return str(conf.PRIVATE_FILES_ROOT)

    @property
    def location(self):
        return os.path.abspath(self.base_location)


private_storage = PrivateStorage()
