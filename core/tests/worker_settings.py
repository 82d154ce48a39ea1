"""Settings for Celery workers that tests start as separate processes.

The embedded defaults, with the database, broker, data directory and time limits the test puts
in the environment, and the fake voices made slow enough that a test can kill a worker half-way
through a synthesis.
"""

from core.settings.dev import *  # noqa: F403
from core.settings.dev import SPEECH_ENGINES

# Each sentence takes this long to speak, so a page of a few sentences takes seconds.
FAKE_SECONDS_PER_SENTENCE = 0.4

SPEECH_ENGINES = {**SPEECH_ENGINES, "fake": {"delay_seconds": FAKE_SECONDS_PER_SENTENCE}}
SPEECH_DEFAULT_VOICE = "fake:alpha"
