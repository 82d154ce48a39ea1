"""S3 storage with bounded waits.

botocore waits 60 s to connect and 60 s per read, and retries up to five times: an S3 endpoint
that drops packets would hold a request for minutes. This storage bounds the connection and
read time and the number of attempts (settings from the environment); everything else is
django-storages' S3Storage.
"""

from __future__ import annotations

from typing import Any

from botocore.config import Config
from storages.backends import s3


class S3Storage(s3.S3Storage):
    def get_default_settings(self) -> dict[str, Any]:
        return {
            **super().get_default_settings(),
            "connect_timeout": 5,
            "read_timeout": 60,
            "max_attempts": 3,
        }

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        base: Config = self.client_config  # type: ignore[has-type]
        self.client_config = base.merge(
            Config(
                connect_timeout=self.connect_timeout,
                read_timeout=self.read_timeout,
                retries={"max_attempts": self.max_attempts, "mode": "standard"},
            )
        )
