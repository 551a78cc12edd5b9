"""Where export files live: LMS_EXPORTS_ROOT, never a served URL.

The location is read from settings on each use (not frozen at import), so
tests and deployments can point it elsewhere; the storage has no base URL,
so `file.url` raises instead of handing out a public link to an answer key.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage


class ExportStorage(FileSystemStorage):
    @property
    def base_location(self):
        return settings.LMS_EXPORTS_ROOT

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    @property
    def base_url(self):
        return None

    def url(self, name):
        raise ValueError("Export files have no public URL: download them through the job's view.")


def export_storage() -> ExportStorage:
    return ExportStorage()
