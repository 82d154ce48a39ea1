"""Settings for Celery workers that tests start as separate processes.

The embedded defaults, with the database, broker, cache, data directory and time limits the
test puts in the environment, and every kind of work made slow enough that a test can kill a
worker half-way through it: the fake voice speaks slowly, the Markdown extractor waits before
reading, and storage waits before writing an export or deleting an original
(core/tests/slow_backends.py).
"""

from core.settings.dev import *  # noqa: F403
from core.settings.dev import MEDIA_ROOT, MEDIA_URL, SPEECH_ENGINES, STORAGES

# Each sentence takes this long to speak, so a page of a few sentences takes seconds.
FAKE_SECONDS_PER_SENTENCE = 0.4
# Reading a Markdown document (in the extraction's child process).
SLOW_EXTRACTION_SECONDS = 3.0
# Storing an export's ZIP, or deleting a document's original (as an account's purge does).
SLOW_STORAGE_SECONDS = 3.0
SLOW_STORAGE_FOLDERS = ("exports", "originals")

SPEECH_ENGINES = {**SPEECH_ENGINES, "fake": {"delay_seconds": FAKE_SECONDS_PER_SENTENCE}}
SPEECH_DEFAULT_VOICE = "fake:alpha"
DOCUMENT_EXTRACTORS = {"markdown": "core.tests.slow_backends.SlowMarkdownExtractor"}
STORAGES = {
    **STORAGES,
    "default": {
        "BACKEND": "core.tests.slow_backends.SlowFileSystemStorage",
        "OPTIONS": {
            "location": str(MEDIA_ROOT),
            "base_url": MEDIA_URL,
            "delay_seconds": SLOW_STORAGE_SECONDS,
            "slow_folders": SLOW_STORAGE_FOLDERS,
        },
    },
}
