"""The upload handler: Django's temporary-file handler, minus the file it leaves when a write
fails (a full disk): the file is closed, which removes it, before the error goes on."""

from __future__ import annotations

import contextlib

from django.core.files.uploadhandler import TemporaryFileUploadHandler as DjangoHandler


class TemporaryFileUploadHandler(DjangoHandler):
    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        try:
            super().receive_data_chunk(raw_data, start)
        except BaseException:
            # A NamedTemporaryFile removes itself on close, even when the close fails too.
            with contextlib.suppress(OSError):
                self.file.close()
            raise
